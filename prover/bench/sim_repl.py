"""A simulated Lean REPL for `prover bench`: the REPL's wire format with a configurable import cost.

Usage: python -m prover.bench.sim_repl --import-delay SECONDS

A command without ``env`` (a header) sleeps the import cost; a command with ``env``
answers one sorry with a proof state; a tactic answers one goal. Benchmarking only.
"""

from __future__ import annotations

import argparse
import json
import sys
import time


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--import-delay", type=float, default=0.5)
    args = parser.parse_args()
    envs = states = 0
    buffer: list[str] = []
    for line in sys.stdin:
        if line.strip():
            buffer.append(line)
            continue
        if not buffer:
            continue
        request = json.loads("".join(buffer))
        buffer = []
        if "cmd" in request and "env" not in request:
            time.sleep(args.import_delay)
            reply: dict = {"env": envs}
            envs += 1
        elif "cmd" in request:
            reply = {"sorries": [{"proofState": states, "goal": "⊢ True"}], "env": envs}
            envs += 1
            states += 1
        else:
            reply = {"proofState": states, "goals": ["⊢ True"], "proofStatus": "Incomplete: open goals remain"}
            states += 1
        sys.stdout.write(json.dumps(reply, indent=1) + "\n\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
