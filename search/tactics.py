"""Candidate hygiene shared by every strategy: normalisation, model-text checks and forbidden words."""

from __future__ import annotations

import math
import re
import textwrap
from collections import OrderedDict
from collections.abc import Iterable

# Words that make a proof count without proving anything, in Lean and Isabelle alike.
GIVE_UP_WORDS: tuple[str, ...] = ("sorry", "admit", "oops")

DEFAULT_MAX_TACTIC_CHARS = 4096
"""Longest tactic sent to a prover: real tactics (even `nlinarith` with many hints) are far shorter."""
DEFAULT_MAX_PROOF_CHARS = 65536
"""Longest whole proof sent to a prover (whole-proof strategy)."""

SHOWN_CHARS = 200  # how much of a refused text a record or graph keeps


def normalize_tactic(tactic: str) -> str:
    """The form two candidates are compared in: common indentation, trailing spaces and blank edges dropped."""
    if "\n" not in tactic:
        return tactic.strip()  # the common case, without dedent's regular expressions
    lines = [line.rstrip() for line in textwrap.dedent(tactic).splitlines()]
    return "\n".join(lines).strip("\n").strip()


def text_problem(text: object, max_chars: int) -> str | None:
    """Why model-written text must not reach a prover (not a string, too long, not valid Unicode), or None."""
    if not isinstance(text, str):
        return f"not text: the generator returned a {type(text).__name__}"
    if len(text) > max_chars:
        return f"{len(text)} characters, over the limit of {max_chars} (--max-tactic-chars)"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:  # a lone surrogate, as JSON "\ud800" decodes to
        return f"not valid Unicode: {error.reason} at character {error.start}"
    return None


def score_problem(logprob: object, num_tokens: object) -> str | None:
    """Why a candidate's score cannot rank it (NaN, infinite, not a number), or None."""
    if isinstance(logprob, bool) or not isinstance(logprob, int | float) or not math.isfinite(logprob):
        return f"log-probability {logprob!r} is not a finite number"
    if isinstance(num_tokens, bool) or not isinstance(num_tokens, int) or num_tokens < 0:
        return f"token count {num_tokens!r} is not a count"
    return None


def printable(text: object, limit: int = SHOWN_CHARS) -> str:
    """Model text as a record may keep it: valid Unicode (lone surrogates escaped), at most ``limit`` characters."""
    value = text if isinstance(text, str) else repr(text)
    value = value.encode("utf-8", "backslashreplace").decode("utf-8")
    return value if len(value) <= limit else value[:limit] + f"… ({len(value)} characters)"


class ForbiddenWords:
    """Rejects candidates that contain any of a set of words (as whole identifiers).

    Models repeat tactics, so results are memoised; the memo is bounded by the characters it
    holds (least recently used out first), and a text longer than ``max_entry_chars`` is never kept.
    """

    def __init__(self, words: Iterable[str], *, memo_chars: int = 1 << 20, max_entry_chars: int = 4096) -> None:
        self.words = tuple(dict.fromkeys(words))
        alternatives = "|".join(re.escape(w) for w in sorted(self.words, key=len, reverse=True))
        # Identifier characters of Lean and Isabelle: a word inside `Nat.sorry_free` is no match.
        self._pattern = re.compile(rf"(?<![\w.'])(?:{alternatives})(?![\w'])") if self.words else None
        self._memo_chars = memo_chars
        self._max_entry_chars = max_entry_chars
        self._seen: OrderedDict[str, str | None] = OrderedDict()
        self._held = 0  # characters of the memo's keys

    def reason(self, tactic: str) -> str | None:
        """The forbidden word the tactic uses, or None when it is allowed."""
        if self._pattern is None:
            return None
        if tactic in self._seen:
            self._seen.move_to_end(tactic)
            return self._seen[tactic]
        match = self._pattern.search(tactic)
        found = None if match is None else match.group(0)
        if len(tactic) <= self._max_entry_chars:
            self._seen[tactic] = found
            self._held += len(tactic)
            while self._held > self._memo_chars:
                oldest, _ = self._seen.popitem(last=False)
                self._held -= len(oldest)
        return found
