from __future__ import annotations

from search import Candidate, Status, WholeProofConfig, WholeProofSearch
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
    # In sample order, each in round 0: the sample index names the conversation a proof belongs to.
    assert [(a.proof, a.verified, a.round, a.sample) for a in result.attempts] == [
        ("wrong", False, 0, 0),
        ("sorry", False, 0, 1),
        ("good", True, 0, 2),
        ("good", True, 0, 3),
    ]
    assert "sorry" in result.attempts[1].message
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


class Repairing:
    """A model at the generator boundary: ``first`` answers round 0; later rounds answer from the conversation.

    ``fixes[proof]`` is the answer to a conversation whose last failed proof was ``proof``; a proof
    listed in ``refuse`` makes that conversation's repair request fail (a server refusing it).
    """

    def __init__(self, first: list[str], fixes: dict[str, str], refuse: tuple[str, ...] = ()) -> None:
        self.first, self.fixes, self.refuse = first, fixes, refuse
        self.requests: list = []

    async def propose(self, requests):
        out = []
        for request in requests:
            self.requests.append(request)
            if not request.repairs:
                out.append([Candidate(p, 0.0, 2, f"thinking {i}", f"answer {p}") for i, p in enumerate(self.first)])
                continue
            last = request.repairs[-1].proof
            if last in self.refuse:
                raise RuntimeError("the prompt is over the context length")
            out.append([Candidate(self.fixes.get(last, "still wrong"), 0.0, 3, "fixing", f"answer {last}")])
        return out


async def test_a_failed_proof_goes_back_with_the_verdict_and_each_round_is_an_attempt():
    env = ScriptedEnv({"s0": {"good": PROVED, "wrong": "s1"}})
    gen = Repairing(["wrong", "nope", "sorry"], {"wrong": "almost", "almost": "good"})
    result = await WholeProofSearch(env, gen, WholeProofConfig(repair_rounds=3), seed=5).search(THEOREM)
    assert result.status is Status.PROVED and result.proof == "good"
    shown = [(a.round, a.sample, a.proof, a.verified) for a in result.attempts]
    assert shown == [
        (0, 0, "wrong", False),
        (0, 1, "nope", False),
        (0, 2, "sorry", False),  # dropped before the prover, still repaired: the model hears why
        (1, 0, "almost", False),
        (1, 1, "still wrong", False),
        (1, 2, "still wrong", False),
        (2, 0, "good", True),
        (2, 1, "still wrong", False),
        (2, 2, "still wrong", False),
    ]  # proved in round 2: no round 3 is asked for
    assert result.attempts[0].reasoning == "thinking 0" and result.attempts[3].reasoning == "fixing"
    repairs = [r for r in gen.requests if r.repairs]
    assert len(repairs) == 6 and all(r.samples == 1 for r in repairs)
    second = next(r for r in repairs if r.repairs[-1].proof == "almost")
    assert [(t.round, t.proof, t.answer) for t in second.repairs] == [
        (0, "wrong", "answer wrong"),
        (1, "almost", "answer wrong"),
    ]
    assert second.repairs[0].message == "goals remain"  # the verdict's reason travels with the proof
    assert "sorry" in next(r for r in repairs if r.repairs[-1].proof == "sorry").repairs[-1].message
    seeds = [r.seed for r in gen.requests]
    assert None not in seeds and len(set(seeds)) == len(seeds)
    assert result.stats.model_calls == 1 + 6 and result.stats.env_calls == 2 + 3 + 3


async def test_without_repair_rounds_nothing_goes_back_to_the_model():
    env = ScriptedEnv({"s0": {"good": PROVED}})
    gen = Repairing(["wrong"], {"wrong": "good"})
    result = await WholeProofSearch(env, gen).search(THEOREM)
    assert result.status is Status.FAILED and [a.round for a in result.attempts] == [0]
    assert len(gen.requests) == 1


async def test_a_repair_the_model_refuses_ends_only_its_own_conversation():
    env = ScriptedEnv({"s0": {"good": PROVED}})
    gen = Repairing(["long", "wrong"], {"wrong": "good"}, refuse=("long",))
    result = await WholeProofSearch(env, gen, WholeProofConfig(repair_rounds=2)).search(THEOREM)
    assert result.status is Status.PROVED
    refused = next(a for a in result.attempts if a.round == 1 and a.sample == 0)
    assert not refused.verified and "context length" in refused.message
    assert (1, 1, "good", True) in [(a.round, a.sample, a.proof, a.verified) for a in result.attempts]
