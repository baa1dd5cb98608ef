"""The adversarial corpus (tests/lean_env/exploits.py) against the real verifier at every level.

The REPL, `lean -o` and SafeVerify are stand-ins at their process boundaries; the screen,
the check, the audit and the kernel step are the project's own code. Every exploit must be
refused by the level named in the corpus with its reason, and never count; every honest
proof must pass at the repl and at the kernel level.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from lean_env.kernel import KernelChecker, KernelSettings
from lean_env.process import ReplSettings
from lean_env.repl_env import LeanReplEnv, ReplPool
from lean_env.verifier import ReplVerifier
from search import Failed, GaveUp, Theorem
from tests.lean_env.conftest import FAKE_REPL, HEADER, SCRIPT, T1
from tests.lean_env.exploits import EXPLOITS, HONEST, HONEST_SCRIPT, Exploit

HERE = Path(__file__).parent
THEOREM = Theorem("t1", T1 + "\n", header=HEADER, split="test")


def merged_script(*extra: dict) -> dict:
    script = json.loads(json.dumps(SCRIPT))
    for part in extra:
        for key, value in part.items():
            if isinstance(value, dict):
                for inner, more in value.items():
                    if isinstance(more, dict):
                        script.setdefault(key, {}).setdefault(inner, {}).update(more)
                    else:
                        script.setdefault(key, {})[inner] = more
            else:
                script[key] = list(script.get(key, [])) + list(value)
    return script


class Stand_ins:
    """The REPL, lean and SafeVerify stand-ins for one script, with a log of every REPL request."""

    def __init__(self, tmp_path: Path, script: dict) -> None:
        self.script = tmp_path / "script.json"
        self.script.write_text(json.dumps(script))
        self.requests = tmp_path / "requests.jsonl"
        self.repl = (sys.executable, str(FAKE_REPL), "--script", str(self.script), "--requests", str(self.requests))
        self.lean = (sys.executable, str(HERE / "fake_lean.py"), "--script", str(self.script))
        self.checker = (sys.executable, str(HERE / "fake_safeverify.py"), "{target}", "{submission}")

    def sent(self) -> str:
        return self.requests.read_text() if self.requests.exists() else ""

    def env(self, level: str) -> tuple[LeanReplEnv, ReplPool]:
        pool = ReplPool(ReplSettings(command=self.repl, command_timeout=30), 1)
        kernel = KernelChecker(KernelSettings(lean_command=self.lean, checker_command=self.checker, timeout=60))
        verifier = ReplVerifier(pool.pick, level=level, kernel=kernel if level == "kernel" else None)  # type: ignore[arg-type]
        return LeanReplEnv(pool, verifier), pool


def test_the_corpus_is_large_and_covers_every_level():
    assert len(EXPLOITS) >= 25
    assert {e.refused_by for e in EXPLOITS} == {"screen", "repl", "kernel"}
    assert len({e.id for e in EXPLOITS}) == len(EXPLOITS)


@pytest.mark.parametrize("exploit", EXPLOITS, ids=[e.id for e in EXPLOITS])
async def test_every_exploit_is_refused_at_its_level_with_its_reason(tmp_path, exploit: Exploit):
    stand_ins = Stand_ins(tmp_path, merged_script(exploit.script))
    env, pool = stand_ins.env("kernel")
    try:
        verdict = await env.verify(THEOREM, list(exploit.proof) if isinstance(exploit.proof, tuple) else exploit.proof)
    finally:
        await pool.close()
    assert not verdict.ok, verdict
    assert verdict.level == exploit.refused_by, verdict
    assert exploit.reason in verdict.message, verdict.message
    if exploit.refused_by == "screen":
        assert stand_ins.sent() == "", "a refused proof reached the REPL"


SCREENED_STEPS = [e for e in EXPLOITS if e.refused_by == "screen" and isinstance(e.proof, tuple)]


@pytest.mark.parametrize("exploit", SCREENED_STEPS, ids=[e.id for e in SCREENED_STEPS])
async def test_a_screened_tactic_never_runs_during_the_search(tmp_path, exploit: Exploit):
    """The search applies tactics in the REPL before any verification: the screen must stop them there too."""
    stand_ins = Stand_ins(tmp_path, merged_script(exploit.script))
    env, pool = stand_ins.env("repl")
    try:
        root = await env.start(THEOREM)
        outcome = await env.apply(root, exploit.proof[-1], 5)
    finally:
        await pool.close()
    assert isinstance(outcome, Failed | GaveUp), outcome
    tactics = [json.loads(line).get("tactic") for line in stand_ins.sent().splitlines()]
    assert exploit.proof[-1] not in tactics, "a refused tactic reached the REPL"


@pytest.mark.parametrize("level", ["repl", "kernel"])
@pytest.mark.parametrize("proof", HONEST, ids=["steps", "block", "comments"])
async def test_honest_proofs_pass_at_every_level(tmp_path, level, proof):
    stand_ins = Stand_ins(tmp_path, merged_script(HONEST_SCRIPT))
    env, pool = stand_ins.env(level)
    try:
        verdict = await env.verify(THEOREM, list(proof) if isinstance(proof, tuple) else proof)
    finally:
        await pool.close()
    assert verdict.ok and verdict.level == level, verdict


async def test_the_audit_is_its_own_request_on_the_checked_environment(tmp_path):
    stand_ins = Stand_ins(tmp_path, merged_script(HONEST_SCRIPT))
    env, pool = stand_ins.env("repl")
    try:
        assert (await env.verify(THEOREM, ["subst h", "rfl"])).ok
    finally:
        await pool.close()
    requests = [json.loads(line) for line in stand_ins.sent().splitlines()]
    check = next(r for r in requests if r.get("cmd", "").startswith("theorem t1") and "subst h" in r["cmd"])
    audit = next(r for r in requests if r.get("cmd", "").startswith("#print axioms _root_.t1"))
    assert "#print axioms" not in check["cmd"]
    assert audit["env"] != check["env"]  # asked on the environment the check returned, not the header's


async def test_a_printed_imitation_of_the_report_reaches_the_record_but_not_the_verdict(tmp_path):
    exploit = next(e for e in EXPLOITS if e.id == "printed axiom report")
    stand_ins = Stand_ins(tmp_path, merged_script(exploit.script))
    env, pool = stand_ins.env("repl")
    try:
        verdict = await env.verify(THEOREM, list(exploit.proof))
    finally:
        await pool.close()
    assert any("'t1' does not depend on any axioms" in m for m in verdict.messages)  # Lean printed it
    assert not verdict.ok and "cheat_ax" in verdict.message  # the audit, its own request, is what counts
