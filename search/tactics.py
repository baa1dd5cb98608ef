"""Candidate hygiene shared by every strategy: normalisation and forbidden words."""

from __future__ import annotations

import re
import textwrap
from collections.abc import Iterable

# Words that make a proof count without proving anything, in Lean and Isabelle alike.
GIVE_UP_WORDS: tuple[str, ...] = ("sorry", "admit", "oops")


def normalize_tactic(tactic: str) -> str:
    """The form two candidates are compared in: common indentation, trailing spaces and blank edges dropped."""
    if "\n" not in tactic:
        return tactic.strip()  # the common case, without dedent's regular expressions
    lines = [line.rstrip() for line in textwrap.dedent(tactic).splitlines()]
    return "\n".join(lines).strip("\n").strip()


class ForbiddenWords:
    """Rejects candidates that contain any of a set of words (as whole identifiers)."""

    def __init__(self, words: Iterable[str]) -> None:
        self.words = tuple(dict.fromkeys(words))
        alternatives = "|".join(re.escape(w) for w in sorted(self.words, key=len, reverse=True))
        # Identifier characters of Lean and Isabelle: a word inside `Nat.sorry_free` is no match.
        self._pattern = re.compile(rf"(?<![\w.'])(?:{alternatives})(?![\w'])") if self.words else None
        self._seen: dict[str, str | None] = {}  # models repeat tactics; a bounded memo saves the regex

    def reason(self, tactic: str) -> str | None:
        """The forbidden word the tactic uses, or None when it is allowed."""
        if self._pattern is None:
            return None
        if tactic in self._seen:
            return self._seen[tactic]
        match = self._pattern.search(tactic)
        found = None if match is None else match.group(0)
        if len(self._seen) >= 65536:
            self._seen.clear()
        self._seen[tactic] = found
        return found
