"""The same seed and configuration give the same search; another seed gives another one.

A sampling hf model (a tiny Llama built in the test) through the whole runner, one search at a
time (`--concurrency 1`): candidates, proofs and statistics come out the same, run after run in
one process, whatever the model was asked before.
"""

from __future__ import annotations

import json

import pytest

from prover.config import ProveConfig, merge
from prover.runner import Runner
from tests.lean_env.conftest import FakeRepl, write_benchmark

COUNTERS = ("expansions", "env_calls", "model_calls", "tokens", "nodes")  # the statistics that are not timings


@pytest.fixture
def tiny_model(tmp_path):
    pytest.importorskip("torch", reason="the hf extra is not installed")
    from prover.bench.tiny import tiny_model_and_tokenizer

    model, tokenizer = tiny_model_and_tokenizer()
    model.save_pretrained(tmp_path / "model")
    tokenizer.save_pretrained(tmp_path / "model")
    return tmp_path / "model"


async def sampled_run(tmp_path, model, name: str, seed: int) -> tuple[list, dict]:
    """The records (without timings) and the search graphs of one run."""
    fake = FakeRepl(tmp_path)
    out = tmp_path / name
    config = merge(
        ProveConfig(),
        {
            "run": {
                "benchmark": str(write_benchmark(tmp_path / "bench.jsonl", 2)),
                "out": str(out),
                "concurrency": 1,
                "seed": seed,
                "attempts": 2,
                "keep_graphs": True,
            },
            "env": {"repl_command": fake.command, "workers": 1},
            "generator": {
                "name": "hf",
                "model": str(model),
                "prompt": "reprover",
                "samples": 4,
                "decoding": "sample",
                "max_new_tokens": 6,
            },
            "search": {"max_expansions": 3},
        },
        "test",
    )
    await Runner(config, report=False).run()
    lines = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    records = sorted(
        (r["name"], r["attempt"], r["seed"], r["status"], json.dumps(r["proof"]), [r["stats"][c] for c in COUNTERS])
        for r in lines
    )
    graphs = {path.name: json.loads(path.read_text()) for path in sorted((out / "graphs").iterdir())}
    return records, graphs


def tactics(graphs: dict) -> dict[str, list[str]]:
    """The candidates each search tried, by graph file."""
    return {name: sorted(edge["tactic"] for edge in graph["edges"]) for name, graph in graphs.items()}


async def test_the_same_seed_gives_the_same_search_and_another_seed_another(tmp_path, tiny_model):
    records, graphs = await sampled_run(tmp_path, tiny_model, "first", seed=7)
    assert len(graphs) == 4 and all(tactics(graphs).values())  # two theorems, two attempts each
    again_records, again_graphs = await sampled_run(tmp_path, tiny_model, "again", seed=7)
    assert again_records == records
    assert again_graphs == graphs  # every candidate, its log-probability, and what Lean said of it
    _, other_graphs = await sampled_run(tmp_path, tiny_model, "other", seed=8)
    assert tactics(other_graphs) != tactics(graphs)
    # Within a run, each attempt samples on its own seed: two attempts are two different searches.
    assert tactics(graphs)["r0.0.json"] != tactics(graphs)["r0.1.json"]
