"""`--strategy sketch` end to end: an OpenAI-compatible stand-in writes sketches, the REPL stand-in elaborates
them and answers tactics in their gaps, and only an assembled proof that passes the verifier counts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from prover.config import ConfigError, ProveConfig, load_config, merge
from prover.runner import Runner
from search import TacticRequest, Theorem
from tests.lean_env.conftest import HEADER, FakeRepl
from tests.lean_env.sketch_script import (
    GAP_EQ,
    GAP_SUM,
    GAP_TACTICS,
    ONE_OPEN,
    STATEMENT,
    TWO_GAPS,
    chain,
    sketch_script,
)
from tests.prover.hostile_openai import completions, hostile_server, text

CHANGED = "theorem changed (x : ℕ) (h : x = 2) : x + x = 5 := by\n  have h₁ : x = 2 := by sorry\n  omega"
HIDDEN = "  have h₁ : x = 2 := by sorry\n  omega\ntheorem cheat : False := by\n  exact sorry"


def bench(tmp_path: Path, *names: str, informal_proof: str | None = None) -> Path:
    rows = [
        {"name": name, "split": "test", "header": HEADER, "formal_statement": STATEMENT.format(name=name) + "\n"}
        for name in names
    ]
    if informal_proof:
        for row in rows:
            row["informal_proof"] = informal_proof
    path = tmp_path / "bench.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    return path


def writer(sketches: dict[str, str], prompts: list[str] | None = None):
    """A completions server answering each theorem's sketch prompt with the sketch scripted for its name."""

    def answer(body: dict) -> tuple[int, bytes]:
        prompt = body["prompt"]
        if prompts is not None:
            prompts.append(prompt)
        asked = prompt.rsplit("theorem ", 1)[1].split()[0]
        return 200, completions((text(sketches[asked]), "[-0.5]"))

    return answer


def fake_for(tmp_path: Path, *names: str, extra: dict | None = None) -> FakeRepl:
    script = sketch_script(*names)
    for state, steps in (extra or {}).items():
        script["states"][state] = {**script["states"].get(state, {}), **steps}
    return FakeRepl(tmp_path, script=script)


def config(
    tmp_path: Path,
    url: str,
    fake: FakeRepl,
    *names: str,
    requests: bool = False,
    informal: str | None = None,
    **sections,
) -> ProveConfig:
    command = fake.command + (f" --requests {tmp_path / 'requests.jsonl'}" if requests else "")
    path = bench(tmp_path, *names, informal_proof=informal)
    base = {
        "run": {"benchmark": str(path), "out": str(tmp_path / "run"), "strategy": "sketch"},
        # The request log is the stand-in's own file on the host: a sandboxed REPL could not write it.
        "env": {"repl_command": command, "workers": 1, **({"sandbox": "off"} if requests else {})},
        "generator": {"name": "openai", "endpoint": url, "model": "m", "prompt": "lean-dsp", "samples": 1},
        "sketch": {"gap_tactics": GAP_TACTICS, "gap_expansions": 4},
    }
    base["generator"]["retries"] = 0
    for section, values in sections.items():
        base[section] = {**base.get(section, {}), **values}
    return merge(ProveConfig(), base, "test")


async def run(cfg: ProveConfig) -> dict[str, dict]:
    await Runner(cfg, report=False).run()
    lines = Path(cfg.run.out, "results.jsonl").read_text().splitlines()
    return {r["name"]: r for r in map(json.loads, lines)}


def sent(tmp_path: Path) -> list[dict]:
    return [json.loads(line) for line in (tmp_path / "requests.jsonl").read_text().splitlines()]


def test_prove_and_report_a_sketch_run_from_the_command_line(tmp_path):
    fake = fake_for(tmp_path, "two_gaps", "open_gap")
    path = bench(tmp_path, "two_gaps", "open_gap")
    out = tmp_path / "run"
    with hostile_server(writer({"two_gaps": TWO_GAPS, "open_gap": ONE_OPEN})) as url:
        argv = [sys.executable, "-m", "prover.cli", "prove", "--benchmark", str(path), "--strategy", "sketch"]
        argv += ["--generator", "openai", "--endpoint", url, "--model", "m", "--prompt", "lean-dsp", "--samples", "1"]
        argv += ["--repl-command", fake.command, "--workers", "1", "--out", str(out)]
        argv += ["--gap-tactics", GAP_TACTICS, "--gap-expansions", "3"]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    records = {r["name"]: r for r in map(json.loads, (out / "results.jsonl").read_text().splitlines())}

    proved = records["two_gaps"]
    assert proved["status"] == "proved" and proved["verified"] and proved["verification"]["level"] == "repl"
    assert proved["proof"] == (
        "  have h₁ : x = 2 := by\n    exact h\n  have h₂ : x + x = 2 + 2 := by\n    subst h\n    rfl\n  omega"
    )
    (sketch,) = proved["sketches"]
    assert sketch["status"] == "proved" and sketch["sketch"] == TWO_GAPS and sketch["proof"] == proved["proof"]
    assert [(g["name"], g["goal"], g["status"], g["proof"]) for g in sketch["gaps"]] == [
        ("h₁", GAP_EQ, "closed", ["exact h"]),
        ("h₂", GAP_SUM, "closed", ["subst h", "rfl"]),
    ]
    assert all(g["seconds"] >= 0 and g["expansions"] >= 1 for g in sketch["gaps"])

    failed = records["open_gap"]
    assert failed["status"] == "failed" and not failed["verified"] and failed["proof"] is None
    assert "gap 2 (h₃, line 2) not closed: expansion budget of 3" in failed["reason"]
    gaps = failed["sketches"][0]["gaps"]
    assert [(g["name"], g["status"], g["expansions"]) for g in gaps] == [("h₁", "closed", 1), ("h₃", "open", 3)]
    assert gaps[1]["goal"] == chain(0)

    report = subprocess.run(
        [sys.executable, "-m", "prover.cli", "report", str(out), "--no-plots"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert report.returncode == 0, report.stderr
    assert "Sketches and gaps" in report.stdout and "3/4" in report.stdout
    (stats,) = json.loads((out / "report.json").read_text())
    assert stats["sketch"]["sketches"] == 2 and stats["sketch"]["sketch_status"] == {"proved": 1, "gap open": 1}
    assert (stats["sketch"]["gaps_closed"], stats["sketch"]["gaps"], stats["sketch"]["gaps_open"]) == (3, 4, 1)
    assert stats["failures"] == {"sketch gap not closed": 1}


async def test_each_gap_search_stops_at_its_expansion_budget(tmp_path):
    fake = fake_for(tmp_path, "open_gap")
    with hostile_server(writer({"open_gap": ONE_OPEN})) as url:
        cfg = config(tmp_path, url, fake, "open_gap", requests=True, sketch={"gap_expansions": 2})
        records = await run(cfg)
    gap = records["open_gap"]["sketches"][0]["gaps"][1]
    assert gap["status"] == "open" and gap["expansions"] == 2 and gap["reason"] == "expansion budget of 2"
    # One `norm_num` per expansion: without the gap's own budget it would walk all six states of the chain.
    assert [r["tactic"] for r in sent(tmp_path) if r.get("tactic") == "norm_num"] == ["norm_num"] * 2


async def test_each_gap_search_stops_at_its_time_limit(tmp_path):
    fake = fake_for(tmp_path, "slow", extra={GAP_EQ: {"hang": {"fault": "hang"}}})
    with hostile_server(writer({"slow": TWO_GAPS})) as url:
        cfg = config(tmp_path, url, fake, "slow", sketch={"gap_tactics": "hang", "gap_timeout": 1.0})
        records = await run(cfg)
    record = records["slow"]
    assert record["status"] == "failed"
    assert "gap 1 (h₁, line 1) not closed: time limit of 1 s" in record["reason"]
    assert [g["status"] for g in record["sketches"][0]["gaps"]] == ["open", "not tried"]


async def test_sketches_that_change_the_statement_or_hide_a_command_never_reach_lean(tmp_path):
    fake = fake_for(tmp_path, "changed", "hidden")
    with hostile_server(writer({"changed": CHANGED, "hidden": HIDDEN})) as url:
        records = await run(config(tmp_path, url, fake, "changed", "hidden", requests=True))
    for name, why in [("changed", "differently from the benchmark"), ("hidden", "'theorem'")]:
        record = records[name]
        assert record["status"] == "failed" and not record["verified"], record
        assert record["sketches"][0]["status"] == "refused" and why in record["reason"]
    commands = [r["cmd"] for r in sent(tmp_path) if "cmd" in r]
    assert not any("cheat" in c or "x + x = 5" in c for c in commands)


async def test_draft_first_then_the_sketch_sees_the_draft(tmp_path):
    prompts: list[str] = []
    draft = "Since x = 2, x + x = 2 + 2 = 4."

    def answer(body: dict) -> tuple[int, bytes]:
        prompts.append(body["prompt"])
        if body["prompt"].rstrip().endswith("### Solution"):
            return 200, completions((text(f"{draft} -/"), "[-0.3]"))
        return 200, completions((text(TWO_GAPS), "[-0.5]"))

    fake = fake_for(tmp_path, "drafted")
    with hostile_server(answer) as url:
        records = await run(config(tmp_path, url, fake, "drafted", run={"draft": True}))
    assert records["drafted"]["status"] == "proved"
    assert len(prompts) == 2 and "### Formal statement" in prompts[0]
    assert f"### Solution\n\n{draft} -/" in prompts[1] and prompts[1].rstrip().endswith(
        STATEMENT.format(name="drafted")
    )


async def test_the_informal_proof_of_the_benchmark_goes_into_the_sketch_prompt(tmp_path):
    prompts: list[str] = []
    fake = fake_for(tmp_path, "informal")
    proof = "Both sides are 4 because x is 2."
    with hostile_server(writer({"informal": TWO_GAPS}, prompts)) as url:
        records = await run(config(tmp_path, url, fake, "informal", informal=proof))
    assert records["informal"]["status"] == "proved"
    (prompt,) = prompts  # no draft: the benchmark gave the proof
    assert f"### Solution\n\n{proof} -/" in prompt


async def test_the_chat_variant_reads_the_last_lean_block_of_the_answer(tmp_path):
    statement = STATEMENT.format(name="chatty")
    content = (
        "<think>first try: ```lean4\nexact sorry\n```</think>\nHere is the sketch.\n"
        f"```lean4\nimport Mathlib\n\nopen Nat\n\n{statement}\n{TWO_GAPS}\n```\n"
    )

    def answer(body: dict) -> tuple[int, bytes]:
        assert "```lean4" in body["messages"][0]["content"]
        return 200, json.dumps(
            {"choices": [{"index": 0, "message": {"role": "assistant", "content": content}}]}
        ).encode()

    fake = fake_for(tmp_path, "chatty")
    with hostile_server(answer) as url:
        cfg = config(tmp_path, url, fake, "chatty", generator={"api": "chat", "prompt": "lean-sketch-chat"})
        records = await run(cfg)
    assert records["chatty"]["status"] == "proved", records["chatty"]["reason"]
    assert records["chatty"]["sketches"][0]["sketch"] == TWO_GAPS


@pytest.mark.parametrize(
    ("override", "why"),
    [
        ({"generator": {"name": "portfolio"}}, "needs a model to write sketches"),
        ({"env": {"name": "leandojo"}}, "--env lean-repl"),
        ({"sketch": {"gap_generator": "openai"}}, "--gap-model"),
        ({"run": {"ray": "local", "draft": True}}, "--ray"),
    ],
)
async def test_a_sketch_run_that_cannot_work_is_refused_before_anything_runs(tmp_path, override, why):
    cfg = merge(config(tmp_path, "http://127.0.0.1:9/v1", fake_for(tmp_path, "t")), override, "test")
    with pytest.raises(ConfigError, match=why):
        await Runner(cfg, report=False).run()
    assert not (tmp_path / "run").exists()


async def test_an_error_in_a_gap_search_makes_the_attempt_an_error(tmp_path):
    from lean_env.process import ReplSettings
    from lean_env.repl_env import LeanReplEnv, ReplPool
    from prover.sketch import SketchAndDecompose, SketchSettings

    class Writer:
        async def propose(self, requests):
            from search import Candidate

            return [[Candidate(TWO_GAPS, -1.0, 3)] for _ in requests]

    class Down:
        async def propose(self, requests: list[TacticRequest]):
            raise ConnectionError("the gap model's server is down")

    fake = fake_for(tmp_path, "t")
    pool = ReplPool(ReplSettings(command=fake.argv), 1)
    env = LeanReplEnv(pool)
    try:
        cfg = config(tmp_path, "http://127.0.0.1:9/v1", fake, "t")
        theorem = Theorem("t", STATEMENT.format(name="t") + "\n", header=HEADER)
        result = await SketchAndDecompose(env, Writer(), None, Down(), SketchSettings.from_config(cfg)).search(theorem)
    finally:
        await env.close()
        await pool.close()
    assert result.status.value == "error" and "gap 1 (h₁)" in result.reason and "down" in result.reason


def test_the_dsp_lean_configuration_loads():
    cfg = load_config("dsp-lean")
    assert cfg.run.strategy == "sketch" and cfg.run.draft and cfg.env.name == "lean-repl"
    assert cfg.generator.prompt == "lean-sketch-chat" and cfg.generator.api == "chat"
    assert cfg.sketch.gap_generator == "openai" and cfg.sketch.gap_prompt == "bfs" and cfg.sketch.gap_model


async def test_a_sketch_run_resumes_and_refuses_other_gap_settings(tmp_path):
    fake = fake_for(tmp_path, "two_gaps")
    with hostile_server(writer({"two_gaps": TWO_GAPS})) as url:
        cfg = config(tmp_path, url, fake, "two_gaps")
        await run(cfg)
        again = await Runner(cfg, report=False).run()
        assert again["attempts"] == 1  # resumed: nothing ran twice
        other = merge(cfg, {"sketch": {"gap_expansions": 5}}, "test")
        with pytest.raises(ConfigError, match=r"sketch.gap_expansions: 4 -> 5"):
            await Runner(other, report=False).run()


def test_runs_of_other_strategies_resume_as_before_the_sketch_settings_existed():
    from prover import resume

    now = ProveConfig().to_dict()
    before = {section: values for section, values in now.items() if section != "sketch"}
    manifest = {"history": [{"settings": resume.settings(before, {})}]}
    assert resume.differences(manifest, resume.settings(now, {}), "digest") == []
    sketch = merge(ProveConfig(), {"run": {"strategy": "sketch"}}, "test").to_dict()
    assert "sketch" in resume.settings(sketch, {})["config"]


def test_the_sketch_flags_reach_the_configuration():
    from prover import cli

    argv = ["prove", "--strategy", "sketch", "--draft", "--gap-expansions", "3", "--gap-timeout", "5"]
    argv += [
        "--gap-generator",
        "openai",
        "--gap-model",
        "bfs",
        "--gap-endpoint",
        "http://h:1/v1",
        "--gap-prompt",
        "bfs",
    ]
    argv += [
        "--gap-samples",
        "2",
        "--gap-tactics",
        "omega,simp",
        "--gap-decoding",
        "sample",
        "--gap-temperature",
        "1.1",
    ]
    cfg = cli.prove_config(cli.build_parser().parse_args(argv))
    assert cfg.run.strategy == "sketch" and cfg.run.draft
    gap = cfg.sketch
    assert (gap.gap_expansions, gap.gap_timeout, gap.gap_generator, gap.gap_model) == (3, 5.0, "openai", "bfs")
    assert (gap.gap_endpoint, gap.gap_prompt, gap.gap_samples, gap.gap_tactics) == (
        "http://h:1/v1",
        "bfs",
        2,
        ("omega", "simp"),
    )
    assert (gap.gap_decoding, gap.gap_temperature) == ("sample", 1.1)
    with pytest.raises(ConfigError, match="gap_expansions"):
        cli.prove_config(cli.build_parser().parse_args(["prove", "--gap-expansions", "0"]))


def test_the_gap_generator_is_the_portfolio_the_sketch_model_or_another_model():
    from prover.models import PortfolioGenerator, build_generator
    from prover.models.portfolio import LEAN_TACTICS
    from prover.sketch import build_gap_generator

    base = {"run": {"strategy": "sketch"}, "generator": {"name": "openai", "model": "writer", "prompt": "lean-dsp"}}
    cfg = merge(ProveConfig(), base, "test")
    writer = build_generator(cfg.generator)
    portfolio = build_gap_generator(cfg, writer)
    assert isinstance(portfolio, PortfolioGenerator) and list(portfolio.tactics) == list(LEAN_TACTICS)
    same = build_gap_generator(merge(cfg, {"sketch": {"gap_generator": "same", "gap_samples": 4}}, "test"), writer)
    assert (same.inner.model, same.inner.prompt.name, same.inner.samples) == ("writer", "llemma", 4)
    assert (writer.inner.prompt.name, writer.inner.samples) == ("lean-dsp", 8)  # the sketch model is unchanged
    other = {"gap_generator": "openai", "gap_model": "bfs", "gap_endpoint": "http://h:1/v1", "gap_prompt": "bfs"}
    gaps = build_gap_generator(merge(cfg, {"sketch": other}, "test"), writer)
    assert (gaps.inner.model, gaps.inner.url, gaps.inner.prompt.name) == ("bfs", "http://h:1/v1/completions", "bfs")
    with pytest.raises(ConfigError, match="--gap-generator same"):
        build_gap_generator(merge(cfg, {"sketch": {"gap_generator": "same"}}, "test"), PortfolioGenerator(["simp"]))


async def test_an_unknown_gap_or_draft_prompt_is_named_before_anything_runs(tmp_path):
    from search import UnknownNameError

    cfg = config(tmp_path, "http://127.0.0.1:9/v1", fake_for(tmp_path, "t"), "t")
    for override in ({"sketch": {"gap_prompt": "lama"}}, {"run": {"draft": True}, "sketch": {"draft_prompt": "x"}}):
        with pytest.raises(UnknownNameError, match="Unknown prompt format"):
            await Runner(merge(cfg, override, "test"), report=False).run()
    assert not (tmp_path / "run").exists()


async def test_the_dsp_lean_configuration_runs_end_to_end(tmp_path):
    """Draft and sketch from the chat model, gaps from the step prover's completions, as `dsp-lean` sets them up."""
    asked: list[dict] = []
    statement = STATEMENT.format(name="shipped")
    tactics = {GAP_EQ: "exact h", GAP_SUM: "subst h", "⊢ 2 + 2 = 2 + 2": "rfl"}

    def answer(body: dict) -> tuple[int, bytes]:
        asked.append(body)
        if "prompt" in body:  # the step prover: `{state}:::` (bfs)
            goal = body["prompt"].removesuffix(":::")
            return 200, completions((text(tactics.get(goal, "norm_num")), "[-0.1]"))
        if "concise informal proof" in body["messages"][0]["content"]:
            content = "<think>x is 2</think>\nSince x = 2, x + x = 4."
        else:
            content = f"```lean4\n{statement}\n{TWO_GAPS}\n```"
        message = {"role": "assistant", "content": content}
        return 200, json.dumps({"choices": [{"index": 0, "message": message}]}).encode()

    fake = fake_for(tmp_path, "shipped")
    with hostile_server(answer) as url:
        overrides = {
            "run": {"benchmark": str(bench(tmp_path, "shipped")), "out": str(tmp_path / "run"), "attempts": 1},
            "env": {"repl_command": fake.command, "workers": 1},
            "generator": {"endpoint": url, "retries": 0},
            "sketch": {"gap_endpoint": url},
        }
        records = await run(merge(load_config("dsp-lean"), overrides, "test"))
    assert records["shipped"]["status"] == "proved", records["shipped"]["reason"]
    draft, sketch, *gaps = asked
    assert draft["model"] == sketch["model"] == "Qwen/QwQ-32B" and sketch["temperature"] == 0.6
    assert "An informal proof:\nSince x = 2, x + x = 4." in sketch["messages"][0]["content"]
    assert {g["model"] for g in gaps} == {"bytedance-research/BFS-Prover"} and gaps[0]["prompt"] == GAP_EQ + ":::"
    assert all(g["n"] == 8 and g["temperature"] == 1.1 for g in gaps)


async def test_the_assembled_proof_is_checked_at_the_level_the_run_asks_for(tmp_path):
    from tests.lean_env.conftest import FAKE_REPL

    fake = fake_for(tmp_path, "kernel")
    folder = FAKE_REPL.parent
    kernel = {
        "verify": "kernel",
        "lean_command": f"{sys.executable} {folder / 'fake_lean.py'} --script {fake.script}",
        "kernel_command": f"{sys.executable} {folder / 'fake_safeverify.py'} {{target}} {{submission}}",
    }
    with hostile_server(writer({"kernel": TWO_GAPS})) as url:
        records = await run(config(tmp_path, url, fake, "kernel", env=kernel))
    record = records["kernel"]
    assert record["status"] == "proved" and record["verification"]["level"] == "kernel", record["reason"]


async def test_a_draft_that_is_not_text_never_reaches_the_sketch_prompt(tmp_path):
    from lean_env.process import ReplSettings
    from lean_env.repl_env import LeanReplEnv, ReplPool
    from prover.models import PortfolioGenerator
    from prover.sketch import SketchAndDecompose, SketchSettings
    from search import Candidate

    class Scripted:
        def __init__(self, text: str) -> None:
            self.text = text
            self.asked: list[TacticRequest] = []

        async def propose(self, requests):
            self.asked += requests
            return [[Candidate(self.text, -1.0, 3)] for _ in requests]

    drafter, writer = Scripted("x is 2 \ud800"), Scripted(TWO_GAPS)  # a lone surrogate, as JSON "\ud800" decodes
    fake = fake_for(tmp_path, "t")
    pool = ReplPool(ReplSettings(command=fake.argv), 1)
    env = LeanReplEnv(pool)
    try:
        cfg = config(tmp_path, "http://127.0.0.1:9/v1", fake, "t", run={"draft": True})
        theorem = Theorem("t", STATEMENT.format(name="t") + "\n", header=HEADER)
        gaps = PortfolioGenerator(GAP_TACTICS.split(","))
        result = await SketchAndDecompose(env, writer, drafter, gaps, SketchSettings.from_config(cfg)).search(theorem)
    finally:
        await env.close()
        await pool.close()
    assert result.status.value == "failed" and result.reason == "the model drafted no informal proof"
    assert len(drafter.asked) == 1 and writer.asked == []
