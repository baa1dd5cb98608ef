"""Integration with a real Lean REPL; runs where `prover setup lean` (or LLEMMA_LEAN_PROJECT) made one."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lean_env.process import ReplSettings, default_repl_command
from lean_env.repl_env import LeanReplEnv, ReplPool
from prover.models import PortfolioGenerator
from prover.paths import lean_project_home
from search import BestFirstSearch, Failed, SearchConfig, Status, Theorem


def _project() -> Path | None:
    project = Path(os.environ.get("LLEMMA_LEAN_PROJECT") or lean_project_home())
    return project if Path(default_repl_command(project)[-1]).exists() else None


PROJECT = _project()
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        PROJECT is None,
        reason="no Lean REPL built: run `prover setup lean` or set LLEMMA_LEAN_PROJECT to a project with repl/ built",
    ),
]

CORE = Theorem("it_add_zero", "theorem it_add_zero (n : Nat) : n + 0 = n := by\n", header="")


@pytest.fixture
async def pool():
    pool = ReplPool(ReplSettings(command=default_repl_command(PROJECT), cwd=str(PROJECT)), 1)
    yield pool
    await pool.close()


async def test_real_repl_proves_and_verifies(pool):
    env = LeanReplEnv(pool)
    result = await BestFirstSearch(env, PortfolioGenerator(["simp", "omega"]), SearchConfig(timeout=120)).search(CORE)
    assert result.status is Status.PROVED and result.verified, result.reason


async def test_real_repl_empty_goals_with_an_error_is_not_a_proof(pool):
    env = LeanReplEnv(pool)
    root = await env.start(CORE)
    outcome = await env.apply(root, "exact my_fake_premise", 60)
    assert isinstance(outcome, Failed)
    assert not (await env.verify(CORE, ["exact my_fake_premise"])).ok
    assert not (await env.verify(CORE, ["exact sorry"])).ok


async def test_real_repl_audit_ignores_a_printed_imitation_of_a_clean_report(pool):
    from lean_env.verifier import ReplVerifier

    # A real proof through Classical.choice, preceded by a printed imitation of a clean axiom report.
    proof = ["trace \"'it_add_zero' does not depend on any axioms\"", "exact Classical.choice ⟨Nat.add_zero n⟩"]
    strict = ReplVerifier(pool.pick, allowed_axioms=("propext", "Quot.sound"))
    verdict = await strict.verify(CORE, proof)
    assert not verdict.ok and "Classical.choice" in verdict.message, verdict
    assert any("does not depend on any axioms" in m for m in verdict.messages)  # the imitation, kept as a message
    assert (await ReplVerifier(pool.pick).verify(CORE, proof)).ok


async def test_real_kernel_level_replays_an_honest_proof(pool):
    from lean_env.kernel import KernelChecker, installed_settings
    from lean_env.verifier import ReplVerifier

    settings = installed_settings(PROJECT)
    if settings is None:
        pytest.skip("SafeVerify is not installed in the Lean project: run `prover setup lean --verifier`")
    verifier = ReplVerifier(pool.pick, level="kernel", kernel=KernelChecker(settings))
    verdict = await verifier.verify(CORE, ["simp"])
    assert verdict.ok and verdict.level == "kernel", verdict


async def test_real_repl_sketch_gaps_are_searched_and_the_assembled_proof_verifies(pool):
    from lean_env.sketch import assemble, plan_sketch
    from lean_env.sketch_env import GapEnv, elaborate

    theorem = Theorem("it_sketch", "theorem it_sketch (a b : Nat) (h : a = b) : a + 0 = b := by\n", header="")
    sketch = plan_sketch(
        theorem, "  have h₁ : a + 0 = a := by sorry\n  have h₂ : a = b := sorry\n  rw [h₁]\n  exact h₂"
    )
    env = LeanReplEnv(pool)
    await env.start(theorem)
    elaboration = await elaborate(env.process, sketch)
    assert [g.goal.rsplit("\n", 1)[-1] for g in elaboration.gaps] == ["⊢ a + 0 = a", "⊢ a = b"]
    proofs = {}
    for gap in elaboration.gaps:
        gap_env = GapEnv(env, sketch, elaboration, gap)
        generator = PortfolioGenerator(["simp", "exact h"])
        result = await BestFirstSearch(gap_env, generator, SearchConfig(timeout=120)).search(theorem)
        await gap_env.close()
        assert result.status is Status.PROVED, result.reason
        proofs[gap.site.index] = result.proof
    verdict = await env.verify(theorem, assemble(sketch, proofs))
    assert verdict.ok, verdict.message


async def test_real_repl_moves_a_state_to_another_process_by_pickling():
    import asyncio

    from lean_env.states import HandoffCosts
    from search import Goals, Proved

    two = ReplPool(ReplSettings(command=default_repl_command(PROJECT), cwd=str(PROJECT)), 2)
    two.handoff = HandoffCosts(pickle=0.0, unpickle=0.0)  # pickling whatever the measured costs
    env = LeanReplEnv(two, search_workers=2)
    theorem = Theorem("it_pickled", "theorem it_pickled (a b : Nat) (h : a = b) : a + 0 = b := by\n", header="")
    try:
        state = await env.apply(await env.start(theorem), "rw [Nat.add_zero]", 60)
        assert isinstance(state, Goals), state
        env.will_expand(state)
        outcomes = await asyncio.gather(env.apply(state, "exact h", 60), env.apply(state, "omega", 60))
        assert all(isinstance(o, Proved) for o in outcomes), outcomes
        assert two.handoff.pickles == 1 and two.handoff.unpickles == 1  # the unpickled state showed its goals
    finally:
        await env.close()
        await two.close()
