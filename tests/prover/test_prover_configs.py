"""The shipped whole-proof model configurations, and the settings long chain-of-thought runs need."""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys

import pytest

from prover import cli, resume
from prover.attempt import check_strategy
from prover.config import ConfigError, ProveConfig, load_config, merge
from tests.lean_env.conftest import HEADER, FakeRepl
from tests.prover.model_server import Model, answer_as, serving
from tests.prover.test_whole_proof_models import BAD, GOOD, benchmark

PUBLISHED = {
    # name: (model id, prompt, temperature, top_p, max new tokens, repair rounds)
    "deepseek-prover-v2-7b": ("deepseek-ai/DeepSeek-Prover-V2-7B", "deepseek-v2", 1.0, 0.95, 8192, 0),
    "goedel-prover-v2-8b": ("Goedel-LM/Goedel-Prover-V2-8B", "goedel-v2", 1.0, 0.95, 32768, 2),
    "kimina-prover-distill-8b": ("AI-MO/Kimina-Prover-Distill-8B", "kimina", 0.6, 0.95, 8096, 0),
}


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_each_model_config_holds_its_published_setup_and_parses_from_the_command_line(name):
    model, prompt, temperature, top_p, tokens, rounds = PUBLISHED[name]
    args = cli.build_parser().parse_args(["prove", "--config", name])
    config = cli.prove_config(args)
    assert config == load_config(name)
    generator = config.generator
    assert (generator.model, generator.prompt, generator.temperature, generator.top_p) == (
        model,
        prompt,
        temperature,
        top_p,
    )
    assert (generator.samples, generator.decoding, generator.max_new_tokens) == (32, "sample", tokens)
    assert (config.run.strategy, config.run.repair_rounds, config.run.attempts) == ("whole-proof", rounds, 1)
    assert config.run.benchmark == "minif2f-test" and generator.api == "chat"
    check_strategy(config)  # the prompt has the conversation the rounds need


def test_a_shipped_config_runs_against_a_served_model(tmp_path):
    model = Model(
        "goedel-v2",
        {"t1": [answer_as("goedel-v2", BAD)], "t2": ["nothing"]},
        fixes=[("<error>bad</error>", answer_as("goedel-v2", GOOD))],
    )
    with serving(model) as url:
        argv = [sys.executable, "-m", "prover.cli", "prove", "--config", "goedel-prover-v2-8b"]
        argv += ["--generator", "openai", "--endpoint", url, "--samples", "1", "--benchmark", str(benchmark(tmp_path))]
        argv += ["--repl-command", FakeRepl(tmp_path).command, "--workers", "1", "--out", str(tmp_path / "run")]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in (tmp_path / "run" / "results.jsonl").read_text().splitlines()]
    t1 = next(r for r in lines if r["name"] == "t1")
    assert t1["status"] == "proved" and [a["round"] for a in t1["attempts"]] == [0, 1]
    assert all(b["max_tokens"] == 32768 and b["temperature"] == 1.0 and b["top_p"] == 0.95 for b in model.bodies)
    assert HEADER in model.bodies[0]["messages"][0]["content"]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"generator": {"max_new_tokens": 32769}}, "max_new_tokens must be between 1 and 32768"),
        ({"generator": {"max_new_tokens": 0}}, "max_new_tokens must be between 1 and 32768"),
        ({"generator": {"samples": 0}}, "samples must be at least 1"),
        ({"generator": {"top_p": 0.0}}, "top_p in (0, 1]"),
        ({"run": {"repair_rounds": -1}}, "repair_rounds must be 0 or more"),
    ],
)
def test_generation_settings_out_of_range_are_refused_naming_the_field(overrides, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        merge(ProveConfig(), overrides, "test")


def test_long_generations_up_to_32k_tokens_are_allowed():
    config = merge(ProveConfig(), {"generator": {"max_new_tokens": 32768, "samples": 64}}, "test")
    assert config.generator.max_new_tokens == 32768


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"run": {"repair_rounds": 1}}, "needs --strategy whole-proof"),
        ({"run": {"repair_rounds": 1, "strategy": "whole-proof"}, "generator": {"prompt": "whole-proof"}}, "goedel-v2"),
    ],
)
def test_repair_rounds_need_a_strategy_and_a_prompt_that_can_repair(overrides, message):
    with pytest.raises(ConfigError, match=message):
        check_strategy(merge(ProveConfig(), overrides, "test"))


def test_a_run_written_before_repair_rounds_existed_resumes_as_it_was():
    now = resume.settings(ProveConfig().to_dict(), {})
    before = copy.deepcopy(now)
    del before["config"]["run"]["repair_rounds"]
    manifest = {"history": [{"settings": before}]}
    assert resume.differences(manifest, now, "sha") == []
    repairing = resume.settings(merge(ProveConfig(), {"run": {"repair_rounds": 2}}, "t").to_dict(), {})
    assert resume.differences(manifest, repairing, "sha") == ["run.repair_rounds: None -> 2"]


def test_the_whole_proof_flags_reach_the_configuration():
    argv = ["prove", "--config", "kimina-prover-distill-8b", "--repair-rounds", "1", "--top-p", "0.9"]
    argv += ["--generation-timeout", "900", "--max-new-tokens", "32768"]
    config = cli.prove_config(cli.build_parser().parse_args(argv))
    assert config.run.repair_rounds == 1 and config.generator.top_p == 0.9
    assert config.generator.request_timeout == 900.0 and config.generator.max_new_tokens == 32768
    assert config.generator.temperature == 0.6  # the rest of the file stays
