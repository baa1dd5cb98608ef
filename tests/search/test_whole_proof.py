from __future__ import annotations

from search import Status, WholeProofConfig, WholeProofSearch
from tests.search.scripted import PROVED, THEOREM, ScriptedEnv, ScriptedGenerator


def _setup():
    env = ScriptedEnv({"s0": {"good": PROVED, "wrong": "s1"}})
    gen = ScriptedGenerator(
        {THEOREM.statement: [("wrong", -1.0, 3), ("sorry", -0.5, 1), ("good", -2.0, 4), ("good", -2.0, 4)]}
    )
    return env, gen


async def test_every_sample_is_verified_and_recorded_for_pass_at_k():
    env, gen = _setup()
    result = await WholeProofSearch(env, gen).search(THEOREM)
    assert result.status is Status.PROVED
    assert result.proof == "good" and result.verified
    assert [(a.proof, a.verified) for a in result.attempts] == [
        ("sorry", False),
        ("wrong", False),
        ("good", True),
        ("good", True),
    ]
    assert "sorry" in result.attempts[0].message
    assert env.verified == [["wrong"], ["good"], ["good"]]
    assert env.applied == []
    assert result.stats.model_calls == 1 and result.stats.tokens == 12 and result.stats.env_calls == 3


async def test_stop_at_first_stops_verifying():
    env, gen = _setup()
    env.concurrent_apply = False
    result = await WholeProofSearch(env, gen, WholeProofConfig(stop_at_first=True)).search(THEOREM)
    assert result.status is Status.PROVED
    assert env.verified == [["wrong"], ["good"]]


async def test_no_verified_sample_fails():
    env = ScriptedEnv({"s0": {}})
    gen = ScriptedGenerator({THEOREM.statement: [("nope", -1.0, 1)]})
    result = await WholeProofSearch(env, gen).search(THEOREM)
    assert result.status is Status.FAILED and result.proof is None and not result.verified


async def test_the_sampling_call_carries_the_search_seed():
    seeds = []
    for seed in (3, 3, 4, None):
        env, gen = _setup()
        await WholeProofSearch(env, gen, seed=seed).search(THEOREM)
        seeds += gen.seeds
    assert seeds[0] == seeds[1] is not None and seeds[2] not in (None, seeds[0]) and seeds[3] is None
