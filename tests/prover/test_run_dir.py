"""The run directory: odd names, unique ids, one writer at a time, honest resumes, read-only readers."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from prover import cli
from prover.benchmarks import load_benchmark
from prover.config import ConfigError, ProveConfig, merge
from prover.runner import Runner
from tests.lean_env.conftest import G1, G3, HEADER, T1, T3, FakeRepl

# t1 is proved by `subst h; rfl`; on t3 the only known tactic hangs until the tactic timeout.
SCRIPT = {
    "goals": {T1: G1, T3: G3},
    "states": {G1: {"subst h": ["⊢ 2 + 2 = 4"]}, "⊢ 2 + 2 = 4": {"rfl": []}, G3: {"stall": {"fault": "hang"}}},
}
TACTICS = "subst h,rfl,stall"


def bench(path: Path, rows: list[tuple[str, str]]) -> Path:
    """A JSONL benchmark of (name, statement) rows (names written as JSON escapes)."""
    lines = [json.dumps({"name": n, "split": "test", "header": HEADER, "formal_statement": s + "\n"}) for n, s in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def config(tmp_path: Path, benchmark: Path, fake: FakeRepl, **sections) -> ProveConfig:
    base: dict[str, dict] = {
        "run": {"benchmark": str(benchmark), "out": str(tmp_path / "run"), "concurrency": 2},
        "env": {"repl_command": fake.command, "workers": 2},
        "generator": {"tactics": TACTICS},
        "search": {"tactic_timeout": 60},
    }
    for section, values in sections.items():
        base[section] = {**base.get(section, {}), **values}
    return merge(ProveConfig(), base, "test")


def records(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "results.jsonl").read_text().splitlines() if line.strip()]


def files_under(root: Path, skip: Path) -> set[Path]:
    return {p for p in root.rglob("*") if not p.is_relative_to(skip)}


def test_names_never_become_paths_or_markup(tmp_path):
    work = tmp_path / "work"
    (work / "deep" / "er").mkdir(parents=True)
    fake = FakeRepl(tmp_path, script=SCRIPT)
    names = ["../../escape", "a/b", "/etc/passwd_x", "[/x]", "bad\ud800name", "ok"]
    benchmark = bench(work / "deep" / "er" / "bench.jsonl", [(n, T1) for n in names])
    run = work / "deep" / "er" / "run"
    before = files_under(tmp_path, run)
    argv = [sys.executable, "-m", "prover.cli", "prove", "--benchmark", str(benchmark), "--repl-command"]
    argv += [fake.command, "--tactics", "subst h,rfl", "--keep-graphs", "--out", str(run)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120, cwd=work / "deep" / "er")
    assert done.returncode == 0, done.stderr
    lines = records(run)
    assert len(lines) == len(names) and {r["status"] for r in lines} == {"proved"}
    graphs = sorted((run / "graphs").iterdir())
    assert len(graphs) == len(names)
    assert all(g.resolve().parent == (run / "graphs").resolve() for g in graphs)
    assert (run / "graphs" / "ok.0.json").is_file()  # a plain name keeps its plain file name
    written = files_under(tmp_path, run) - before
    assert {p.name for p in written} <= {"script.json.starts", "header-loads.log"}  # the fake REPL's own files
    shown = subprocess.run(
        [sys.executable, "-m", "prover.cli", "report", str(run), "--no-plots"], capture_output=True, timeout=120
    )
    assert shown.returncode == 0, shown.stderr


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


async def test_every_target_of_a_folder_gets_its_own_stable_id(tmp_path):
    folder = tmp_path / "bench"
    write(folder / "test" / "a.lean", "import Mathlib\n\ntheorem same : 1 = 1 := by sorry\n")
    write(folder / "valid" / "a.lean", "import Mathlib\n\ntheorem same : 2 = 2 := by sorry\n")
    write(folder / "test" / "b-1.lean", "import Mathlib\n\nexample : 3 = 3 := by sorry\n")
    write(folder / "valid" / "c.lean", "import Mathlib\n\nexample : 4 = 4 := by sorry\n")
    ids = [t.name for t in load_benchmark(str(folder)).theorems]
    assert len(set(ids)) == 4
    assert sorted(i for i in ids if i.startswith("same")) == ["same@test", "same@valid"]
    examples = [i for i in ids if i.startswith("example")]
    assert len(examples) == 2 and all(re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", i) for i in examples)
    assert [t.name for t in load_benchmark(str(folder)).theorems] == ids  # stable
    assert {t.name for t in load_benchmark(str(folder), names=("same",)).theorems} == {"same@test", "same@valid"}
    summary = await Runner(config(tmp_path, folder, FakeRepl(tmp_path, script=SCRIPT)), report=False).run()
    assert summary["total"] == 4 and len(records(tmp_path / "run")) == 4


async def wait_for_record(run: Path, name: str, seconds: float = 30.0) -> None:
    for _ in range(int(seconds / 0.05)):
        path = run / "results.jsonl"
        if path.exists() and any(r["name"] == name for r in records(run)):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"no record of {name} within {seconds} s")


async def test_a_run_that_stops_records_nothing_for_the_theorems_in_flight(tmp_path):
    benchmark = bench(tmp_path / "bench.jsonl", [("quick", T1), ("slow", T3)])
    fake = FakeRepl(tmp_path, script=SCRIPT)

    def display_breaks(line):  # e.g. a terminal that cannot show a record
        raise RuntimeError("the display broke")

    with pytest.raises(RuntimeError, match="display broke"):
        await Runner(config(tmp_path, benchmark, fake), on_result=display_breaks, report=False).run()
    await asyncio.sleep(1.0)  # anything still running would record now
    assert [r["name"] for r in records(tmp_path / "run")] == ["quick"]

    # Cancelled (Ctrl-C) while `slow` hangs: still no record for it, and the resume runs it.
    task = asyncio.create_task(Runner(config(tmp_path, benchmark, fake), report=False).run())
    await asyncio.sleep(1.5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert [r["name"] for r in records(tmp_path / "run")] == ["quick"]
    started: list[tuple[int, int]] = []
    task = asyncio.create_task(
        Runner(config(tmp_path, benchmark, fake), on_start=lambda d, t: started.append((d, t)), report=False).run()
    )
    await asyncio.sleep(1.0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert started == [(1, 1)]


async def test_a_second_run_on_the_same_directory_is_refused_with_the_first_ones_pid(tmp_path):
    benchmark = bench(tmp_path / "bench.jsonl", [("quick", T1), ("slow", T3)])
    fake = FakeRepl(tmp_path, script=SCRIPT)
    first = asyncio.create_task(Runner(config(tmp_path, benchmark, fake), report=False).run())
    try:
        await wait_for_record(tmp_path / "run", "quick")
        with pytest.raises(ConfigError, match=f"in use by another run \\(pid {os.getpid()}\\)"):
            await asyncio.wait_for(Runner(config(tmp_path, benchmark, fake), report=False).run(), 30)
    finally:
        first.cancel()
        with pytest.raises(asyncio.CancelledError):
            await first
    assert [r["name"] for r in records(tmp_path / "run")] == ["quick"]  # nothing recorded twice


@pytest.mark.parametrize(
    ("section", "key", "value"),
    [
        ("env", "repl_command", "CHANGED"),
        ("env", "memory_limit_mb", 4096),
        ("env", "axioms", ["propext"]),
        ("generator", "endpoint", "http://elsewhere:8000/v1"),
        ("generator", "dtype", "float16"),
        ("generator", "device", "cuda:1"),
        ("search", "max_tactic_chars", 100),
    ],
)
async def test_a_resume_with_other_result_settings_is_refused_unless_forced(tmp_path, section, key, value):
    benchmark = bench(tmp_path / "bench.jsonl", [("quick", T1)])
    fake = FakeRepl(tmp_path, script=SCRIPT)
    await Runner(config(tmp_path, benchmark, fake), report=False).run()
    if value == "CHANGED":
        value = fake.command + " --import-delay 0.01"
    changed = {section: {key: value}}
    with pytest.raises(ConfigError, match=f"{section}.{key}"):
        await Runner(config(tmp_path, benchmark, fake, **changed), report=False).run()
    forced = config(tmp_path, benchmark, fake, run={"force_resume": True}, **changed)
    await Runner(forced, report=False).run()
    history = json.loads((tmp_path / "run" / "manifest.json").read_text())["history"]
    assert len(history) == 2 and "forced_resume" not in history[0]
    assert any(line.startswith(f"{section}.{key}:") for line in history[1]["forced_resume"])
    assert history[0]["settings"]["config"][section][key] != history[1]["settings"]["config"][section][key]


async def test_a_resume_on_another_lean_version_is_refused(tmp_path):
    project = tmp_path / "project"
    write(project / "lean-toolchain", "leanprover/lean4:v4.9.0\n")
    benchmark = bench(tmp_path / "bench.jsonl", [("quick", T1)])
    fake = FakeRepl(tmp_path, script=SCRIPT)
    with_project = {"lean_project": str(project)}
    await Runner(config(tmp_path, benchmark, fake, env=with_project), report=False).run()
    write(project / "lean-toolchain", "leanprover/lean4:v4.10.0\n")
    with pytest.raises(
        ConfigError, match=re.escape("lean version: 'leanprover/lean4:v4.9.0' -> 'leanprover/lean4:v4.10.0'")
    ):
        await Runner(config(tmp_path, benchmark, fake, env=with_project), report=False).run()


def good(name: str, status: str = "proved", verified: object = True) -> dict:
    return {"name": name, "split": "test", "attempt": 0, "status": status, "verified": verified, "stats": {}}


async def test_readers_never_rewrite_results_and_name_the_lines_they_skip(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    lines = [
        json.dumps(good("r0")).encode(),
        b"[1, 2, 3]",  # not an object
        b'{"name": "r1", "status": "proved", "verified": true, "note": "\xff\xfe"}',  # not UTF-8
        json.dumps(good("r2", verified="false")).encode(),  # a string is not a verified proof
        json.dumps(good("r3", status="failed", verified=False)).encode(),
        b'{"name": "r4", "stat',  # torn: a run is writing it right now
    ]
    data = b"\n".join(lines)
    (run / "results.jsonl").write_bytes(data)
    assert cli.main(["report", str(run), "--no-plots"]) == 0
    assert (run / "results.jsonl").read_bytes() == data  # read-only, even the torn line
    report = json.loads((run / "report.json").read_text())[0]
    assert report["proved"] == 1 and report["total"] == 2  # r0 proved, r3 not; r2's line is skipped
    skipped = {entry["line"]: entry["why"] for entry in report["skipped_lines"]}
    assert set(skipped) == {2, 3, 4, 6}
    assert "not a JSON object" in skipped[2] and "UTF-8" in skipped[3] and "verified" in skipped[4]
    assert "Skipped lines" in (run / "report.md").read_text()

    # The runner resumes: only the torn last line is cut; the other bad lines stay, their attempts run again.
    benchmark = bench(tmp_path / "bench.jsonl", [(n, T1) for n in ("r0", "r1", "r2", "r3", "r4")])
    await Runner(config(tmp_path, benchmark, FakeRepl(tmp_path, script=SCRIPT)), report=False).run()
    after = (run / "results.jsonl").read_bytes()
    assert after.startswith(b"\n".join(lines[:5]) + b"\n")
    rerun = [json.loads(line)["name"] for line in after.splitlines()[5:]]
    assert sorted(rerun) == ["r1", "r2", "r4"]


def test_the_flags_reach_the_configuration():
    args = cli.build_parser().parse_args(["prove", "--max-tactic-chars", "512", "--force-resume", "--samples", "3"])
    config = cli.prove_config(args)
    assert config.search.max_tactic_chars == 512 and config.run.force_resume is True
    from prover.attempt import search_config

    assert search_config(config).max_candidates is None  # the portfolio's list is the user's own
    hf = merge(config, {"generator": {"name": "hf"}}, "test")
    assert search_config(hf).max_candidates == 3
    dsp = cli.build_parser().parse_args(["dsp", "--force-resume"])
    assert cli.prove_config(dsp).run.force_resume is True
