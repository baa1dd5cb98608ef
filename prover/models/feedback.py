"""Error feedback as the whole-proof models were trained to read it: a failed proof's Lean errors.

Positions are lines and columns of the code the model wrote (its last ```lean4 block), as the
verifier maps them (`search.Diagnostic`); code snippets quote that code. When the check failed
without an error message of Lean's (an axiom the audit refused, a ``sorry``), the verdict's reason
stands in as one error without a position.
"""

from __future__ import annotations

from search import Diagnostic, Repair

GOEDEL_MAX_ERRORS = 8
GOEDEL_CONTEXT_BEFORE = 4
GOEDEL_SPAN_LINES = 6
KIMINA_MAX_ERRORS = 3


def errors(repair: Repair) -> list[Diagnostic]:
    """The errors to report: Lean's, or the verdict's reason when Lean printed none."""
    found = [d for d in repair.diagnostics if d.severity == "error"]
    return found or [Diagnostic("error", repair.message or "the proof was not accepted")]


def _span(lines: list[str], error: Diagnostic) -> tuple[int, int, int, int] | None:
    """(start line, start column, end line, end column), 0-based lines, clamped into the code."""
    if error.line is None or not 1 <= error.line <= len(lines):
        return None
    start = error.line - 1
    column = min(error.column, len(lines[start]))
    if error.end_line is None or not error.line <= error.end_line <= len(lines):
        return start, column, start, len(lines[start])
    end = error.end_line - 1
    end_column = min(error.end_column, len(lines[end]))
    if end == start:
        end_column = max(end_column, column)
    return start, column, end, end_column


def _marked(lines: list[str], span: tuple[int, int, int, int]) -> str:
    """Goedel-Prover-V2's snippet: four lines before, the error between <error></error>, one line after."""
    start, column, end, end_column = span
    out = [lines[k] for k in range(max(0, start - GOEDEL_CONTEXT_BEFORE), start)]
    if start == end:
        line = lines[start]
        out.append(f"{line[:column]}<error>{line[column:end_column]}</error>{line[end_column:]}")
    else:
        out.append(f"{lines[start][:column]}<error>{lines[start][column:]}")
        shown = range(start + 1, min(end, start + GOEDEL_SPAN_LINES))
        out.extend(lines[k] for k in shown)
        if end > start + GOEDEL_SPAN_LINES:
            last = lines[shown[-1]] if shown else lines[start]
            out.append("\n" + " " * (len(last) - len(last.lstrip(" "))) + "... --[Truncated]-- ...")
        out.append(f"{lines[end][:end_column]}</error>{lines[end][end_column:]}")
    if end + 1 < len(lines):
        out.append(lines[end + 1])
    return "".join(f"{line}\n" for line in out)


def goedel_feedback(repair: Repair) -> str:
    """Goedel-Prover-V2's self-correction turn: the round that failed, then each error with its code."""
    lines = repair.proof.split("\n")
    found = errors(repair)
    parts = []
    for number, error in enumerate(found[:GOEDEL_MAX_ERRORS], 1):
        part = f"\nError {number}:\n"
        span = _span(lines, error)
        if span is not None:
            part += f"\nCorresponding Code:\n```lean4\n{_marked(lines, span)}\n```\n"
        parts.append(f"{part}\nError Message: {error.text}\n")
    if len(found) > GOEDEL_MAX_ERRORS:
        parts.append(f"\n... [Omitted {len(found) - GOEDEL_MAX_ERRORS} more errors] ...\n")
    return (
        f"The proof (Round {repair.round}) is not correct. Following is the compilation error message, "
        "where we use <error></error> to signal the position of the error.\n\n"
        f"{''.join(parts)}\n\nBefore producing the Lean 4 code to formally prove the given theorem, "
        "provide a detailed analysis of the error message."
    )


def kimina_feedback(repair: Repair) -> str:
    """Kimina-Prover's error-fixing turn: up to three errors, each with the numbered lines around it."""
    lines = repair.proof.split("\n")
    out = ""
    for number, error in enumerate(errors(repair)[:KIMINA_MAX_ERRORS], 1):
        out += f"# Error {number}:\nError message: \n{error.text.strip()}\n\n"
        span = _span(lines, error)
        if span is not None:
            at = span[0]
            shown = range(max(0, at - 2), min(len(lines), at + 3))
            numbered = "".join(f"{k + 1:03d}{' >' if k == at else '  '}| {lines[k]}\n" for k in shown)
            out += f"Lean 4 code snippet with error:\n```lean4\n{numbered}```\n"
    return out
