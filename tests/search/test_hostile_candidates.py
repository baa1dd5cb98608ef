"""Model output is data: odd text, odd scores and too many candidates never end or bloat a search."""

from __future__ import annotations

import gc
import json
import math
import tracemalloc
from xml.etree import ElementTree

import pytest

from search import BestFirstSearch, SearchConfig, Status, WholeProofConfig, WholeProofSearch
from search.graph import write_graph
from search.tactics import DEFAULT_MAX_TACTIC_CHARS, ForbiddenWords
from tests.search.scripted import PROVED, THEOREM, ScriptedEnv, ScriptedGenerator


async def run(env, gen, **config):
    return await BestFirstSearch(env, gen, SearchConfig(**config)).search(THEOREM)


@pytest.mark.parametrize("score", [math.nan, math.inf, -math.inf])
async def test_a_candidate_with_a_non_finite_score_is_refused_and_the_search_goes_on(score):
    env = ScriptedEnv({"s0": {"odd": "s1", "a": "s2"}, "s1": {}, "s2": {"b": PROVED}})
    gen = ScriptedGenerator({"s0": [("odd", score, 1), ("a", -1.0, 1)], "s2": [("b", -1.0, 1)]})
    result = await run(env, gen)
    assert result.status is Status.PROVED and result.proof == ["a", "b"]
    assert ("s0", "odd") not in env.applied


@pytest.mark.parametrize(
    ("text", "reason"),
    [("simp \ud800", "not valid Unicode"), ("x" * (DEFAULT_MAX_TACTIC_CHARS + 1), "over the limit of 4096")],
)
async def test_text_a_prover_must_not_see_is_a_failed_edge_with_the_reason(tmp_path, text, reason):
    env = ScriptedEnv({"s0": {"a": "s1"}, "s1": {"b": PROVED}})
    gen = ScriptedGenerator({"s0": [(text, 0.0, 1), ("a", -1.0, 1)], "s1": [("b", -1.0, 1)]})
    result = await run(env, gen, keep_graph=True)
    assert result.status is Status.PROVED and result.proof == ["a", "b"]
    assert all(tactic != text for _, tactic in env.applied)
    refused = [d for _, _, d in result.graph.edges(data=True) if d["kind"] == "failed"]
    assert len(refused) == 1 and reason in refused[0]["message"]
    assert len(refused[0]["tactic"]) < 300  # a record keeps a bounded, printable form
    for fmt in ("json", "graphml", "dot"):  # every format writes, and reads back
        path = write_graph(result.graph, tmp_path / f"g.{fmt}")
        data = path.read_bytes()
        data.decode("utf-8")
        if fmt == "json":
            json.loads(data)
        elif fmt == "graphml":
            ElementTree.fromstring(data)


async def test_candidates_per_expansion_are_capped_whatever_the_generator_returns():
    table = {"s0": {f"t{i}": f"s{i + 1}" for i in range(50)}}
    env = ScriptedEnv(table)
    gen = ScriptedGenerator({"s0": [(f"t{i}", -1.0 - i, 1) for i in range(50)]})
    result = await run(env, gen, max_candidates=4, max_expansions=1)
    assert [t for _, t in env.applied] == ["t0", "t1", "t2", "t3"]
    assert result.stats.env_calls == 4


async def test_whole_proof_drops_samples_a_prover_must_not_see_and_checks_the_rest():
    env = ScriptedEnv({"s0": {"good": PROVED}})
    gen = ScriptedGenerator(
        {THEOREM.statement: [("bad \ud800 sorry", 0.0, 1), ("y" * 70_000, 0.0, 1), ("good", 0.0, 1), ("more", 0.0, 1)]}
    )
    search = WholeProofSearch(env, gen, WholeProofConfig(max_candidates=3))
    result = await search.search(THEOREM)
    assert result.status is Status.PROVED and result.proof == "good"
    assert env.verified == [["good"]]  # the capped fourth sample is never checked
    messages = [a.message for a in result.attempts]
    assert any("not valid Unicode" in m for m in messages) and any("over the limit of 65536" in m for m in messages)
    json.dumps(result.to_dict(), ensure_ascii=True).encode("utf-8")  # a record can always be written
    assert all(len(a.proof) < 300 for a in result.attempts if not a.verified)


def test_the_forbidden_word_memo_is_bounded_by_size_not_entries():
    words = ForbiddenWords(["sorry"])
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for index in range(100):  # 100 distinct 256 KB tactics: 25 MB if every one were kept
            tactic = f"simp [{index}] " + "a" * (1 << 18)
            assert words.reason(tactic) is None
            del tactic
        for index in range(5000):  # and many short ones
            words.reason(f"norm_num [h{index}]")
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert held < 4 << 20, f"the memo holds {held} bytes"
    assert words.reason("exact sorry") == "sorry" and words.reason("exact sorry") == "sorry"
