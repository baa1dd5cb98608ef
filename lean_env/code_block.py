"""A whole proof as a model writes it, and where Lean's positions on the check fall in it.

Chat models answer with a whole Lean file: the header again, a doc comment, the theorem restated,
then the tactics. ``skip_preamble`` passes over what may stand before the theorem: comments and
lines that repeat the benchmark header token for token (they change nothing: the check runs under
that header). Any other ``import``, ``open`` or ``set_option`` line there refuses the proof, never
sent to Lean: it would ask for another environment than the benchmark's.

``SourceMap`` takes a position in the check text (the benchmark statement, then the proof's tactics
dedented and indented by two) back to the line and column of the proof as the model wrote it, so
error feedback points into the model's own code.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

from lean_env.lexer import comment_end, tokenize
from search import Theorem

HEADER_WORDS = ("import", "open", "set_option")


class PreambleError(ValueError):
    """A whole proof asks, before its theorem, for something the benchmark header does not have."""


def _tokens(line: str) -> str:
    return " ".join(token.text for token in tokenize(line))


def skip_preamble(theorem: Theorem, proof: str) -> int:
    """Where the proof's own code starts: after whitespace, comments and repeated header lines."""
    header = {_tokens(line) for line in theorem.header.splitlines()} - {""}
    position = 0
    while position < len(proof):
        if proof[position].isspace():
            position += 1
        elif proof.startswith("--", position):
            end = proof.find("\n", position)
            position = len(proof) if end < 0 else end + 1
        elif proof.startswith("/-", position):
            end = comment_end(proof, position)
            if end is None:
                raise PreambleError("the proof opens a comment it never closes")
            position = end
        else:
            end = proof.find("\n", position)
            line = proof[position : len(proof) if end < 0 else end]
            words = _tokens(line)
            # `open X in tac` and `set_option o v in tac` scope what follows: code for the screen to judge.
            if line.split()[0] not in HEADER_WORDS or words.endswith(" in"):
                return position
            if words not in header:
                line_number = proof.count("\n", 0, position) + 1
                raise PreambleError(
                    f"line {line_number} of the proof, {line.strip()[:200]!r}, is not a line of the benchmark's "
                    "header: a proof runs under the benchmark's imports, opens and options only"
                )
            position = len(proof) if end < 0 else end + 1
    return position


def line_and_column(text: str, offset: int) -> tuple[int, int]:
    """The 1-based line and 0-based column of ``offset`` in ``text``."""
    line_start = text.rfind("\n", 0, offset) + 1
    return text.count("\n", 0, offset) + 1, offset - line_start


@dataclass(frozen=True, slots=True)
class SourceMap:
    """Check-text positions back to the proof as written.

    ``lines[j]`` is, for line j of the indented body, its line in the proof, the proof column of
    its first character after the body's indentation, and that indentation (2, or 0 for a blank line).
    """

    first_body_line: int
    """The check text's line (from 1) where the body starts: the statement's lines come before."""
    lines: tuple[tuple[int, int, int], ...]
    statement: tuple[int, int] | None
    """Where a position in the statement goes: the restated statement's final ``by``, or nowhere."""

    def position(self, line: int, column: int) -> tuple[int, int] | None:
        """The proof's (line, column) for a check-text (line, column); None outside the proof."""
        index = line - self.first_body_line
        if index < 0:
            return self.statement
        if index >= len(self.lines):
            return None
        source_line, source_column, indent = self.lines[index]
        return source_line, source_column + max(0, column - indent)


def source_map(proof: str, tactics_at: int, pad: bool, statement_lines: int, by_at: int | None) -> SourceMap:
    """The map of a check whose body is ``dedent(tactics).strip("\\n")`` indented by two.

    The tactics are ``proof[tactics_at:]``, preceded by ``tactics_at``'s column of spaces when
    ``pad`` (so they keep the columns they have in the proof).
    """
    first_line, first_column = line_and_column(proof, tactics_at)
    tactics = (" " * first_column if pad else "") + proof[tactics_at:]
    raw = tactics.split("\n")
    dedented = textwrap.dedent(tactics).split("\n")
    lead = next((k for k, line in enumerate(dedented) if line), len(dedented))
    trail = len(dedented)
    while trail > lead and not dedented[trail - 1]:
        trail -= 1
    lines = []
    for k in range(lead, trail):
        start = (0 if pad or k else first_column) + len(raw[k]) - len(dedented[k])
        lines.append((first_line + k, start, 2 if dedented[k].strip() else 0))
    statement = None if by_at is None else line_and_column(proof, by_at)
    return SourceMap(statement_lines + 1, tuple(lines), statement)
