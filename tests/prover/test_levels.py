"""Pass rates per verification level; a run that asked for the kernel counts only kernel-checked proofs."""

from __future__ import annotations

import json

from prover.report import Run
from prover.results import summarize


def record(name: str, level: str, *, verified: bool = True, status: str = "proved") -> dict:
    return {
        "name": name,
        "split": "test",
        "attempt": 0,
        "status": status,
        "verified": verified,
        "verification": {"ok": verified, "level": level, "method": "", "message": ""},
    }


RECORDS = [record("a", "kernel"), record("b", "repl"), record("c", "screen", verified=False, status="failed")]


def test_levels_are_counted_and_a_kernel_proof_counts_at_the_repl_level_too():
    summary = summarize(RECORDS)
    assert summary["proved"] == 2
    assert summary["levels"] == {
        "kernel": {"proved": 1, "pass_rate": 1 / 3},
        "repl": {"proved": 2, "pass_rate": 2 / 3},
    }


def test_a_kernel_run_never_counts_a_repl_level_proof():
    assert summarize(RECORDS, "kernel")["proved"] == 1
    assert summarize(RECORDS, "repl")["proved"] == 2


def test_a_string_verified_is_not_a_proof():
    assert summarize([{**record("a", "repl"), "verified": "false"}])["proved"] == 0


def test_report_reads_the_required_level_from_the_manifest(tmp_path):
    (tmp_path / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in RECORDS))
    (tmp_path / "manifest.json").write_text(json.dumps({"config": {"env": {"name": "lean-repl", "verify": "kernel"}}}))
    run = Run.load(tmp_path)
    assert run.solved() == {"a"}
    assert run.summary()["levels"]["repl"]["proved"] == 2


def test_a_resume_runs_error_attempts_again_and_counts_each_attempt_once(tmp_path):
    from prover.results import ResultsFile, read_records

    results = ResultsFile(tmp_path)
    results.append({**record("a", "repl"), "status": "error", "verified": False, "verification": None})
    results.append(record("b", "repl"))
    reopened = ResultsFile(tmp_path)
    assert reopened.done() == {("b", 0)}  # the error attempt of `a` runs again
    reopened.append(record("a", "kernel"))
    assert len(reopened.records) == 2
    assert len(read_records(tmp_path / "results.jsonl").records) == 2  # the error line stays, superseded
    assert summarize(reopened.records)["attempts"] == 2 and summarize(reopened.records)["proved"] == 2
