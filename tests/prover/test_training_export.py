"""`prover data extract` end to end: runs over the REPL stand-in become files `datasets` and TRL load."""

from __future__ import annotations

import json
import textwrap

import pytest

from prover import cli
from prover.models.prompts import PROMPTS
from prover.training_export import ExtractOptions, completion_text, extract
from search import TacticRequest, Theorem
from tests.lean_env.conftest import G1, FakeRepl
from tests.prover.proved_runs import G4, SCRIPT, prove, write_rows


@pytest.fixture
async def two_runs(tmp_path):
    """The same benchmark proved by two runs, the second with two attempts: every step three times."""
    fake = FakeRepl(tmp_path, script=SCRIPT)
    rows = [("v1", "t1", "valid"), ("v2", "t2", "valid"), ("v3", "t3", "valid"), ("x5", "t5", "test")]
    benchmark = write_rows(tmp_path / "bench.jsonl", rows)
    first = await prove(benchmark, tmp_path / "a", fake)
    second = await prove(benchmark, tmp_path / "b", fake, attempts=2)
    return first, second


def lines_of(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


async def test_sft_steps_load_in_datasets_as_prompt_completion(two_runs, tmp_path, capsys):
    datasets = pytest.importorskip("datasets", reason="the test extra installs datasets")
    first, second = two_runs
    out = tmp_path / "sft.jsonl"
    argv = ["data", "extract", str(first), str(second), "--format", "sft", "--prompt", "instruct", "--out", str(out)]
    assert cli.main(argv) == 0
    assert "wrote 3 sft lines" in capsys.readouterr().out
    table = datasets.load_dataset("json", data_files=str(out), split="train")
    assert {"prompt", "completion"} <= set(table.column_names)  # TRL's standard prompt-completion type
    assert table.features["prompt"].dtype == "string" and table.features["completion"].dtype == "string"
    rows = list(table)
    # Only the valid split; x5 (test) is left out; each step of v1 and v2 is one line with 3 sources.
    assert sorted((r["theorem"], r["tactic"]) for r in rows) == [("v1", "rfl"), ("v1", "subst h"), ("v2", "omega")]
    instruct = PROMPTS.get("instruct")
    for row in rows:
        assert row["split"] == "valid" and row["level"] == "repl"
        runs = sorted((s["run"], s["attempt"]) for s in row["sources"])
        assert runs == [(str(first), 0), (str(second), 0), (str(second), 1)]
        assert instruct.parse(row["completion"]) == row["tactic"]
        assert row["completion"].endswith("[/TAC]")
    subst = next(r for r in rows if r["tactic"] == "subst h")
    assert subst["state"] == G1 and subst["prompt"].endswith(f"[STATE]\n{G1}\n[/STATE]\n[TAC]\n")
    assert "theorem t1 (x : ℕ) (h : x = 2) : x + x = 4 := by" in subst["prompt"]  # the statement, in [CTX]
    rfl = next(r for r in rows if r["tactic"] == "rfl")
    assert rfl["state"] == G4 and "\n  subst h\n[/CTX]" in rfl["prompt"]  # the tactics before it, in [CTX]


async def test_dpo_pairs_carry_leans_error_and_load_as_preferences(two_runs, tmp_path):
    datasets = pytest.importorskip("datasets", reason="the test extra installs datasets")
    first, second = two_runs
    out = tmp_path / "dpo.jsonl"
    assert cli.main(["data", "extract", str(first), str(second), "--format", "dpo", "--out", str(out)]) == 0
    table = datasets.load_dataset("json", data_files=str(out), split="train")
    assert {"prompt", "chosen", "rejected"} <= set(table.column_names)  # TRL's standard preference type
    rows = list(table)
    llemma = PROMPTS.get("llemma")
    pair = next(r for r in rows if r["rejected_tactic"] == "bad" and r["state"] == G1)
    assert pair["chosen_tactic"] == "subst h" and pair["error"] == "linarith failed to find a contradiction"
    assert llemma.parse(pair["chosen"]) == "subst h" and llemma.parse(pair["rejected"]) == "bad"
    assert pair["prompt"] == llemma.render(TacticRequest(G1, Theorem("v1", "")))
    for row in rows:
        assert row["theorem"] in ("v1", "v2") and row["chosen_tactic"] != row["rejected_tactic"]
        assert row["error"] and len(row["sources"]) == 3
    # Every failed tactic at a state of a proof path is a rejected answer there, once.
    assert len({(r["state"], r["rejected_tactic"]) for r in rows}) == len(rows)


async def test_whole_proofs_with_their_statements(two_runs, tmp_path):
    datasets = pytest.importorskip("datasets", reason="the test extra installs datasets")
    first, second = two_runs
    out = tmp_path / "whole.jsonl"
    argv = ["data", "extract", str(first), str(second), "--format", "whole-proof", "--include-split", "test"]
    assert cli.main([*argv, "--out", str(out)]) == 0
    rows = list(datasets.load_dataset("json", data_files=str(out), split="train"))
    by_theorem = {r["theorem"]: r for r in rows}
    assert set(by_theorem) == {"v1", "v2", "x5"}  # with the test split kept
    v1 = by_theorem["v1"]
    assert v1["proof"] == "  subst h\n  rfl" and v1["statement"].startswith("theorem t1")
    assert v1["prompt"].endswith(v1["statement"]) and v1["header"] in v1["prompt"]
    assert PROMPTS.get("whole-proof").parse(v1["completion"]) == "subst h\nrfl"
    assert by_theorem["x5"]["split"] == "test" and by_theorem["x5"]["proof"] == "  omega"


@pytest.mark.parametrize("name", PROMPTS.names())
def test_every_prompt_format_reads_its_completion_back(name):
    prompt = PROMPTS.get(name)
    text = "  nlinarith [sq_nonneg (a - b)]\n  simp" if prompt.whole_proof else "rw [Nat.mul_mod, h₀]"
    completion = completion_text(prompt, text)
    assert prompt.parse(completion) == (textwrap.dedent(text) if prompt.whole_proof else text)
    assert completion != text or not prompt.stop  # the stop string ends the training target


async def test_a_test_step_is_never_training_data_even_from_a_valid_theorem(tmp_path):
    fake = FakeRepl(tmp_path, script=SCRIPT)
    # t4 (test) is proved by `rfl` at the very state v1 (valid) reaches after `subst h`.
    benchmark = write_rows(tmp_path / "bench.jsonl", [("v1", "t1", "valid"), ("x4", "t4", "test")])
    run = await prove(benchmark, tmp_path / "run", fake)
    held_out = extract([run], ExtractOptions("sft", "llemma"))
    assert [line["tactic"] for line in held_out.lines] == ["subst h"]
    assert held_out.decontaminated == 1 and held_out.excluded == {"test": 1}
    kept = extract([run], ExtractOptions("sft", "llemma", frozenset()))
    assert sorted((line["theorem"], line["tactic"]) for line in kept.lines) == [
        ("v1", "rfl"),
        ("v1", "subst h"),
        ("x4", "rfl"),
    ]


async def test_bad_requests_say_what_to_do(two_runs, tmp_path, capsys):
    first, _ = two_runs
    out = tmp_path / "x.jsonl"
    out.write_text("earlier data\n")
    assert cli.main(["data", "extract", str(first), "--format", "sft", "--out", str(out)]) == 2
    assert "--force" in capsys.readouterr().err and out.read_text() == "earlier data\n"  # nothing lost
    assert cli.main(["data", "extract", str(first), "--format", "sft", "--prompt", "whole-proof", "--out", "y"]) == 2
    assert "tactic prompt" in capsys.readouterr().err
    assert cli.main(["data", "extract", str(first), "--format", "whole-proof", "--prompt", "bfs", "--out", "y"]) == 2
    assert "--prompt whole-proof" in capsys.readouterr().err
    assert cli.main(["data", "extract", str(first), "--format", "sft", "--prompt", "lemma", "--out", "y"]) == 2
    assert "Did you mean: llemma?" in capsys.readouterr().err
    assert cli.main(["data", "extract", str(tmp_path), "--format", "sft", "--out", "y"]) == 2
    assert "not a run directory" in capsys.readouterr().err


async def test_whole_proof_runs_give_their_sampled_proofs(tmp_path):
    fake = FakeRepl(tmp_path, script=SCRIPT)
    benchmark = write_rows(tmp_path / "bench.jsonl", [("v1", "t1", "valid"), ("v2", "t2", "valid")])
    run = await prove(benchmark, tmp_path / "run", fake, strategy="whole-proof")
    whole = extract([run], ExtractOptions("whole-proof", "whole-proof"))
    assert [(line["theorem"], line["proof"], line["completion"]) for line in whole.lines] == [
        ("v2", "  omega", "  omega\n```")
    ]
    steps = extract([run], ExtractOptions("sft", "llemma"))
    assert steps.lines == [] and steps.without_graphs == [str(run)]
