from __future__ import annotations

import json
import math

import pytest

from prover import cli
from prover.report import Run, category, failure_reason, pass_at_k, write_report
from prover.stats import mcnemar_exact, wilson_interval


def rec(name, attempt, status, expansions=1, wall=1.0, split="test", reason=""):
    return {
        "name": name,
        "split": split,
        "attempt": attempt,
        "status": status,
        "proof": ["x"] if status == "proved" else None,
        "verified": status == "proved",
        "reason": reason,
        "error": reason if status == "error" else None,
        "stats": {"expansions": expansions, "wall_time": wall, "time_model": 1.0, "time_env": 2.0, "time_search": 1.0},
    }


RECORDS = [
    # mathd_algebra_1: 2 of 4 attempts prove it
    rec("mathd_algebra_1", 0, "proved", 5, 10.0),
    rec("mathd_algebra_1", 1, "failed", reason="search space exhausted"),
    rec("mathd_algebra_1", 2, "proved", 3, 20.0),
    rec("mathd_algebra_1", 3, "budget", reason="time limit of 600 s"),
    # amc12a_2019_p21: never
    *(rec("amc12a_2019_p21", a, "budget", reason="expansion budget of 100") for a in range(4)),
    # imo_1959_p1 (valid split): 1 of 4
    rec("imo_1959_p1", 0, "error", split="valid", reason="ReplCrashed: boom"),
    rec("imo_1959_p1", 1, "failed", split="valid", reason="search space exhausted"),
    rec("imo_1959_p1", 2, "failed", split="valid", reason="search space exhausted"),
    rec("imo_1959_p1", 3, "proved", 50, 100.0, split="valid"),
]


def write_run(path, records):
    path.mkdir()
    (path / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def test_pass_at_k_estimator_by_hand():
    assert pass_at_k(4, 2, 1) == pytest.approx(0.5)
    assert pass_at_k(4, 2, 2) == pytest.approx(1 - 1 / 6)  # 1 - C(2,2)/C(4,2)
    assert pass_at_k(4, 0, 4) == 0.0 and pass_at_k(4, 1, 4) == 1.0
    assert pass_at_k(10, 3, 5) == pytest.approx(1 - math.comb(7, 5) / math.comb(10, 5))
    with pytest.raises(ValueError):
        pass_at_k(2, 1, 3)


def test_categories_of_minif2f_names():
    assert category("mathd_algebra_10") == "mathd_algebra"
    assert category("mathd_numbertheory_3") == "mathd_numbertheory"
    assert category("amc12b_2002_p7") == "amc12"
    assert category("aime_1983_p1") == "aime" and category("imo_1959_p1") == "imo"
    assert category("induction_12dvd4expnp1p20") == "induction"
    assert category("algebra_sqineq_at2malt1") == "algebra"
    assert category("numbertheory_4x3m7y3neq2003") == "numbertheory"
    assert category("my_lemma") == "other"


def test_report_numbers_from_known_results(tmp_path):
    run = Run.load(write_run(tmp_path / "run", RECORDS))
    assert run.solved() == {"mathd_algebra_1", "imo_1959_p1"}
    assert run.groups("split") == {"test": (1, 2), "valid": (1, 1)}
    assert run.groups("category") == {"amc12": (0, 1), "imo": (1, 1), "mathd_algebra": (1, 1)}
    expected = {
        1: (0.5 + 0 + 0.25) / 3,
        2: ((1 - 1 / 6) + 0 + 0.5) / 3,
        4: (1 + 0 + 1) / 3,
    }
    assert run.pass_at() == pytest.approx(expected)
    assert run.budget_curve("expansions") == [(3, 1), (50, 2)]
    assert run.budget_curve("wall_time") == [(10.0, 1), (100.0, 2)]
    assert run.failures() == {"expansion budget": 4}
    assert run.time_split() == pytest.approx({"model": 0.25, "env": 0.5, "search": 0.25})
    assert failure_reason(RECORDS[8]) == "error: replcrashed"


def test_report_files_and_comparison(tmp_path, capsys):
    first = write_run(tmp_path / "first", RECORDS)
    better = [
        r if r["name"] != "amc12a_2019_p21" or r["attempt"] else rec("amc12a_2019_p21", 0, "proved") for r in RECORDS
    ]
    second = write_run(tmp_path / "second", better)
    text, files = write_report([first, second])
    assert {f.name for f in files} >= {
        "report.md",
        "report.json",
        "solved_vs_expansions.png",
        "solved_vs_time.png",
        "pass_at_k.png",
    }
    for f in files:
        assert f.stat().st_size > 0
    assert (files[2].read_bytes()[:8]) == b"\x89PNG\r\n\x1a\n"
    assert "| first | 2/3 | 66.7% | 20.8% - 93.9% |  |  | baseline |" in text
    assert "| second | 3/3 | 100.0% | 43.9% - 100.0% | +1 -0 of 3 | 1 | within noise |" in text
    assert "| amc12 | 0/1 (0.0%) | 1/1 (100.0%) | +1 (+100.0%) |" in text
    assert "only second (1): amc12a_2019_p21" in text
    assert cli.main(["report", str(first), "--no-plots"]) == 0
    assert "Pass rate" in capsys.readouterr().out


def test_report_on_a_folder_that_is_not_a_run(tmp_path, capsys):
    assert cli.main(["report", str(tmp_path)]) == 2
    assert "not a run directory" in capsys.readouterr().err


def test_wilson_interval_and_exact_mcnemar_by_hand():
    assert wilson_interval(0, 10) == pytest.approx((0.0, 0.27753), abs=1e-5)
    assert wilson_interval(5, 10) == pytest.approx((0.23659, 0.76341), abs=1e-5)
    assert wilson_interval(64, 244) == pytest.approx((0.21109, 0.32087), abs=1e-5)  # Llemma-7b on miniF2F-test
    assert wilson_interval(0, 0) == (0.0, 1.0)
    assert mcnemar_exact(0, 0) == 1.0
    assert mcnemar_exact(5, 0) == pytest.approx(2 / 32)  # all five discordant theorems one way
    assert mcnemar_exact(9, 1) == pytest.approx(2 * 11 / 1024) == mcnemar_exact(1, 9)
    assert mcnemar_exact(3, 3) == 1.0


def test_many_runs_side_by_side_mark_noise_and_real_differences(tmp_path, capsys):
    names = [f"thm{i}" for i in range(30)]

    def run_proving(folder, proved):
        return write_run(tmp_path / folder, [rec(n, 0, "proved" if n in proved else "failed") for n in names])

    base = run_proving("base", set(names[:10]))
    near = run_proving("near", set(names[:12]))  # 2 more: within noise
    far = run_proving("far", set(names[:25]))  # 15 more, none lost: p = 2 / 2**15
    report_dir = tmp_path / "report"
    assert cli.main(["report", str(base), str(near), str(far), "--no-plots", "--out", str(report_dir)]) == 0
    text = (report_dir / "report.md").read_text()
    assert "| base | 10/30 | 33.3% |" in text
    assert "| near | 12/30 | 40.0% | 24.6% - 57.7% | +2 -0 of 30 | 0.5 | within noise |" in text
    assert "| far | 25/30 | 83.3% | 66.4% - 92.7% | +15 -0 of 30 | 6.1e-05 | significant |" in text
    summaries = json.loads((report_dir / "report.json").read_text())
    assert summaries[2]["vs_first"]["within_noise"] is False and summaries[1]["vs_first"]["p_value"] == 0.5
    assert summaries[0]["pass_rate_wilson_95"] == pytest.approx(list(wilson_interval(10, 30)))
    assert not (base / "report.md").exists()  # --out: the runs are only read
