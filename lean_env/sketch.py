"""Lean sketches as text: gaps found by the lexer, the rest screened, closed gaps put back in place.

A sketch is a proof whose hard steps are left open as ``have name : P := by sorry`` (or
``have name : P := sorry``, or ``:= by`` with the ``sorry`` alone on the next line). It is
model-written text like any proof, so it is read by the Lean lexer and screened like one
(``lean_env.screen``), except for exactly the ``sorry`` tokens that are gap markers: the value
of a ``have`` at bracket depth 0, and the last token of its line. Any other ``sorry`` is refused.

Each gap is known by the position of its ``sorry`` in the command sent to Lean (line, and
column in codepoints), which is how the REPL names the sorries it reports. A closed gap's
tactics replace its ``sorry``; the assembled proof then holds no ``sorry`` at all and goes
through the whole-proof verifier like any other proof.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from lean_env.code_block import PreambleError
from lean_env.lexer import Kind, Token, tokenize
from lean_env.screen import screen_allowing_sorries
from lean_env.verify import StatementChanged, checked_statement, proof_body
from search import Theorem, Verdict

OPENERS = frozenset("([{⟨⦃")
CLOSERS = frozenset(")]}⟩⦄")
# Tokens that cannot sit between a `have` and its `:=` at bracket depth 0: meeting one while
# walking back from a `:=` means the `:=` belongs to something else (a `calc` step, a field).
STOP_WORDS = frozenset({"by", "sorry", "from", "calc"})
STOP_SYMBOLS = frozenset({";", "·"})
GAP_WORD = "sorry"


@dataclass(frozen=True, slots=True)
class GapSite:
    """Where one gap's ``sorry`` sits in the sketch's proof body."""

    index: int
    name: str
    """The ``have``'s name (``this`` when it has none)."""
    offset: int
    """Where the ``sorry`` starts in the body (in characters)."""
    line: int
    """1-based line of the ``sorry`` in the body."""
    column: int
    """Column of the ``sorry`` in its line, in codepoints (as Lean counts it)."""
    term: bool
    """``:= sorry`` (a term) rather than ``:= by sorry`` (a tactic)."""
    alone: bool
    """The ``sorry`` is the first token of its line (``:= by`` ends the line above)."""
    have_column: int
    """Column of the ``have``: a gap's proof goes deeper than it."""

    def label(self) -> str:
        return f"gap {self.index + 1} ({self.name}, line {self.line})"


@dataclass(frozen=True, slots=True)
class SketchPlan:
    """A screened sketch: the command Lean elaborates and the gaps in it."""

    theorem: Theorem
    body: str
    """The proof, indented under the statement, as it is sent (and as it is recorded)."""
    command: str
    """The statement followed by the body: elaborated on the header's environment."""
    first_line: int
    """The line of ``command`` on which the body starts."""
    gaps: tuple[GapSite, ...]

    def position(self, gap: GapSite) -> tuple[int, int]:
        """The (line, column) of the gap's ``sorry`` in ``command``, as the REPL reports it."""
        return self.first_line + gap.line - 1, gap.column


def refused(message: str) -> Verdict:
    """A sketch refused before Lean saw it (the ``screen`` level)."""
    return Verdict(False, message, "screen", "screen")


def plan_sketch(theorem: Theorem, text: str) -> SketchPlan | Verdict:
    """The sketch as Lean will see it, or a refusing verdict naming what may not reach Lean."""
    try:
        # Lines of the benchmark header and a restated statement are dropped (lean_env.code_block);
        # any other header-like line refuses the sketch.
        body = proof_body(theorem, text)
    except (StatementChanged, PreambleError) as error:
        return refused(str(error))
    if not body.strip():
        return refused("the sketch is empty")
    tokens = tokenize(body)
    gaps = find_gaps(body, tokens)
    refusal = screen_allowing_sorries(body, frozenset(g.offset for g in gaps))
    if refusal is not None:
        if refusal.token == GAP_WORD:
            return refused(
                "refused before Lean: a `sorry` that is not a gap; only `have name : P := by sorry` "
                "(the `sorry` ending its line) may leave a step open"
            )
        return refused(f"refused before Lean: {refusal}")
    statement = checked_statement(theorem)
    return SketchPlan(theorem, body, f"{statement}\n{body}\n", statement.count("\n") + 2, tuple(gaps))


def find_gaps(body: str, tokens: Sequence[Token] | None = None) -> list[GapSite]:
    """Every ``sorry`` of ``body`` that is a gap marker, in text order."""
    tokens = tokenize(body) if tokens is None else tokens
    gaps: list[GapSite] = []
    for index, token in enumerate(tokens):
        if token.kind is not Kind.IDENT or token.text != GAP_WORD:
            continue
        before = index - 1
        term = not (before >= 0 and tokens[before].kind is Kind.IDENT and tokens[before].text == "by")
        if not term:
            before -= 1
        if before < 1 or not _assigns(tokens, before - 1) or not _ends_line(body, tokens, index):
            continue
        have = _have_before(body, tokens, before - 2)
        if have is None:
            continue
        line_start = body.rfind("\n", 0, token.start) + 1
        name_token = tokens[have + 1]
        gaps.append(
            GapSite(
                index=len(gaps),
                name=name_token.text if name_token.kind is Kind.IDENT else "this",
                offset=token.start,
                line=body.count("\n", 0, token.start) + 1,
                column=token.start - line_start,
                term=term,
                alone=not body[line_start : token.start].strip(),
                have_column=_column(body, tokens[have].start),
            )
        )
    return gaps


def _column(text: str, offset: int) -> int:
    return offset - (text.rfind("\n", 0, offset) + 1)


def _first_on_line(text: str, token: Token) -> bool:
    return not text[text.rfind("\n", 0, token.start) + 1 : token.start].strip()


def _assigns(tokens: Sequence[Token], at: int) -> bool:
    """``tokens[at]`` and the next one spell ``:=`` (the lexer reads symbols one character at a time)."""
    if at < 0 or at + 1 >= len(tokens):
        return False
    colon, equals = tokens[at], tokens[at + 1]
    return (
        colon.kind is Kind.SYMBOL
        and colon.text == ":"
        and equals.kind is Kind.SYMBOL
        and equals.text == "="
        and equals.start == colon.start + 1
    )


def _ends_line(text: str, tokens: Sequence[Token], index: int) -> bool:
    """Nothing but comments and spaces follows the token on its line."""
    if index + 1 == len(tokens):
        return True
    end = tokens[index].start + len(tokens[index].text)
    return "\n" in text[end : tokens[index + 1].start]


def _have_before(text: str, tokens: Sequence[Token], last: int) -> int | None:
    """The index of the ``have`` whose statement ends at ``tokens[last]``, or None.

    Walking back at bracket depth 0, the statement may not hold a ``:=``, a ``by`` or a tactic
    separator, and its continuation lines must sit deeper than the ``have`` (a line at the
    ``have``'s column or left of it is another tactic).
    """
    depth = 0
    for index in range(last, -1, -1):
        token = tokens[index]
        if token.kind is Kind.SYMBOL and token.text in CLOSERS:
            depth += 1
        elif token.kind is Kind.SYMBOL and token.text in OPENERS:
            depth -= 1
            if depth < 0:
                return None
        elif depth == 0 and token.kind is Kind.IDENT and token.text == "have":
            column = _column(text, token.start)
            between = tokens[index + 1 : last + 1]
            if not between or any(_first_on_line(text, t) and _column(text, t.start) <= column for t in between):
                return None
            return index
        elif depth == 0 and (
            (token.kind is Kind.IDENT and token.text in STOP_WORDS)
            or (token.kind is Kind.SYMBOL and token.text in STOP_SYMBOLS)
            or _assigns(tokens, index)
        ):
            return None
    return None


def assemble(plan: SketchPlan, proofs: Mapping[int, Sequence[str]]) -> str:
    """The sketch's body with each gap's ``sorry`` replaced by the tactics that closed it."""
    missing = [gap.label() for gap in plan.gaps if not proofs.get(gap.index)]
    if missing:
        raise ValueError(f"no proof for {', '.join(missing)}")
    pieces: list[str] = []
    last = 0
    for gap in plan.gaps:
        before = plan.body[last : gap.offset]
        inline_by = not gap.term and not gap.alone  # `:= by sorry`: the block starts on a new line after `by`
        pieces += [before.rstrip(" \t") if inline_by else before, _filled(gap, proofs[gap.index])]
        last = gap.offset + len(GAP_WORD)
    pieces.append(plan.body[last:])
    return "".join(pieces)


def _filled(gap: GapSite, tactics: Sequence[str]) -> str:
    """What replaces a gap's ``sorry``: its tactics as a block deeper than the ``have``."""
    block = "\n".join(textwrap.dedent(tactic).strip("\n") for tactic in tactics)
    if gap.alone and not gap.term:
        # `:= by` ends the line above: the block starts where the sorry stood, at its column.
        return textwrap.indent(block, " " * gap.column)[gap.column :]
    column = (gap.column if gap.alone else gap.have_column) + 2
    return ("by" if gap.term else "") + "\n" + textwrap.indent(block, " " * column)
