"""The verifier around its checks: crashes during a check, the statement's type, the levels."""

from __future__ import annotations

import json
import sys

import pytest

from lean_env.process import ReplSettings
from lean_env.protocol import CommandReply, decode
from lean_env.repl_env import LeanReplEnv, ReplPool
from lean_env.verifier import CheckUnavailable, ReplVerifier
from lean_env.verify import CheckPlan, audit_command, judge_audit, plan_check
from prover.models import PortfolioGenerator
from search import BestFirstSearch, SearchConfig, Status, Theorem
from tests.lean_env.conftest import FAKE_REPL, G1, HEADER, SCRIPT, T1

THEOREM = Theorem("t1", T1 + "\n", header=HEADER)


def pool_with(tmp_path, states: dict) -> ReplPool:
    script = json.loads(json.dumps(SCRIPT))
    for goal, steps in states.items():
        script["states"].setdefault(goal, {}).update(steps)
    path = tmp_path / "script.json"
    path.write_text(json.dumps(script))
    argv = (sys.executable, str(FAKE_REPL), "--script", str(path))
    return ReplPool(ReplSettings(command=argv, command_timeout=5), 1)


async def test_a_check_that_loses_its_process_once_is_run_again(tmp_path):
    once = tmp_path / "crashed-once"
    pool = pool_with(tmp_path, {G1: {"flaky": {"fault": "crash", "once": str(once), "then": []}}})
    env = LeanReplEnv(pool)
    try:
        verdict = await env.verify(THEOREM, ["flaky"])
    finally:
        await pool.close()
    assert once.exists()  # the first check did crash
    assert verdict.ok, verdict


async def test_a_found_proof_whose_check_keeps_crashing_ends_as_error_not_rejected(tmp_path):
    pool = pool_with(tmp_path, {G1: {"fragile": []}})
    script = json.loads((tmp_path / "script.json").read_text())
    script["check_faults"] = {"fragile": {"fault": "crash"}}  # the step proves; every whole check crashes
    (tmp_path / "script.json").write_text(json.dumps(script))
    env = LeanReplEnv(pool)
    try:
        with pytest.raises(CheckUnavailable, match="could not run"):
            await ReplVerifier(pool.pick).verify(THEOREM, ["fragile"])
        result = await BestFirstSearch(env, PortfolioGenerator(["fragile"]), SearchConfig(timeout=30)).search(THEOREM)
    finally:
        await pool.close()
    assert result.status is Status.ERROR, result
    assert "could not run" in result.reason and "rejected" not in result.reason


def test_the_audit_reads_only_the_exact_name_and_its_own_lines():
    plan = plan_check(THEOREM, ["subst h", "rfl"])
    assert isinstance(plan, CheckPlan) and plan.audit == audit_command("t1")

    def audit(*messages: tuple[int, str]) -> CommandReply:
        body = [
            {
                "severity": "info",
                "pos": {"line": line, "column": 0},
                "endPos": {"line": line, "column": 1},
                "data": text,
            }
            for line, text in messages
        ]
        reply = decode(json.dumps({"messages": body, "env": 7}))
        assert isinstance(reply, CommandReply)
        return reply

    typed = "@t1 : T"
    assert judge_audit(plan, audit((1, "'t1' depends on axioms: [propext]"), (4, typed)), typed).ok
    # a longer name that ends with the theorem's name is another constant
    assert not judge_audit(plan, audit((1, "'Shadow.t1' depends on axioms: [propext]"), (4, typed)), typed).ok
    # a clean report on a later line (printed by something else) is not the audit's
    assert not judge_audit(plan, audit((4, "'t1' does not depend on any axioms"), (4, typed)), typed).ok
    # two printed types: ambiguous, refused
    assert not judge_audit(plan, audit((1, "'t1' depends on axioms: [propext]"), (4, typed), (4, typed)), typed).ok
    assert not judge_audit(plan, audit((1, "'t1' depends on axioms: [propext, sorryAx]"), (4, typed)), typed).ok
    assert not judge_audit(plan, audit((1, "'t1' depends on axioms: [propext]"), (4, "@t1 : U")), typed).ok


async def test_allowed_axioms_are_configurable(tmp_path):
    pool = pool_with(tmp_path, {})
    try:
        strict = ReplVerifier(pool.pick, allowed_axioms=("Classical.choice",))
        verdict = await strict.verify(THEOREM, ["subst h", "rfl"])  # the stand-in's proofs use propext
        assert not verdict.ok and "propext" in verdict.message
        assert (await ReplVerifier(pool.pick).verify(THEOREM, ["subst h", "rfl"])).ok
    finally:
        await pool.close()


def test_a_linter_warning_naming_sorry_is_not_a_sorry():
    from lean_env.verify import judge_check

    def warning(text: str) -> CommandReply:
        message = {"severity": "warning", "pos": {"line": 2, "column": 2}, "endPos": None, "data": text}
        reply = decode(json.dumps({"env": 3, "messages": [{k: v for k, v in message.items() if v is not None}]}))
        assert isinstance(reply, CommandReply)
        return reply

    assert judge_check(warning("unused variable `h_sorry_free`")) is None
    assert judge_check(warning("declaration uses 'sorry'")) is not None
    assert judge_check(warning("declaration uses `sorry`")) is not None  # older Lean quotes it so


@pytest.mark.parametrize(
    ("proof", "body"),
    [
        ("theorem t1 (x:ℕ) (h : x = 2) : x + x = 4 := by\n  omega", "  omega"),  # layout differs
        ("lemma t1 (x : ℕ) (h : x = 2) : x + x = 4 := by\n  omega", "  omega"),
        ("theorem t1 (x : ℕ) (h : x = 2) : x + x = 4 := -- a comment\n  by omega", "  omega"),
        ("theorem t1 (x : ℕ) (h : x = 2) : x + x = 4 := h ▸ rfl", "  exact (\n    h ▸ rfl\n  )"),
        # a term starting with `by_cases_foo` is a term, not `by` and the rest of a word
        (
            "theorem t1 (x : ℕ) (h : x = 2) : x + x = 4 := by_cases_foo\n  omega",
            "  exact (\n    by_cases_foo\n      omega\n  )",
        ),
    ],
)
def test_a_restated_statement_is_compared_token_by_token(proof, body):
    from lean_env.verify import proof_body

    assert proof_body(THEOREM, proof) == body


@pytest.mark.parametrize(
    "proof",
    [
        "theorem t1 (x : ℕ) (h : x = 3) : x + x = 6 := by\n  omega",
        "theorem t1 (x : ℕ) : x + x = 4 := by\n  omega",
    ],
)
def test_a_different_statement_is_refused(proof):
    from lean_env.verify import StatementChanged, proof_body

    with pytest.raises(StatementChanged):
        proof_body(THEOREM, proof)
