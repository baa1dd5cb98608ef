"""Whole-proof models end to end: `prover prove` against an OpenAI-compatible server answering in each
model's format, through the REPL stand-in; repair rounds in the records and in `prover report`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from prover.models.openai import OpenAIGenerator
from prover.models.prompts import PROMPTS
from search import TacticRequest, Theorem
from tests.lean_env.conftest import HEADER, T1, T2, FakeRepl
from tests.prover.model_server import Model, answer_as, restated, serving

GOOD = restated(HEADER, T1, "subst h\nrfl")
BAD = restated(HEADER, T1, "subst h\nbad")
BAD_LINE = BAD.split("\n").index("  bad") + 1


def benchmark(tmp_path: Path) -> Path:
    path = tmp_path / "bench.jsonl"
    rows = [
        {
            "name": "t1",
            "split": "test",
            "header": HEADER,
            "formal_statement": T1 + "\n",
            "informal_prefix": "/-- x -/\n",
        },
        {"name": "t2", "split": "test", "header": HEADER, "formal_statement": T2 + "\n"},
    ]
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    return path


def prove(tmp_path: Path, url: str, *flags: str) -> subprocess.CompletedProcess[str]:
    argv = [
        sys.executable,
        "-m",
        "prover.cli",
        "prove",
        "--benchmark",
        str(benchmark(tmp_path)),
        "--repl-command",
        FakeRepl(tmp_path).command,
        "--workers",
        "1",
        "--generator",
        "openai",
        "--endpoint",
        url,
        "--model",
        "prover",
        "--strategy",
        "whole-proof",
        "--decoding",
        "sample",
        "--out",
        str(tmp_path / "run"),
        *flags,
    ]
    return subprocess.run(argv, capture_output=True, text=True, timeout=300)


def records(tmp_path: Path) -> dict[str, dict]:
    lines = (tmp_path / "run" / "results.jsonl").read_text().splitlines()
    return {r["name"]: r for r in map(json.loads, lines)}


def answers(record: dict) -> list[tuple[int, int, bool]]:
    return [(a["round"], a["sample"], a["verified"]) for a in record["attempts"]]


@pytest.mark.parametrize("prompt", ["deepseek-v2", "goedel-v2", "kimina"])
def test_chat_models_sample_k_proofs_in_one_request_and_the_last_block_counts(tmp_path, prompt):
    t2 = restated(HEADER, T2, "omega")
    model = Model(prompt, {"t1": [answer_as(prompt, BAD), answer_as(prompt, GOOD)], "t2": [answer_as(prompt, t2)] * 2})
    with serving(model) as url:
        done = prove(tmp_path, url, "--api", "chat", "--prompt", prompt, "--samples", "2", "--max-new-tokens", "32768")
    assert done.returncode == 0, done.stderr
    found = records(tmp_path)
    assert found["t1"]["status"] == "proved" and found["t2"]["status"] == "proved"
    assert answers(found["t1"]) == [(0, 0, False), (0, 1, True)]
    assert found["t1"]["proof"] == GOOD  # the model's last block, header and theorem restated
    failed = found["t1"]["attempts"][0]
    assert f"error {BAD_LINE}:2: tactic 'bad' failed" in failed["messages"]  # Lean's message, at the model's line
    reasoning = found["t1"]["attempts"][1]["reasoning"]
    assert reasoning and "subst h\n  rfl" not in reasoning  # the text around the last block, not the proof
    # pass@k sampling: one request per theorem with n = k, no per-token log-probabilities of long answers.
    assert len(model.bodies) == 2 and {b["n"] for b in model.bodies} == {2}
    assert all("logprobs" not in b and b["max_tokens"] == 32768 for b in model.bodies)
    roles = [m["role"] for m in model.bodies[0]["messages"]]
    assert roles == (["system", "user"] if prompt == "kimina" else ["user"])
    user = model.bodies[0]["messages"][-1]["content"]
    assert HEADER in user and T1.removesuffix(" := by") in user


def test_goedel_self_correction_repairs_with_errors_at_the_models_lines(tmp_path):
    foreign = "import Mathlib.Tactic\n" + GOOD  # an import the benchmark header lacks: refused before Lean
    model = Model(
        "goedel-v2",
        {"t1": [answer_as("goedel-v2", BAD), answer_as("goedel-v2", foreign)], "t2": ["no proof here"] * 2},
        fixes=[("  <error>bad</error>", answer_as("goedel-v2", GOOD))],
    )
    with serving(model) as url:
        done = prove(tmp_path, url, "--api", "chat", "--prompt", "goedel-v2", "--samples", "2", "--repair-rounds", "2")
    assert done.returncode == 0, done.stderr
    found = records(tmp_path)
    t1, t2 = found["t1"], found["t2"]
    assert t1["status"] == "proved" and answers(t1) == [(0, 0, False), (0, 1, False), (1, 0, True), (1, 1, False)]
    assert "benchmark's header" in t1["attempts"][1]["message"]
    assert t2["status"] == "failed" and [a["round"] for a in t2["attempts"]] == [0, 0, 1, 1, 2, 2]
    repair = next(b for b in model.bodies if len(b["messages"]) == 3 and "bad" in b["messages"][1]["content"])
    user, assistant, feedback = repair["messages"]
    assert repair["n"] == 1 and assistant["content"] == answer_as("goedel-v2", BAD)
    assert user["content"].startswith("Complete the following Lean 4 code:")
    feedback = feedback["content"]
    assert feedback.startswith("The proof (Round 0) is not correct.")
    assert "Error Message: tactic 'bad' failed" in feedback
    # The snippet quotes the model's own code: the lines before the error and the error marked in place.
    assert f"{T1}\n  subst h\n  <error>bad</error>\n" in feedback
    refused = next(
        b for b in model.bodies if len(b["messages"]) == 3 and "Mathlib.Tactic" in b["messages"][1]["content"]
    )
    assert "is not a line of the benchmark's header" in refused["messages"][2]["content"]

    shown = subprocess.run(
        [sys.executable, "-m", "prover.cli", "report", str(tmp_path / "run"), "--no-plots"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert shown.returncode == 0, shown.stderr
    report = (tmp_path / "run" / "report.md").read_text()
    assert "## pass@k by repair round" in report and "| 1 | 0.0% | 50.0% | 50.0% |" in report
    assert "| t1 | 1 | 0 | <think> A plan: substitute, then compute. </think> ### Proof |" in report
    summary = json.loads((tmp_path / "run" / "report.json").read_text())[0]
    assert summary["pass_at_k_by_round"]["2"] == {"0": 0.0, "1": 0.5, "2": 0.5}


def test_kimina_error_fixing_numbers_the_models_lines(tmp_path):
    model = Model(
        "kimina",
        {"t1": [answer_as("kimina", BAD)], "t2": [answer_as("kimina", restated(HEADER, T2, "omega"))]},
        fixes=[(f"{BAD_LINE:03d} >|   bad\n", answer_as("kimina", GOOD))],
    )
    with serving(model) as url:
        done = prove(tmp_path, url, "--api", "chat", "--prompt", "kimina", "--samples", "1", "--repair-rounds", "1")
    assert done.returncode == 0, done.stderr
    assert answers(records(tmp_path)["t1"]) == [(0, 0, False), (1, 0, True)]
    feedback = next(b for b in model.bodies if len(b["messages"]) == 4)["messages"][-1]["content"]
    assert feedback.startswith("# Error 1:\nError message: \ntactic 'bad' failed\n\nLean 4 code snippet with error:")


@pytest.mark.parametrize(
    ("prompt", "continuation", "frame"),
    [
        ("deepseek-v1.5", "  subst h\n  rfl\n```", "Complete the following Lean 4 code:\n\n```lean4\n"),
        (
            "deepseek-v1.5-cot",
            "  -- x is 2: substitute it\n  subst h\n\n  -- 2 + 2 = 4 by computation\n  rfl\n```",
            "Complete the following Lean 4 code with explanatory comments preceding each line of code:",
        ),
    ],
)
def test_deepseek_v15_continues_the_file_through_the_completions_api(tmp_path, prompt, continuation, frame):
    model = Model(prompt, {}, completions={"t1": [continuation], "t2": ["  omega\n```"]})
    with serving(model) as url:
        done = prove(tmp_path, url, "--prompt", prompt, "--samples", "1")
    assert done.returncode == 0, done.stderr
    assert all(r["status"] == "proved" for r in records(tmp_path).values())
    body = next(b for b in model.bodies if "t1" in b["prompt"])
    assert body["prompt"].startswith(frame) and body["prompt"].endswith(f"/-- x-/\n{T1}\n")
    assert body["stop"] == ["```"]


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--api", "chat", "--prompt", "deepseek-v2", "--repair-rounds", "1"], "goedel-v2, kimina"),
        (["--api", "completions", "--prompt", "goedel-v2"], "use --api chat"),
        (["--api", "chat", "--prompt", "kimina", "--max-new-tokens", "40000"], "between 1 and 32768"),
    ],
)
def test_settings_that_cannot_work_stop_before_anything_runs(tmp_path, flags, message):
    done = prove(tmp_path, "http://127.0.0.1:9/v1", *flags)
    assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "run" / "results.jsonl").exists()


async def test_a_servers_separate_reasoning_is_kept_with_the_answers():
    theorem = Theorem("t1", T1 + "\n", header=HEADER)

    def answer(body: dict) -> tuple[int, bytes]:
        message = {"role": "assistant", "content": f"```lean4\n{GOOD}\n```", "reasoning_content": "I think."}
        return 200, json.dumps({"choices": [{"index": 0, "message": message}]}).encode()

    from tests.prover.hostile_openai import hostile_server

    with hostile_server(answer) as url:
        generator = OpenAIGenerator(url, "m", PROMPTS.get("goedel-v2"), api="chat", samples=1)
        try:
            ((candidate,),) = await generator.propose([TacticRequest(T1, theorem)])
        finally:
            await generator.close()
    assert candidate.tactic == GOOD and candidate.reasoning == "I think."
    assert candidate.answer == f"```lean4\n{GOOD}\n```"
