"""`prover prove` end to end through the fake REPL, with faults injected: only sound proofs count."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.lean_env.conftest import HEADER, T1, T2, T3


def test_prove_reports_only_sound_proofs(tmp_path, fake_repl):
    bench = tmp_path / "bench.jsonl"
    rows = [
        {"name": name, "split": "test", "header": HEADER, "formal_statement": statement + "\n"}
        for name, statement in [("t1", T1), ("t2", T2), ("t3", T3)]
    ]
    bench.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    run = tmp_path / "run"
    argv = [
        sys.executable,
        "-m",
        "prover.cli",
        "prove",
        "--benchmark",
        str(bench),
        "--env",
        "lean-repl",
        "--repl-command",
        fake_repl.command,
        "--generator",
        "portfolio",
        "--tactics",
        "crash,hang,garbage,bad,cheat,subst h,rfl,omega",
        "--tactic-timeout",
        "0.5",
        "--workers",
        "2",
        "--out",
        str(run),
    ]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    records = {r["name"]: r for r in map(json.loads, (run / "results.jsonl").read_text().splitlines())}
    assert records["t1"]["status"] == "proved" and records["t1"]["proof"] == ["subst h", "rfl"]
    assert records["t2"]["status"] == "proved" and records["t2"]["proof"] == ["omega"]
    assert records["t3"]["status"] == "failed" and not records["t3"]["verified"]
    assert "sorryAx" in records["t3"]["reason"]
    assert all(r["verified"] == (r["status"] == "proved") for r in records.values())
    summary = json.loads((run / "summary.json").read_text())
    assert summary["proved"] == 2 and summary["total"] == 3
    assert "proved 2/3" in done.stderr
    # Two processes in the pool, one header: at most one load per process.
    assert len(fake_repl.header_loads()) <= 2 + 3  # crashes and hangs restart processes, each reloads once


def test_prove_without_lean_says_what_to_run(tmp_path, monkeypatch):
    bench = tmp_path / "bench.jsonl"
    bench.write_text(json.dumps({"name": "t1", "formal_statement": T1 + "\n"}) + "\n")
    env = {"LLEMMA_PROVER_HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-m", "prover.cli", "prove", "--benchmark", str(bench), "--out", str(tmp_path / "run")],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert done.returncode == 2
    assert "prover setup lean" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "run").exists()


def test_whole_proof_strategy_through_the_repl(tmp_path, fake_repl):
    bench = tmp_path / "bench.jsonl"
    bench.write_text(json.dumps({"name": "t2", "header": HEADER, "formal_statement": T2 + "\n"}) + "\n")
    run = tmp_path / "run"
    argv = [
        sys.executable,
        "-m",
        "prover.cli",
        "prove",
        "--benchmark",
        str(bench),
        "--repl-command",
        fake_repl.command,
        "--strategy",
        "whole-proof",
        "--tactics",
        "cheat,sorry,omega",
        "--out",
        str(run),
    ]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    (record,) = map(json.loads, (run / "results.jsonl").read_text().splitlines())
    assert record["status"] == "proved" and record["proof"] == "omega" and record["verified"]
    attempts = {a["proof"]: a["verified"] for a in record["attempts"]}
    assert attempts == {"cheat": False, "sorry": False, "omega": True}


def _kernel_flags(fake_repl, extra_script: dict | None = None) -> list[str]:
    from tests.lean_env.conftest import FAKE_REPL

    script = fake_repl.script
    if extra_script:
        data = json.loads(script.read_text())
        data.update(extra_script)
        script.write_text(json.dumps(data))
    folder = FAKE_REPL.parent
    lean = f"{sys.executable} {folder / 'fake_lean.py'} --script {script} --fake-repl {FAKE_REPL}"
    checker = f"{sys.executable} {folder / 'fake_safeverify.py'} {{target}} {{submission}}"
    return ["--verify", "kernel", "--lean-command", lean, "--kernel-command", checker]


def test_kernel_level_end_to_end_records_the_level_of_every_proof(tmp_path, fake_repl):
    bench = tmp_path / "bench.jsonl"
    rows = [
        {"name": n, "split": "test", "header": HEADER, "formal_statement": s + "\n"}
        for n, s in [("t1", T1), ("t2", T2)]
    ]
    bench.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    run = tmp_path / "run"
    argv = [sys.executable, "-m", "prover.cli", "prove", "--benchmark", str(bench), "--repl-command", fake_repl.command]
    argv += ["--tactics", "unchecked_omega,subst h,rfl", "--out", str(run)]
    # `unchecked_omega` closes t2 in the REPL, but only by adding the theorem behind the kernel's back
    extra = {"unchecked": ["unchecked_omega"]}
    data = json.loads(fake_repl.script.read_text())
    data["states"]["a b : ℕ\n⊢ a + b = b + a"]["unchecked_omega"] = []
    fake_repl.script.write_text(json.dumps(data))
    done = subprocess.run(argv + _kernel_flags(fake_repl, extra), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    records = {r["name"]: r for r in map(json.loads, (run / "results.jsonl").read_text().splitlines())}
    assert records["t1"]["status"] == "proved" and records["t1"]["verification"]["level"] == "kernel"
    assert records["t2"]["status"] != "proved" and not records["t2"]["verified"]
    assert "kernel replay refused" in records["t2"]["reason"]
    summary = json.loads((run / "summary.json").read_text())
    assert summary["required_level"] == "kernel" and summary["proved"] == 1
    assert summary["levels"]["kernel"]["proved"] == 1 and summary["levels"]["repl"]["proved"] == 1
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["config"]["env"]["verify"] == "kernel"
    assert manifest["config"]["env"]["axioms"] == ["propext", "Classical.choice", "Quot.sound"]


def test_kernel_level_without_safeverify_says_what_to_run(tmp_path, fake_repl):
    bench = tmp_path / "bench.jsonl"
    bench.write_text(json.dumps({"name": "t1", "header": HEADER, "formal_statement": T1 + "\n"}) + "\n")
    argv = [sys.executable, "-m", "prover.cli", "prove", "--benchmark", str(bench), "--repl-command", fake_repl.command]
    argv += ["--verify", "kernel", "--out", str(tmp_path / "run")]
    env = {"LLEMMA_PROVER_HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 2, done.stderr
    assert "prover setup lean --verifier" in done.stderr and "Traceback" not in done.stderr


def test_one_theorem_at_a_time_on_every_process_and_a_resume_with_another_count(tmp_path, fake_repl):
    bench = tmp_path / "bench.jsonl"
    rows = [
        {"name": n, "header": HEADER, "formal_statement": s + "\n"} for n, s in [("t1", T1), ("t2", T2), ("t3", T3)]
    ]
    bench.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    run = tmp_path / "run"
    argv = [sys.executable, "-m", "prover.cli", "prove", "--benchmark", str(bench), "--repl-command", fake_repl.command]
    argv += ["--tactics", "bad,subst h,cheat,rfl,omega", "--workers", "3", "--concurrency", "1", "--out", str(run)]
    argv += ["--sandbox", "off"]  # the header-load log is the stand-in's own file on the host
    done = subprocess.run([*argv, "--search-workers", "3"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    records = {r["name"]: r for r in map(json.loads, (run / "results.jsonl").read_text().splitlines())}
    assert records["t1"]["proof"] == ["subst h", "rfl"] and records["t1"]["verified"]
    assert records["t2"]["proof"] == ["omega"] and records["t2"]["verified"]
    assert records["t3"]["status"] == "failed" and not records["t3"]["verified"]
    assert len(set(fake_repl.header_loads())) > 1  # the searches used more than one process
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["config"]["env"]["search_workers"] == 3
    # How many processes a search uses changes no record: another count resumes the run.
    again = subprocess.run([*argv, "--search-workers", "1"], capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert len((run / "results.jsonl").read_text().splitlines()) == 3
