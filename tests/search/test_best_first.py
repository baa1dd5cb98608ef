from __future__ import annotations

import asyncio
import json

import networkx as nx
import pytest

from search import BestFirstSearch, Failed, GaveUp, SearchConfig, Status, request_seed
from search.graph import write_graph
from tests.search.scripted import PROVED, THEOREM, ScriptedEnv, ScriptedGenerator


async def run(env, gen, **config):
    return await BestFirstSearch(env, gen, SearchConfig(**config)).search(THEOREM)


async def test_finds_and_verifies_a_two_step_proof():
    env = ScriptedEnv({"s0": {"a": "s1"}, "s1": {"b": PROVED}})
    gen = ScriptedGenerator({"s0": [("a", -1.0, 1)], "s1": [("b", -1.0, 1)]})
    result = await run(env, gen)
    assert result.status is Status.PROVED
    assert result.proof == ["a", "b"]
    assert result.verified and result.verdict.ok
    assert env.verified == [["a", "b"]]
    assert result.stats.expansions == 2
    assert result.stats.model_calls == 2
    assert result.stats.env_calls == 2
    assert result.stats.nodes == 2
    assert result.stats.tokens == 2


def _order_table():
    # From s0: "cheap" (logprob -3 over 10 tokens) and "dear" (logprob -2, 1 token).
    env = ScriptedEnv(
        {
            "s0": {"cheap": "long", "dear": "short"},
            "long": {"x": "long2"},
            "short": {"y": "short2"},
            "long2": {"z": "long3"},
        }
    )
    gen = ScriptedGenerator(
        {
            "s0": [("cheap", -3.0, 10), ("dear", -2.0, 1)],
            "long": [("x", -5.0, 1)],
            "short": [("y", -0.5, 1)],
            "long2": [("z", -0.1, 1)],
        }
    )
    return env, gen


async def test_cumulative_scoring_expands_highest_summed_logprob_first():
    env, gen = _order_table()
    await run(env, gen, scoring="cumulative")
    # short: -2, short2: -2.5, long: -3, long2: -8
    assert gen.asked == ["s0", "short", "short2", "long", "long2", "long3"]


async def test_avg_logprob_scoring_divides_each_step_by_its_tokens():
    env, gen = _order_table()
    await run(env, gen, scoring="avg-logprob")
    # long: -0.3, short: -2, short2: -2.5, long2: -5.3
    assert gen.asked == ["s0", "long", "short", "short2", "long2", "long3"]


async def test_length_normalized_scoring_prefers_deeper_nodes():
    env = ScriptedEnv({"s0": {"a": "d1", "b": "w1"}, "d1": {"c": "d2"}, "d2": {}, "w1": {}})
    gen = ScriptedGenerator({"s0": [("a", -1.0, 1), ("b", -1.5, 1)], "d1": [("c", -1.0, 1)]})
    await run(env, gen, scoring="length-normalized", alpha=2.0)
    # d2: -2 / 4 = -0.5 beats w1: -1.5 / 1; with cumulative scoring w1 (-1.5) would beat d2 (-2).
    assert gen.asked == ["s0", "d1", "d2", "w1"]
    env2 = ScriptedEnv(env.table)
    gen2 = ScriptedGenerator(gen.table)
    await run(env2, gen2, scoring="cumulative")
    assert gen2.asked == ["s0", "d1", "w1", "d2"]


async def test_equal_states_are_one_node_of_a_dag():
    env = ScriptedEnv({"s0": {"a": "s1", "b": "s1"}, "s1": {"c": "s2"}, "s2": {}})
    gen = ScriptedGenerator({"s0": [("a", -1.0, 1), ("b", -0.5, 1)], "s1": [("c", -1.0, 1)]})
    result = await run(env, gen, keep_graph=True)
    assert gen.asked.count("s1") == 1
    assert result.stats.nodes == 3
    graph = result.graph
    assert sorted(d["tactic"] for _, _, d in graph.in_edges(1, data=True)) == ["a", "b"]


async def test_a_better_path_reranks_an_unexpanded_state_and_sets_the_proof_path():
    env = ScriptedEnv({"s0": {"a": "m", "b": "n"}, "m": {"c": "goal"}, "n": {"d": "goal"}, "goal": {"done": PROVED}})
    gen = ScriptedGenerator(
        {
            "s0": [("a", -1.0, 1), ("b", -2.0, 1)],
            "m": [("c", -5.0, 1)],
            "n": [("d", -0.1, 1)],
            "goal": [("done", 0.0, 1)],
        }
    )
    result = await run(env, gen)
    assert result.proof == ["b", "d", "done"]


async def test_dead_nodes_propagate_and_the_search_fails_when_exhausted():
    env = ScriptedEnv({"s0": {"a": "s1"}, "s1": {"bad": Failed("type mismatch")}})
    gen = ScriptedGenerator({"s0": [("a", -1.0, 1), ("b", -1.0, 1)], "s1": [("bad", -1.0, 1)]})
    result = await run(env, gen, keep_graph=True)
    assert result.status is Status.FAILED
    assert "exhausted" in result.reason
    statuses = nx.get_node_attributes(result.graph, "status")
    assert statuses[0] == "dead" and statuses[1] == "dead"
    kinds = sorted(d["kind"] for _, _, d in result.graph.edges(data=True))
    assert kinds == ["failed", "failed", "goals"]
    messages = [d["message"] for _, _, d in result.graph.edges(data=True) if d["tactic"] == "bad"]
    assert messages == ["type mismatch"]


async def test_an_alive_sibling_keeps_the_parent_alive():
    env = ScriptedEnv({"s0": {"a": "s1", "b": "s2"}, "s1": {}, "s2": {}})
    gen = ScriptedGenerator({"s0": [("a", -1.0, 1), ("b", -2.0, 1)], "s1": [("x", -1.0, 1)]})
    result = await run(env, gen, keep_graph=True, max_expansions=2)
    statuses = nx.get_node_attributes(result.graph, "status")
    assert statuses[1] == "dead"
    assert statuses[0] == "open" and statuses[2] == "open"
    assert result.status is Status.BUDGET


def _chain(length: int) -> tuple[ScriptedEnv, ScriptedGenerator]:
    table = {f"s{i}": {"next": f"s{i + 1}"} for i in range(length)}
    gens = {f"s{i}": [("next", -1.0, 1), ("other", -2.0, 1)] for i in range(length)}
    return ScriptedEnv(table), ScriptedGenerator(gens)


async def test_expansion_budget():
    env, gen = _chain(50)
    result = await run(env, gen, max_expansions=5)
    assert result.status is Status.BUDGET
    assert "expansion" in result.reason
    assert result.stats.expansions == 5


async def test_environment_call_budget():
    env, gen = _chain(50)
    result = await run(env, gen, max_env_calls=7, max_expansions=None)
    assert result.status is Status.BUDGET
    assert "environment-call" in result.reason
    assert len(env.applied) == 7


async def test_depth_budget():
    env, gen = _chain(50)
    result = await run(env, gen, max_depth=3, max_expansions=None)
    assert result.status is Status.BUDGET
    assert "depth" in result.reason
    assert gen.asked == ["s0", "s1", "s2"]


async def test_wall_time_budget():
    env, gen = _chain(1000)
    env.delay = 0.02
    result = await run(env, gen, timeout=0.2, max_expansions=None, max_depth=None)
    assert result.status is Status.BUDGET
    assert "time limit" in result.reason


async def test_tactic_timeout_is_handed_to_the_environment():
    env = ScriptedEnv({"s0": {"slow": PROVED}}, delay=1.0)
    gen = ScriptedGenerator({"s0": [("slow", -1.0, 1)]})
    result = await run(env, gen, tactic_timeout=0.05, keep_graph=True)
    assert result.status is Status.FAILED
    kinds = [d["kind"] for _, _, d in result.graph.edges(data=True)]
    assert kinds == ["timed_out"]


async def test_forbidden_and_duplicate_candidates_never_reach_the_environment():
    env = ScriptedEnv({"s0": {"simp": "s1"}})
    gen = ScriptedGenerator(
        {
            "s0": [
                ("sorry", 0.0, 1),
                ("  simp  ", -1.0, 1),
                ("simp", -1.0, 1),
                ("exact (by admit)", -1.0, 1),
                ("decide", -1.0, 1),
                ("norm_num [sorry_free_lemma]", -1.0, 1),
                ("", -1.0, 1),
            ]
        }
    )
    await run(env, gen, forbidden=("decide",))
    tactics = [t for _, t in env.applied]
    assert tactics == ["simp", "norm_num [sorry_free_lemma]"]


async def test_candidates_of_one_expansion_run_concurrently_when_the_env_allows():
    table = {"s0": {f"t{i}": f"s{i + 1}" for i in range(6)}}
    cands = [(f"t{i}", -1.0, 1) for i in range(6)]
    env = ScriptedEnv(table, delay=0.05)
    await run(env, ScriptedGenerator({"s0": cands}), max_expansions=1)
    assert env.max_in_flight == 6
    serial = ScriptedEnv(table, delay=0.05, concurrent=False)
    await run(serial, ScriptedGenerator({"s0": cands}), max_expansions=1)
    assert serial.max_in_flight == 1


async def test_a_proof_that_fails_verification_is_not_reported_as_proved():
    env = ScriptedEnv({"s0": {"fake": PROVED}}, rejected_proofs=[["fake"]])
    gen = ScriptedGenerator({"s0": [("fake", -0.1, 1)]})
    result = await run(env, gen, keep_graph=True)
    assert result.status is Status.FAILED
    assert not result.verified and result.proof is None
    assert "rejected by verification" in result.reason
    kinds = [d["kind"] for _, _, d in result.graph.edges(data=True)]
    assert kinds == ["unverified"]


async def test_after_a_rejected_proof_the_search_goes_on_to_a_sound_one():
    env = ScriptedEnv({"s0": {"fake": PROVED, "a": "s1"}, "s1": {"b": PROVED}}, rejected_proofs=[["fake"]])
    gen = ScriptedGenerator({"s0": [("fake", -0.1, 1), ("a", -1.0, 1)], "s1": [("b", -1.0, 1)]})
    result = await run(env, gen)
    assert result.status is Status.PROVED
    assert result.proof == ["a", "b"]
    assert env.verified == [["fake"], ["a", "b"]]


async def test_gave_up_outcomes_are_error_edges():
    env = ScriptedEnv({"s0": {"x": GaveUp("declaration uses 'sorry'")}})
    gen = ScriptedGenerator({"s0": [("x", -1.0, 1)]})
    result = await run(env, gen, keep_graph=True)
    assert result.status is Status.FAILED
    assert [d["kind"] for _, _, d in result.graph.edges(data=True)] == ["gave_up"]


async def test_environment_failure_is_an_error_result():
    class Broken(ScriptedEnv):
        async def start(self, theorem):
            raise RuntimeError("REPL died")

    result = await run(Broken({}), ScriptedGenerator({}))
    assert result.status is Status.ERROR
    assert "REPL died" in result.reason


async def test_statistics_split_time_between_model_environment_and_search():
    env = ScriptedEnv({"s0": {"a": "s1"}, "s1": {"b": PROVED}}, delay=0.01)
    gen = ScriptedGenerator({"s0": [("a", -1.0, 1)], "s1": [("b", -1.0, 1)]})
    result = await run(env, gen)
    stats = result.stats
    assert stats.time_env >= 0.02
    assert stats.wall_time >= stats.time_env
    assert stats.time_search >= 0
    assert abs(stats.wall_time - stats.time_env - stats.time_model - stats.time_search) < 1e-6


@pytest.mark.parametrize("fmt", ["json", "graphml", "dot"])
async def test_the_graph_is_written_in_each_format(tmp_path, fmt):
    env = ScriptedEnv({"s0": {"a": "s1", "bad": Failed("no")}, "s1": {"b": PROVED}})
    gen = ScriptedGenerator({"s0": [("a", -1.0, 1), ("bad", -2.0, 1)], "s1": [("b", -1.0, 1)]})
    result = await run(env, gen, keep_graph=True)
    path = write_graph(result.graph, tmp_path / f"graph.{fmt}")
    text = path.read_text()
    if fmt == "json":
        data = json.loads(text)
        assert {e["tactic"] for e in data["edges"]} == {"a", "bad", "b"}
    elif fmt == "graphml":
        back = nx.read_graphml(path)
        assert back.number_of_edges() == 3
    else:
        assert text.startswith("digraph") and '"a"' in text and '"bad"' in text


def test_unknown_scoring_is_refused_with_the_choices():
    with pytest.raises(ValueError, match="length-normalized"):
        SearchConfig(scoring="bfs")


async def test_a_proof_found_within_the_time_limit_is_verified_after_it():
    class SlowVerify(ScriptedEnv):
        async def verify(self, theorem, proof):
            await asyncio.sleep(0.3)
            return await super().verify(theorem, proof)

    env = SlowVerify({"s0": {"a": PROVED}})
    result = await run(env, ScriptedGenerator({"s0": [("a", -1.0, 1)]}), timeout=0.1)
    assert result.status is Status.PROVED and result.verified
    assert env.verified == [["a"]]  # the check cut off by the limit never finished; the second one did


async def test_every_expansion_asks_with_a_seed_of_its_own_from_the_search_seed():
    env = ScriptedEnv({"s0": {"a": "s1"}, "s1": {"b": "s2"}, "s2": {"c": PROVED}})
    table = {"s0": [("a", -1.0, 1)], "s1": [("b", -1.0, 1)], "s2": [("c", -1.0, 1)]}

    async def seeds(seed):
        gen = ScriptedGenerator(table)
        await BestFirstSearch(env, gen, SearchConfig(), seed=seed).search(THEOREM)
        return gen.seeds

    first = await seeds(7)
    assert len(first) == 3 and len(set(first)) == 3  # one seed per expansion, all different
    assert all(0 <= s < 2**31 for s in first)  # what any server takes as a seed
    assert await seeds(7) == first
    assert set(await seeds(8)).isdisjoint(first)
    assert await seeds(None) == [None, None, None]
    assert request_seed(7, 1) == first[0] == 1808820083  # the same on every machine and Python run
