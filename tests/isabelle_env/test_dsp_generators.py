"""`prover dsp --draft --samples n` through the real generator path: an OpenAI-compatible HTTP stand-in."""

from __future__ import annotations

import json

import pytest

from tests.isabelle_env.conftest import PROOF
from tests.isabelle_env.test_dsp import row, run_dsp_command
from tests.prover.hostile_openai import hostile_server

DRAFTS = ["Halve both sides.", "Multiply by one half."]
# Best first by log-probability: a sketch Isabelle rejects, the one that checks, one never tried.
SKETCHES = [
    (PROOF.replace("using h0 sledgehammer", "using h0 by blast"), -0.1),
    (PROOF, -0.5),
    (PROOF.replace("using h0 sledgehammer", "using h0 by arith"), -0.9),
]


BODIES: list[dict] = []


def answer(body: dict) -> tuple[int, bytes]:
    """/v1/completions with ``n`` choices: drafts for the draft prompt, sketches for the sketch prompt."""
    BODIES.append(body)
    drafting = body["prompt"].endswith("### Solution\n\n")
    texts = [(f" {d}", -0.2 * (i + 1)) for i, d in enumerate(DRAFTS)] if drafting else SKETCHES
    choices = [
        {"index": i, "text": text, "logprobs": {"token_logprobs": [logprob]}}
        for i, (text, logprob) in enumerate(texts[: body["n"]])
    ]
    return 200, json.dumps({"choices": choices}).encode()


@pytest.fixture
def completions():
    BODIES.clear()
    with hostile_server(answer) as url:
        yield url


def test_draft_then_the_first_of_n_sketches_that_checks_wins(tmp_path, completions):
    flags = ["--generator", "openai", "--endpoint", completions, "--model", "llemma_7b", "--draft", "--samples", "3"]
    done = run_dsp_command(tmp_path, [row("ok", proof="Divide by 2.")], *flags)
    assert done.returncode == 0, done.stderr
    draft, sketch = BODIES
    assert draft["n"] == sketch["n"] == 3
    assert draft["prompt"].endswith("### Problem\n\nIf 2x = 4, show x = 2.\n\n### Solution\n\n")
    assert draft["stop"] == [" *)", "*)"] and sketch["stop"] == ["\n\n\n"]
    # --draft replaces the problem's own informal proof with the model's best draft.
    assert "### Solution\n\nHalve both sides. *)\n\nFormal:\ntheorem ok:" in sketch["prompt"]
    assert "Divide by 2." not in sketch["prompt"]
    (record,) = map(json.loads, (tmp_path / "cli" / "results.jsonl").read_text().splitlines())
    assert record["status"] == "proved"
    first, second = record["attempts"]  # the third sketch is never checked
    assert not first["verified"] and "Failed to finish proof" in first["message"]
    assert second["verified"] and second["proof"].endswith(PROOF)
    assert "by simp" in record["proof"] and "by arith" not in record["proof"]
