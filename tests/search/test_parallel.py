"""Best-first search on several processes: the same search as on one, with tactics run ahead of their turn."""

from __future__ import annotations

import asyncio
import hashlib
import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from search import BestFirstSearch, Candidate, Failed, SearchConfig, Status, TimedOut
from tests.search.scripted import PROVED, THEOREM, ScriptedEnv, ScriptedGenerator

STATES = [f"s{i}" for i in range(12)]


class JitteredEnv(ScriptedEnv):
    """Tactics finish in a random order (seeded), counting the calls that were cancelled mid-way."""

    def __init__(self, *args, jitter: int, raising: str | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.rng = random.Random(jitter)
        self.raising = raising
        self.cancelled = 0

    async def apply(self, goals, tactic, timeout):
        try:
            await asyncio.sleep(self.rng.random() * 0.004)
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        if tactic == self.raising:
            raise RuntimeError(f"the prover broke on {tactic}")
        return await super().apply(goals, tactic, timeout)


class SeededGenerator(ScriptedGenerator):
    """Scores depend on the request's seed: a search that asked with another seed would rank otherwise."""

    async def propose(self, requests):
        answers = await super().propose(requests)
        out = []
        for request, candidates in zip(requests, answers):

            def shift(tactic: str, seed=request.seed) -> float:
                digest = hashlib.sha256(f"{seed}|{tactic}".encode()).digest()
                return -digest[0] / 64.0

            out.append([Candidate(c.tactic, c.logprob + shift(c.tactic), c.num_tokens) for c in candidates])
        return out


def shape(result) -> list[tuple]:
    """Every edge with its score and ends, and which states were expanded."""
    graph = result.graph
    edges = [
        (graph.nodes[u]["goal"], graph.nodes[v]["goal"], d["tactic"], d["kind"], d["message"], d["logprob"])
        for u, v, d in graph.edges(data=True)
    ]
    expanded = [data["goal"] for _, data in graph.nodes(data=True) if data.get("expanded")]
    return sorted(edges) + sorted(expanded)


# Mostly new states, so that searches run long; now and then a proof, a failure or a timeout.
outcome = st.sampled_from([*STATES, *STATES, *STATES, PROVED, Failed("no"), TimedOut(1.0)])
tactic = st.sampled_from(["a", "b", "c", "d", "e"])
row = st.lists(st.tuples(tactic, outcome, st.floats(-4.0, 0.0)), min_size=1, max_size=5)
tables = st.fixed_dictionaries({state: row for state in STATES})
case = st.fixed_dictionaries(
    {
        "table": tables,
        "workers": st.integers(2, 8),
        "jitter": st.integers(0, 10**6),
        "scoring": st.sampled_from(["cumulative", "avg-logprob", "length-normalized"]),
        "max_expansions": st.one_of(st.none(), st.integers(1, 12)),
        "max_env_calls": st.one_of(st.none(), st.integers(1, 30)),
        "max_depth": st.one_of(st.none(), st.integers(1, 5)),
        "rejected": st.booleans(),
    }
)


@settings(max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(case)
def test_k_processes_give_the_graph_proof_and_counts_of_one(example):
    table = example["table"]
    moves = {s: {t: o for t, o, _ in row} for s, row in table.items()}
    proposals = {s: [(t, lp, 1 + len(t)) for t, _, lp in row] for s, row in table.items()}
    config = SearchConfig(
        keep_graph=True,
        scoring=example["scoring"],
        max_expansions=example["max_expansions"],
        max_env_calls=example["max_env_calls"],
        max_depth=example["max_depth"],
    )
    # Some proofs fail verification: the search must go on past them in both, at the same edge.
    rejected = [["a", "b"], ["a"], ["b", "a"]] if example["rejected"] else []

    async def both():
        one = await BestFirstSearch(
            ScriptedEnv(moves, "s0", concurrent=False, rejected_proofs=rejected), SeededGenerator(proposals), config, 7
        ).search(THEOREM)
        env = JitteredEnv(
            moves, "s0", jitter=example["jitter"], rejected_proofs=rejected, search_workers=example["workers"]
        )
        many = await BestFirstSearch(env, SeededGenerator(proposals), config, 7).search(THEOREM)
        return one, many, env

    one, many, env = asyncio.run(both())
    assert (many.status, many.proof, many.verified, many.reason) == (one.status, one.proof, one.verified, one.reason)
    assert shape(many) == shape(one)
    counts = ("expansions", "env_calls", "model_calls", "tokens", "nodes")
    assert [getattr(many.stats, c) for c in counts] == [getattr(one.stats, c) for c in counts]
    assert env.verified == [list(p) for p in rejected if p in env.verified] + ([many.proof] if many.verified else [])
    assert env.cancelled == 0 and env.in_flight == 0  # tactics still running at the end were waited for


def _wide_table(width: int, depth: int) -> tuple[dict, dict]:
    """A full tree: every state has ``width`` tactics to new states, none proves."""
    moves: dict = {}
    proposals: dict = {}
    frontier = ["r"]
    for level in range(depth):
        following = []
        for state in frontier:
            children = {f"t{i}": f"{state}.{i}" for i in range(width)}
            moves[state] = children
            proposals[state] = [(t, -0.1 * (i + 1) - level, 1) for i, t in enumerate(children)]
            following += children.values()
        frontier = following
    return moves, proposals


async def test_different_open_states_run_at_once_and_unused_work_is_counted():
    moves, proposals = _wide_table(2, 5)
    moves["r.1.0"]["t1"] = PROVED  # found at the fifth expansion; states of the next ones already run
    env = ScriptedEnv(moves, "r", delay=0.01, search_workers=6)
    result = await BestFirstSearch(env, ScriptedGenerator(proposals), SearchConfig()).search(THEOREM)
    assert result.status is Status.PROVED and result.proof == ["t1", "t0", "t1"]
    assert env.max_in_flight > 2  # more tactics at once than one expansion has: other states ran ahead
    assert len(env.applied) == result.stats.env_calls + result.stats.unused_env_calls
    assert result.stats.unused_model_calls > 0 and result.stats.unused_env_calls > 0


async def test_a_failure_ahead_of_turn_ends_the_search_only_when_its_turn_comes():
    moves = {"s0": {"a": "s1", "b": "s2"}, "s1": {"win": PROVED}, "s2": {"boom": "s3"}}
    proposals = {"s0": [("a", -0.1, 1), ("b", -0.2, 1)], "s1": [("win", -0.1, 1)], "s2": [("boom", -0.1, 1)]}
    env = JitteredEnv(moves, "s0", jitter=1, raising="boom", search_workers=4)
    result = await BestFirstSearch(env, ScriptedGenerator(proposals), SearchConfig()).search(THEOREM)
    assert result.status is Status.PROVED and result.proof == ["a", "win"]  # s2 ran ahead and broke: never its turn
    env = JitteredEnv(moves, "s0", jitter=1, raising="win", search_workers=4)
    result = await BestFirstSearch(env, ScriptedGenerator(proposals), SearchConfig()).search(THEOREM)
    assert result.status is Status.ERROR and "broke on win" in result.reason
