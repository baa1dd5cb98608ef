"""Step-level best-first search in Isabelle through the PISA stand-in."""

from __future__ import annotations

from prover.models.portfolio import ISABELLE_TACTICS, PortfolioGenerator
from search import BestFirstSearch, Failed, GaveUp, Goals, SearchConfig, Status, Theorem
from tests.isabelle_env.conftest import STATEMENT

THEOREM = Theorem("t", STATEMENT, header="Complex_Main", language="isabelle")


class Connected:
    """A server someone else runs: the fixture's client."""

    def __init__(self, client) -> None:
        self.client = client
        self.restarts = 0

    async def start(self):
        return self.client


async def test_portfolio_search_proves_and_verifies(fake_pisa):
    from isabelle_env.env import IsabelleEnv
    from isabelle_env.server import PisaSettings

    _, client = fake_pisa
    env = IsabelleEnv(Connected(client), PisaSettings(isa_path="/opt/Isabelle2022"))
    result = await BestFirstSearch(env, PortfolioGenerator(ISABELLE_TACTICS), SearchConfig()).search(THEOREM)
    assert result.status is Status.PROVED and result.verified
    assert result.proof == ["by simp"]  # the first heuristic that works, after `by auto` failed


async def test_sledgehammer_as_a_step_records_what_it_found(fake_pisa):
    from isabelle_env.env import IsabelleEnv
    from isabelle_env.server import PisaSettings

    fake, client = fake_pisa
    fake.works = {}
    fake.hammer = {STATEMENT: "by (metis h0)"}
    env = IsabelleEnv(Connected(client), PisaSettings(isa_path="/opt/Isabelle2022"))
    result = await BestFirstSearch(env, PortfolioGenerator(["by auto", "sledgehammer"]), SearchConfig()).search(THEOREM)
    assert result.status is Status.PROVED and result.proof == ["sledgehammer"]
    assert env.concrete(result.proof) == ["by (metis h0)"]
    assert any("by (metis h0)" in c for c in fake.commands if c.startswith("<apply to top level state> r"))


async def test_steps_that_prove_nothing_never_run(fake_pisa):
    from isabelle_env.env import IsabelleEnv, forbidden_step
    from isabelle_env.server import PisaSettings

    _, client = fake_pisa
    env = IsabelleEnv(Connected(client), PisaSettings(isa_path="/opt/Isabelle2022"))
    root = await env.start(THEOREM)
    assert isinstance(root, Goals) and "x = 2" in root.text
    assert isinstance(await env.apply(root, "sorry", 5), GaveUp)
    assert isinstance(await env.apply(root, "by (auto; sorry)", 5), GaveUp)
    assert isinstance(await env.apply(root, "by frobnicate", 5), Failed)
    assert forbidden_step("ML \\<open>1\\<close>") and forbidden_step("axiomatization where x: False")
    assert forbidden_step("lemma other: True") and forbidden_step("sledgehammer") is None
    assert not (await env.verify(THEOREM, ["sorry"])).ok
