"""A hostile model server: rejected prompts, NaN scores, lone surrogates and too many choices."""

from __future__ import annotations

import asyncio
import json

import pytest

from prover.config import ProveConfig, merge
from prover.models import BatchingGenerator
from prover.models.openai import OpenAIGenerator, ServerError
from prover.models.prompts import PROMPTS
from prover.runner import Runner
from search import Candidate, TacticRequest, Theorem
from tests.lean_env.conftest import FakeRepl, write_benchmark
from tests.prover.hostile_openai import completions, hostile_server, text

THEOREM = Theorem("t", "theorem t : True := by\n")


def rejecting_bad_prompts(body: dict) -> tuple[int, bytes]:
    if "BAD" in body["prompt"]:
        return 400, b'{"error": {"message": "This model\'s maximum context length is 4096 tokens"}}'
    return 200, completions((text(" simp"), "[-0.5]"))


async def test_one_rejected_prompt_fails_only_its_own_request():
    with hostile_server(rejecting_bad_prompts) as url:
        client = OpenAIGenerator(url, "m", PROMPTS.get("reprover"), retries=0)
        batching = BatchingGenerator(client, window=0.05, max_batch=8)
        good, bad, also_good = await asyncio.gather(
            batching.propose([TacticRequest("good", THEOREM)]),
            batching.propose([TacticRequest("BAD", THEOREM)]),
            batching.propose([TacticRequest("fine", THEOREM)]),
            return_exceptions=True,
        )
        await client.close()
    assert batching.calls == 1  # the three went to the server as one batch
    assert isinstance(bad, ServerError) and "HTTP 400" in str(bad)
    assert [c.tactic for c in good[0]] == ["simp"] and [c.tactic for c in also_good[0]] == ["simp"]


async def test_a_batch_a_model_cannot_run_is_retried_one_request_at_a_time():
    class TooLongForTheModel:  # a local model: one over-long prompt fails the whole generate call
        async def propose(self, requests):
            if any(r.goal == "BAD" for r in requests):
                raise RuntimeError("input is longer than the model's context")
            return [[Candidate("simp", -1.0, 1)] for _ in requests]

    batching = BatchingGenerator(TooLongForTheModel(), window=0.05)
    outcomes = await asyncio.gather(
        *(batching.propose([TacticRequest(goal, THEOREM)]) for goal in ("a", "BAD", "b")), return_exceptions=True
    )
    assert isinstance(outcomes[1], RuntimeError)
    assert [c.tactic for c in outcomes[0][0]] == ["simp"] and [c.tactic for c in outcomes[2][0]] == ["simp"]


async def test_nan_and_infinite_scores_are_refused_at_the_client():
    answer = completions(
        (text(" nan_tactic"), "[NaN]"),
        (text(" inf_tactic"), "[Infinity]"),
        (text(" impossible"), "[-Infinity, -1.0]"),
        (text(" omega"), "[-1.0, -0.5]"),
    )
    with hostile_server(lambda body: (200, answer)) as url:
        client = OpenAIGenerator(url, "m", PROMPTS.get("reprover"))
        (candidates,) = await client.propose([TacticRequest("g", THEOREM)])
        await client.close()
    assert [(c.tactic, c.logprob) for c in candidates] == [("omega", -1.5)]


def run_config(tmp_path, url: str, fake: FakeRepl, **sections) -> ProveConfig:
    base = {
        "run": {"benchmark": str(write_benchmark(tmp_path / "bench.jsonl", 2)), "out": str(tmp_path / "run")},
        "env": {"repl_command": fake.command, "workers": 1},
        "generator": {"name": "openai", "endpoint": url, "model": "m", "prompt": "reprover", "retries": 0},
    }
    for section, values in sections.items():
        base[section] = {**base.get(section, {}), **values}
    return merge(ProveConfig(), base, "test")


async def test_a_lone_surrogate_in_a_dropped_whole_proof_never_stops_the_run(tmp_path):
    proof = "\n  subst h\n  rfl\n```"
    answer = completions((text("\ud800 sorry"), "[-0.1]"), (text(proof), "[-1.0]"), (text("\n  omega\n```"), "[-2.0]"))
    with hostile_server(lambda body: (200, answer)) as url:
        config = run_config(
            tmp_path,
            url,
            FakeRepl(tmp_path),
            run={"strategy": "whole-proof"},
            generator={"prompt": "whole-proof", "samples": 3},
        )
        summary = await Runner(config, report=False).run()
    data = (tmp_path / "run" / "results.jsonl").read_bytes()
    data.decode("ascii")  # every character escaped: valid UTF-8 whatever the model wrote
    lines = [json.loads(line) for line in data.splitlines()]
    assert sorted(r["name"] for r in lines) == ["r0", "r1"]
    by_name = {r["name"]: r for r in lines}
    assert by_name["r0"]["status"] == "proved" and by_name["r0"]["verified"] is True
    assert by_name["r1"]["status"] == "proved"  # t2 is closed by omega
    dropped = [a for a in by_name["r0"]["attempts"] if "not valid Unicode" in a["message"]]
    assert len(dropped) == 1 and dropped[0]["proof"] == "\\ud800 sorry"
    assert summary["proved"] == 2


async def test_a_server_answering_more_choices_than_asked_is_capped_at_samples(tmp_path):
    many = completions(*((text(f" tactic_{i}"), f"[-{i + 1}.0]") for i in range(20)))
    with hostile_server(lambda body: (200, many)) as url:
        config = run_config(tmp_path, url, FakeRepl(tmp_path), generator={"samples": 2}, search={"max_expansions": 3})
        await Runner(config, report=False).run()
    lines = [json.loads(line) for line in (tmp_path / "run" / "results.jsonl").read_text().splitlines()]
    assert len(lines) == 2
    for record in lines:
        assert record["stats"]["env_calls"] <= 2 * record["stats"]["expansions"] <= 2 * 3


@pytest.mark.parametrize("api", ["completions", "chat"])
async def test_malformed_choices_are_dropped_not_fatal(api):
    payload = (
        b'{"choices": [{"text": 5}, {"message": "no"}, 7, {"text": " simp", "logprobs": {"token_logprobs": "x"}},'
        b' {"message": {"content": "simp"}, "logprobs": {"content": [{"logprob": -1.0}]}}]}'
    )
    with hostile_server(lambda body: (200, payload)) as url:
        client = OpenAIGenerator(url, "m", PROMPTS.get("reprover"), api=api)
        (candidates,) = await client.propose([TacticRequest("g", THEOREM)])
        await client.close()
    assert [c.tactic for c in candidates] == ["simp"]
