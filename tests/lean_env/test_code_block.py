"""A chat model's whole code block: the header it repeats, the theorem it restates, and Lean's positions in it."""

from __future__ import annotations

import pytest

from lean_env.protocol import CommandReply, ErrorReply
from lean_env.repl_env import LeanReplEnv
from lean_env.verify import CheckPlan, diagnostics, plan_check
from search import Theorem, Verdict
from tests.lean_env.conftest import HEADER, T1
from tests.lean_env.test_verifier import pool_with

THEOREM = Theorem("t1", T1 + "\n", header=HEADER)

# The block as a chat model writes it: the header again, a doc comment, the theorem, the tactics.
BLOCK = f"{HEADER}/-- Show that x + x = 4.\n  (it is) -/\n{T1}\n  subst h\n  bad\n  rfl"
BLOCK_LINES = BLOCK.split("\n")
BAD_LINE = BLOCK_LINES.index("  bad") + 1  # 1-based, as Lean counts


def plan(proof: str, theorem: Theorem = THEOREM) -> CheckPlan:
    made = plan_check(theorem, proof)
    assert isinstance(made, CheckPlan), made
    return made


def message(line: int, column: int, end_line: int, end_column: int, data: str = "boom") -> dict:
    return {
        "severity": "error",
        "pos": {"line": line, "column": column},
        "endPos": {"line": end_line, "column": end_column},
        "data": data,
    }


def test_header_lines_the_benchmark_has_and_comments_are_dropped_before_the_check():
    made = plan(BLOCK)
    assert made.body == "  subst h\n  bad\n  rfl"
    assert made.text == f"{T1}\n  subst h\n  bad\n  rfl\n"
    # Tokens, not text, are compared: spacing and a trailing comment do not matter.
    assert plan("import   Mathlib -- everything\n" + BLOCK).body == made.body


@pytest.mark.parametrize(
    "first_line",
    ["import Mathlib.Tactic", "open Real", "set_option maxHeartbeats 0", "set_option pp.all true"],
)
def test_a_header_line_the_benchmark_lacks_refuses_the_proof_before_lean(first_line):
    verdict = plan_check(THEOREM, f"{first_line}\n{BLOCK}")
    assert isinstance(verdict, Verdict) and not verdict.ok
    assert verdict.level == "screen" and "benchmark's header" in verdict.message and first_line in verdict.message


def test_a_restated_theorem_must_still_be_the_benchmarks():
    changed = BLOCK.replace("x + x = 4 := by", "x + x = x + x := by")
    verdict = plan_check(THEOREM, changed)
    assert isinstance(verdict, Verdict) and not verdict.ok and "restates the theorem differently" in verdict.message


def test_open_in_before_the_tactics_is_left_to_the_screen():
    assert plan("open Nat in\nomega").body == "  open Nat in\n  omega"
    assert plan("set_option maxRecDepth 100 in\nomega").body == "  set_option maxRecDepth 100 in\n  omega"
    refused = plan_check(THEOREM, "set_option debug.skipKernelTC true in\nomega")
    assert isinstance(refused, Verdict) and "command keyword" in refused.message


def test_an_unclosed_comment_before_the_theorem_refuses_the_proof():
    verdict = plan_check(THEOREM, f"{HEADER}/- never closed\n{T1}\n  omega")
    assert isinstance(verdict, Verdict) and "never closes" in verdict.message


def test_lean_positions_map_into_the_block_the_model_wrote():
    made = plan(BLOCK)
    # Check text: line 1 the statement, then `  subst h`, `  bad`, `  rfl`.
    reply = CommandReply(
        env=1,
        messages=[message(3, 2, 3, 5, "tactic failed"), message(1, 48, 4, 5, "unsolved goals"), message(9, 0, 9, 1)],
    )
    bad, unsolved, outside = diagnostics(made, reply)
    assert (bad.line, bad.column, bad.end_line, bad.end_column) == (BAD_LINE, 2, BAD_LINE, 5)
    assert BLOCK_LINES[bad.line - 1][bad.column : bad.end_column] == "bad"
    # A message on the statement points at the restated statement's `by` in the block.
    by_line = BLOCK_LINES.index(T1) + 1
    assert (unsolved.line, unsolved.column) == (by_line, T1.rindex("by"))
    assert (unsolved.end_line, unsolved.end_column) == (BAD_LINE + 1, 5)
    assert outside.line is None and str(outside) == "error boom"


def test_positions_keep_the_models_columns_without_a_restated_theorem():
    proof = "\n\n    /- first -/\n    subst h\n    bad"
    made = plan(proof)
    assert made.body == "  subst h\n  bad"
    (first, second) = diagnostics(made, CommandReply(env=1, messages=[message(2, 2, 2, 9), message(3, 2, 3, 5)]))
    lines = proof.split("\n")
    assert lines[first.line - 1][first.column : first.end_column] == "subst h"
    assert lines[second.line - 1][second.column : second.end_column] == "bad"
    # Code after a comment on its line keeps its column, as Lean reads it (the comment is space).
    after = "  /- c -/ subst h"
    (only,) = diagnostics(plan(after), CommandReply(env=1, messages=[message(2, 2, 2, 9)]))
    assert after[only.column : only.end_column] == "subst h"


def test_tactics_after_by_on_the_statements_line_map_to_their_column():
    proof = f"{T1} subst h\n  rfl"
    made = plan(proof)
    (first,) = diagnostics(made, CommandReply(env=1, messages=[message(2, 2, 2, 9)]))
    assert (first.line, proof[first.column : first.end_column]) == (1, "subst h")


def test_a_reply_without_messages_of_positions_is_one_error_without_a_position():
    (only,) = diagnostics(plan(BLOCK), ErrorReply(message="Lean error:\nunknown tactic"))
    assert only.line is None and "unknown tactic" in only.text


async def test_the_verifier_reports_lean_errors_at_the_models_lines(tmp_path):
    pool = pool_with(tmp_path, {})
    try:
        verdict = await LeanReplEnv(pool).verify(THEOREM, BLOCK)
    finally:
        await pool.close()
    assert not verdict.ok and verdict.level == "repl"
    errors = [d for d in verdict.diagnostics if d.severity == "error"]
    assert errors and errors[0].line == BAD_LINE
    assert BLOCK_LINES[BAD_LINE - 1][errors[0].column : errors[0].end_column] == "bad"
    # The record's plain messages stay as they were: positions in the check text.
    assert any(m.startswith("error 3:2:") for m in verdict.messages)
