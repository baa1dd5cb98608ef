"""Lean 4 environments: the REPL process pool, the LeanDojo adapter and the whole-proof verifier."""
