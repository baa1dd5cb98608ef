"""Which model-written tactics never reach Lean: the one list, used by every Lean backend."""

from __future__ import annotations

from search import Failed, GaveUp
from search.tactics import GIVE_UP_WORDS, ForbiddenWords

# Leave tactic mode, run arbitrary code, change the environment, or switch off checking.
FORBIDDEN_LEAN_WORDS: tuple[str, ...] = (
    "#eval",
    "#exit",
    "#print",
    "#check_failure",
    "run_cmd",
    "run_tac",
    "run_elab",
    "run_meta",
    "import",
    "set_option",  # maxHeartbeats, maxRecDepth, debug.skipKernelTC ... are all resource or trust switches
    "unsafe",
    "implemented_by",
    "extern",
    "axiom",
    "opaque",
    "macro",
    "macro_rules",
    "elab",
    "elab_rules",
    "syntax",
    "notation",
    "infix",
    "infixl",
    "infixr",
    "prefix",
    "postfix",
    "attribute",
    "declare_syntax_cat",
    "initialize",
    "builtin_initialize",
    "IO",
)

GIVE_UP = ForbiddenWords(GIVE_UP_WORDS)
FORBIDDEN = ForbiddenWords(FORBIDDEN_LEAN_WORDS)


def screen(tactic: str) -> tuple[str, str] | None:
    """``("gave_up" | "forbidden", word)`` when the tactic must not run, else None."""
    word = GIVE_UP.reason(tactic)
    if word is not None:
        return "gave_up", word
    word = FORBIDDEN.reason(tactic)
    if word is not None:
        return "forbidden", word
    return None


def screened_outcome(tactic: str) -> GaveUp | Failed | None:
    """The outcome of a tactic that must not run, without asking Lean; None when it may run."""
    screened = screen(tactic)
    if screened is None:
        return None
    kind, word = screened
    return GaveUp(f"uses {word}") if kind == "gave_up" else Failed(f"forbidden in a proof: {word}")
