"""pass@k by repair round: a theorem counts once, at the round and sample that proved it."""

from __future__ import annotations

import json

from prover.report import Run, markdown
from prover.rounds import answers, first_proof, pass_by_round


def attempt(round_: int, sample: int, verified: bool = False, reasoning: str = "") -> dict:
    return {"proof": "p", "verified": verified, "round": round_, "sample": sample, "reasoning": reasoning}


def record(name: str, tried: list[dict], attempt_no: int = 0, level: str = "repl") -> dict:
    proved = any(a["verified"] for a in tried)
    return {
        "name": name,
        "split": "test",
        "attempt": attempt_no,
        "status": "proved" if proved else "failed",
        "verified": proved,
        "verification": {"level": level} if proved else None,
        "attempts": tried,
        "stats": {},
    }


RECORDS = [
    # a: proved at round 0 by sample 3 (of 4): pass@4 at once, pass@1 and @2 never (repairs stop then).
    record("a", [attempt(0, s, s == 3) for s in range(4)]),
    # b: sample 0 fails, its repair in round 1 proves (and sample 2's too): counted at round 1, sample 0.
    record("b", [*(attempt(0, s) for s in range(4)), attempt(1, 0, True, "fixed it"), attempt(1, 2, True)]),
    # c: never proved.
    record("c", [attempt(r, s) for r in range(3) for s in range(4)]),
]


def test_each_theorem_counts_once_at_its_first_round_and_sample():
    assert first_proof(answers([RECORDS[1]], lambda r: r["verified"])).sample == 0
    by_name = {r["name"]: answers([r], lambda r: r["verified"]) for r in RECORDS}
    table = pass_by_round(by_name, total=3)
    assert table == {
        1: {0: 0.0, 1: 1 / 3, 2: 1 / 3},
        2: {0: 0.0, 1: 1 / 3, 2: 1 / 3},
        4: {0: 1 / 3, 1: 2 / 3, 2: 2 / 3},
    }


def test_samples_are_numbered_across_a_theorems_records():
    later = [record("a", [attempt(0, 0), attempt(0, 1)], 0), record("a", [attempt(0, 0), attempt(0, 1, True)], 1)]
    found = answers(later, lambda r: r["verified"])
    assert [(a.sample, a.proved) for a in found] == [(0, False), (1, False), (2, False), (3, True)]
    assert pass_by_round({"a": found}, 1) == {1: {0: 0.0}, 2: {0: 0.0}, 4: {0: 1.0}}


def test_a_record_that_does_not_count_proves_nothing_whatever_its_answers_say():
    # A kernel run counts only kernel-checked proofs; foreign fields are read as zero, never trusted.
    odd = record("a", [attempt(0, 0, True), {"verified": True, "round": "1", "sample": -2}], level="repl")
    found = answers([odd], lambda r: r["verification"]["level"] == "kernel")
    assert [(a.round, a.sample, a.proved) for a in found] == [(0, 0, False), (0, 0, False)]


def test_the_report_shows_pass_at_k_by_round_and_the_reasoning_cut_short(tmp_path):
    (tmp_path / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in RECORDS))
    run = Run.load(tmp_path)
    text = markdown([run])
    assert "| 4 | 33.3% | 66.7% | 66.7% |" in text
    assert "| b | 1 | 0 | fixed it |" in text and "| a | 0 | 3 |  |" in text
    assert run.summary()["pass_at_k_by_round"][4] == {0: 1 / 3, 1: 2 / 3, 2: 2 / 3}


def test_a_tactic_search_run_has_no_round_sections(tmp_path):
    plain = {"name": "a", "status": "proved", "verified": True, "proof": ["simp"], "attempts": [], "stats": {}}
    (tmp_path / "results.jsonl").write_text(json.dumps(plain) + "\n")
    assert "repair round" not in markdown([Run.load(tmp_path)])


def test_reasoning_in_a_report_is_one_line_cut_short(tmp_path):
    reasoning = "step | one\n" * 100
    rec = record("a", [attempt(0, 0, True, reasoning)])
    (tmp_path / "results.jsonl").write_text(json.dumps(rec) + "\n")
    row = next(line for line in markdown([Run.load(tmp_path)]).splitlines() if line.startswith("| a | 0 | 0 |"))
    assert "\n" not in row and "step \\| one" in row and row.endswith("… |") and len(row) < 220
