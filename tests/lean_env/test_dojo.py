"""The LeanDojo adapter's mapping of LeanDojo's results and errors to outcomes.

LeanDojo cannot run here (no Lean, no traced repository), so these tests hand the
adapter a module with LeanDojo's public names and behaviours; the smoke test at the
end uses the real package where it and a traced repository are available.
"""

from __future__ import annotations

import os
import types
from dataclasses import dataclass

import pytest

from lean_env.dojo import DojoSource, DojoStartError, LeanDojoEnv
from lean_env.verifier import ReplVerifier
from search import Failed, GaveUp, Goals, Proved, Theorem, TimedOut

THEOREM = Theorem("mathd_algebra_10", "theorem mathd_algebra_10 (x : ℝ) (h : 2 * x = 4) : x = 2 := by\n", split="test")


def fake_lean_dojo(init_fails: bool = False) -> types.SimpleNamespace:
    class DojoInitError(Exception):
        pass

    class DojoCrashError(Exception):
        @property
        def is_out_of_memory(self):
            return str(self) == "OOM"

    class DojoTacticTimeoutError(Exception):
        pass

    @dataclass(frozen=True)
    class TacticState:
        pp: str
        id: int
        message: str | None = None

        @property
        def num_goals(self):
            return self.pp.count("⊢")

    @dataclass(frozen=True)
    class ProofFinished:
        tactic_state_id: int
        message: str | None = None

    @dataclass(frozen=True)
    class LeanError:
        error: str

    class ProofGivenUp:
        pass

    @dataclass(frozen=True)
    class LeanGitRepo:
        url: str
        commit: str

    @dataclass(frozen=True)
    class DojoTheorem:
        repo: LeanGitRepo
        file_path: object
        full_name: str

    class Dojo:
        entered: list = []

        def __init__(self, theorem, timeout=600):
            self.theorem, self.timeout = theorem, timeout

        def __enter__(self):
            if init_fails:
                raise DojoInitError("Failed to locate the theorem")
            Dojo.entered.append(self)
            return self, TacticState("x : ℝ\nh : 2 * x = 4\n⊢ x = 2", 0)

        def __exit__(self, *exc):
            Dojo.entered.remove(self)

        def run_tac(self, state, tactic):
            table = {
                "linarith": ProofFinished(1),
                "field_simp at h": TacticState("x : ℝ\nh : x * 2 = 4\n⊢ x = 2", 2),
                "bogus": LeanError("unknown tactic"),
                "sorryish": ProofGivenUp(),
            }
            if tactic == "spin":
                raise DojoTacticTimeoutError()
            if tactic == "boom":
                raise DojoCrashError("OOM")
            return table[tactic]

    def check_proof(theorem, proof):
        check_proof.calls.append((theorem, proof))
        return "linarith" in proof

    check_proof.calls = []
    return types.SimpleNamespace(
        Dojo=Dojo,
        Theorem=DojoTheorem,
        LeanGitRepo=LeanGitRepo,
        TacticState=TacticState,
        ProofFinished=ProofFinished,
        LeanError=LeanError,
        ProofGivenUp=ProofGivenUp,
        DojoInitError=DojoInitError,
        DojoCrashError=DojoCrashError,
        DojoTacticTimeoutError=DojoTacticTimeoutError,
        check_proof=check_proof,
    )


SOURCE = DojoSource("https://github.com/yangky11/miniF2F-lean4", "abc123", "MiniF2F/{Split}.lean")


async def test_results_map_to_outcomes():
    ld = fake_lean_dojo()
    env = LeanDojoEnv(SOURCE, tactic_timeout=7, lean_dojo=ld)
    root = await env.start(THEOREM)
    dojo = ld.Dojo.entered[0]
    assert dojo.timeout == 7 and str(dojo.theorem.file_path) == "MiniF2F/Test.lean"
    assert dojo.theorem.full_name == "mathd_algebra_10"
    assert root.text.endswith("⊢ x = 2") and root.num_goals == 1
    step = await env.apply(root, "field_simp at h", 5)
    assert isinstance(step, Goals) and step.handle.id == 2
    assert isinstance(await env.apply(step, "linarith", 5), Proved)
    assert isinstance(await env.apply(root, "bogus", 5), Failed)
    assert isinstance(await env.apply(root, "sorryish", 5), GaveUp)
    assert isinstance(await env.apply(root, "spin", 5), TimedOut)
    assert isinstance(await env.apply(root, "admit", 5), GaveUp)
    with pytest.raises(DojoStartError, match="out of memory"):
        await env.apply(root, "boom", 5)
    await env.close()
    assert ld.Dojo.entered == []


async def test_init_failure_is_a_start_error():
    env = LeanDojoEnv(SOURCE, lean_dojo=fake_lean_dojo(init_fails=True))
    with pytest.raises(DojoStartError, match="DojoInitError"):
        await env.start(THEOREM)


async def test_without_a_repl_proofs_are_checked_by_lean_dojo_and_say_so():
    ld = fake_lean_dojo()
    env = LeanDojoEnv(SOURCE, lean_dojo=ld)
    await env.start(THEOREM)
    verdict = await env.verify(THEOREM, ["field_simp at h", "linarith"])
    assert verdict.ok and "lean_dojo.check_proof" in verdict.method and "no axiom audit" in verdict.method
    assert ld.check_proof.calls[0][1] == "by\n  field_simp at h\n  linarith"
    assert not (await env.verify(THEOREM, ["exact sorry"])).ok
    await env.close()


async def test_with_a_repl_proofs_go_through_the_repl_verifier(fake_repl):
    from lean_env.process import ReplSettings
    from lean_env.repl_env import ReplPool
    from tests.lean_env.conftest import HEADER, T1

    pool = ReplPool(ReplSettings(command=fake_repl.argv), 1)
    theorem = Theorem("t1", T1 + "\n", header=HEADER, split="test")
    env = LeanDojoEnv(SOURCE, verifier=ReplVerifier(pool.pick), lean_dojo=fake_lean_dojo())
    try:
        verdict = await env.verify(theorem, ["subst h", "rfl"])
        assert verdict.ok and verdict.method == "lean-repl whole-theorem check"
        assert not (await env.verify(theorem, ["cheat"])).ok
    finally:
        await pool.close()


@pytest.mark.integration
@pytest.mark.skipif(
    not os.environ.get("LLEMMA_DOJO_REPO"),
    reason="set LLEMMA_DOJO_REPO, LLEMMA_DOJO_COMMIT, LLEMMA_DOJO_FILE and LLEMMA_DOJO_THEOREM "
    "to a traced repository to run the LeanDojo smoke test",
)
async def test_real_lean_dojo_smoke():
    pytest.importorskip("lean_dojo", reason="lean-dojo is not installed")
    source = DojoSource(
        os.environ["LLEMMA_DOJO_REPO"], os.environ["LLEMMA_DOJO_COMMIT"], os.environ["LLEMMA_DOJO_FILE"]
    )
    env = LeanDojoEnv(source, tactic_timeout=60)
    root = await env.start(Theorem(os.environ["LLEMMA_DOJO_THEOREM"], ""))
    try:
        assert root.text and "⊢" in root.text
        outcome = await env.apply(root, "skip", 60)
        assert isinstance(outcome, Goals | Failed)
    finally:
        await env.close()
