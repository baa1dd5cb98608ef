"""Only proofs verified at their run's level, found in the graph the run kept, become training data."""

from __future__ import annotations

import json
import shutil

import pytest

from prover import cli
from prover.training_data import ExtractionError, open_run, proof_steps, proved_attempts
from prover.training_export import ExtractOptions, extract
from tests.lean_env.conftest import G1, FakeRepl
from tests.prover.proved_runs import G4, SCRIPT, prove, write_rows

ROWS = [("v1", "t1", "valid"), ("v2", "t2", "valid"), ("v3", "t3", "valid")]


@pytest.fixture
async def run(tmp_path):
    fake = FakeRepl(tmp_path, script=SCRIPT)
    return await prove(write_rows(tmp_path / "bench.jsonl", ROWS), tmp_path / "run", fake)


def rewrite(path, change):
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    path.write_text("".join(json.dumps(change(line)) + "\n" for line in lines))


def sft(*runs, **options):
    return extract(list(runs), ExtractOptions("sft", "llemma", **options))


async def test_a_kernel_run_gives_only_its_kernel_checked_proofs(run):
    manifest = json.loads((run / "manifest.json").read_text())
    manifest["config"]["env"]["verify"] = "kernel"
    (run / "manifest.json").write_text(json.dumps(manifest))

    def kernel_for_v2(record):
        if record["name"] == "v2":
            record["verification"]["level"] = "kernel"
        return record

    rewrite(run / "results.jsonl", kernel_for_v2)
    result = sft(run)
    assert [(line["theorem"], line["level"]) for line in result.lines] == [("v2", "kernel")]


async def test_records_that_claim_more_than_the_graph_shows_are_not_data(run):
    def tamper(record):
        if record["name"] == "v1":  # a proof the search never found
            record["proof"] = ["subst h", "omega"]
        if record["name"] == "v2":  # verified, but no level named
            record["verification"] = None
        if record["name"] == "v3":  # a failed attempt made to look proved, as a string
            record.update(status="proved", verified="true", proof=["bad"])
        return record

    rewrite(run / "results.jsonl", tamper)
    source = open_run(run)
    assert list(proved_attempts(source, steps=True)) == []
    assert source.skipped == {"the graph does not hold the verified proof": 1, "no verification level in the record": 1}
    with pytest.raises(ExtractionError, match="nothing to write"):
        cli_extract(run, out=run.parent / "out.jsonl")
    assert not (run.parent / "out.jsonl").exists()


def cli_extract(*runs, out, fmt="sft"):
    """`prover data extract` in-process, raising what the command line reports."""
    from prover.experiments_cli import cmd_extract

    args = cli.build_parser().parse_args(["data", "extract", *map(str, runs), "--format", fmt, "--out", str(out)])
    return cmd_extract(args)


async def test_a_run_without_graphs_is_named_and_still_gives_whole_proofs(tmp_path, capsys):
    fake = FakeRepl(tmp_path, script=SCRIPT)
    bench = write_rows(tmp_path / "bench.jsonl", ROWS)
    plain = await prove(bench, tmp_path / "plain", fake, keep_graphs=False)
    assert cli.main(["data", "extract", str(plain), "--format", "sft", "--out", str(tmp_path / "x.jsonl")]) == 2
    err = capsys.readouterr().err
    assert f"{plain}: kept no search graphs (it ran without --keep-graphs)" in err and "nothing to write" in err
    out = tmp_path / "whole.jsonl"
    assert cli.main(["data", "extract", str(plain), "--format", "whole-proof", "--out", str(out)]) == 0
    assert sorted(json.loads(line)["theorem"] for line in out.read_text().splitlines()) == ["v1", "v2"]


async def test_a_missing_graph_file_costs_that_attempt_only(run):
    (run / "graphs" / "v2.0.json").unlink()
    source = open_run(run)
    assert [a.theorem.name for a in proved_attempts(source, steps=True)] == ["v1"]
    assert source.skipped == {"no graph file for the proved attempt": 1}


async def test_the_benchmark_must_be_the_one_the_run_proved(run, tmp_path):
    bench = tmp_path / "bench.jsonl"
    kept = tmp_path / "kept" / "bench.jsonl"
    kept.parent.mkdir()
    shutil.copy(bench, kept)
    bench.write_text(bench.read_text().replace("x + x = 4", "x + x = 5"))
    with pytest.raises(ExtractionError, match=r"changed since the run.*--benchmark"):
        sft(run)
    bench.unlink()
    with pytest.raises(ExtractionError, match=r"cannot load the run's benchmark.*--benchmark PATH"):
        sft(run)
    assert len(sft(run, benchmark=str(kept)).lines) == 3


def test_proof_steps_follow_the_proof_and_keep_only_leans_failures():
    graph = {
        "graph": {"root": 0},
        "nodes": [{"id": 0, "goal": G1}, {"id": 1, "goal": G4}, {"id": "0:1:failed"}, {"id": "0:2:failed"}],
        "edges": [
            {"source": 0, "target": 1, "tactic": "subst h", "kind": "goals", "message": ""},
            {"source": 0, "target": "0:1:failed", "tactic": "bad", "kind": "failed", "message": "linarith failed"},
            {
                "source": 0,
                "target": "0:2:failed",
                "tactic": "x\\ud800",
                "kind": "failed",
                "message": "refused before the prover: not valid Unicode",
            },
            {"source": 1, "target": "1:0:proved", "tactic": "rfl", "kind": "proved", "message": ""},
        ],
    }
    steps = proof_steps(graph, ("subst h", "rfl"))
    assert [(s.state, s.tactic, s.before, s.failures) for s in steps] == [
        (G1, "subst h", (), (("bad", "linarith failed"),)),
        (G4, "rfl", ("subst h",), ()),
    ]
    assert isinstance(proof_steps(graph, ("subst h",)), str)  # it does not close the goal
    assert isinstance(proof_steps(graph, ("bad", "rfl")), str)  # a failed edge is no step
    assert isinstance(proof_steps(graph, ("subst h", "rfl", "rfl")), str)
