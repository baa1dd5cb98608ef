"""Step-level best-first search in Isabelle through the PISA stand-in."""

from __future__ import annotations

from prover.models.portfolio import ISABELLE_TACTICS, PortfolioGenerator
from search import BestFirstSearch, Failed, GaveUp, Goals, SearchConfig, Status, Theorem
from tests.isabelle_env.conftest import STATEMENT, env_on
from tests.isabelle_env.fake_pisa import APPLY

THEOREM = Theorem("t", STATEMENT, header="Complex_Main", language="isabelle")


async def test_portfolio_search_proves_and_verifies(fake_pisa):
    _, client = fake_pisa
    env = env_on(client)
    result = await BestFirstSearch(env, PortfolioGenerator(ISABELLE_TACTICS), SearchConfig()).search(THEOREM)
    assert result.status is Status.PROVED and result.verified
    assert result.proof == ["by simp"]  # the first heuristic that works, after `by auto` failed
    assert result.verdict.level == "isabelle" and "x = 2" in result.verdict.message


async def test_sledgehammer_as_a_step_records_what_it_found(fake_pisa):
    fake, client = fake_pisa
    fake.works = {}
    fake.hammer = {STATEMENT: "by (metis h0)"}
    env = env_on(client)
    result = await BestFirstSearch(env, PortfolioGenerator(["by auto", "sledgehammer"]), SearchConfig()).search(THEOREM)
    assert result.status is Status.PROVED and result.proof == ["sledgehammer"]
    assert env.concrete(result.proof) == ["by (metis h0)"]
    applied = [c.split(APPLY)[1:] for c in fake.commands if c.startswith(APPLY)]
    replayed = [step.strip() for _, step, new in applied if new.strip().startswith("v")]
    assert replayed[-1] == "by (metis h0)"  # the verification replayed what Sledgehammer found


async def test_steps_that_prove_nothing_never_run(fake_pisa):
    fake, client = fake_pisa
    env = env_on(client)
    root = await env.start(THEOREM)
    assert isinstance(root, Goals) and "x = 2" in root.text
    assert isinstance(await env.apply(root, "sorry", 5), GaveUp)
    assert isinstance(await env.apply(root, "oops", 5), GaveUp)
    refused = await env.apply(root, "using [[quick_and_dirty]] by simp", 5)
    assert isinstance(refused, Failed) and "quick_and_dirty" in refused.message
    assert isinstance(await env.apply(root, "by frobnicate", 5), Failed)
    assert not any("sorry" in c or "oops" in c or "quick_and_dirty" in c for c in fake.commands)
    verdict = await env.verify(THEOREM, ["sorry"])
    assert not verdict.ok and verdict.level == "screen"
