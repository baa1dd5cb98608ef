from __future__ import annotations

import json
import re
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from prover import cli
from prover.benchmarks import BenchmarkError, load_benchmark, shard_of
from prover.config import ConfigError, ProveConfig, load_config, shipped_configs
from prover.doctor import run_checks
from prover.runner import Runner
from tests.search.scripted import PROVED, ScriptedEnv


def test_every_shipped_config_loads():
    names = shipped_configs()
    assert {"llemma-minif2f", "reprover", "bfs-prover", "internlm-stepprover", "portfolio-baseline"} <= set(names)
    llemma = load_config("llemma-minif2f")
    assert llemma.generator.samples == 32 and llemma.generator.prompt == "llemma"
    assert llemma.search.scoring == "avg-logprob" and llemma.search.max_expansions == 100
    assert llemma.search.timeout == 600.0
    assert load_config("reprover").search.max_expansions is None
    assert load_config("bfs-prover").search.scoring == "length-normalized"


def test_flags_override_the_config_file(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("generator:\n  samples: 4\n  tactics: [omega, simp]\nsearch:\n  timeout: 30\n")
    args = cli.build_parser().parse_args(["prove", "--config", str(path), "--samples", "2", "--names", "a,b"])
    config = cli.prove_config(args)
    assert config.generator.samples == 2
    assert config.generator.tactics == ("omega", "simp")
    assert config.search.timeout == 30.0
    assert config.run.names == ("a", "b")


def test_search_workers_come_from_the_flag_and_never_exceed_the_pool():
    args = cli.build_parser().parse_args(["prove", "--workers", "8", "--search-workers", "4"])
    assert cli.prove_config(args).env.search_workers == 4
    assert cli.prove_config(cli.build_parser().parse_args(["prove"])).env.search_workers == 1
    too_many = cli.build_parser().parse_args(["prove", "--workers", "2", "--search-workers", "4"])
    with pytest.raises(ConfigError, match=r"search_workers 4 must be between 1 and workers \(2\).*raise --workers"):
        cli.prove_config(too_many)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("generator:\n  sampels: 4\n", "unknown field 'sampels'. Did you mean: samples?"),
        ("serch:\n  timeout: 3\n", "unknown section 'serch'. Did you mean: search?"),
        (
            "search:\n  scoring: beam\n",
            'search.scoring: expected one of cumulative, avg-logprob, length-normalized, got "beam"',
        ),
        ("- a list\n", "expected a mapping"),
        ("search:\n  max_expansions: '10'\n", 'search.max_expansions: expected an integer, got "10"'),
        ("run:\n  attempts: '2'\n", 'run.attempts: expected an integer, got "2"'),
        ("run:\n  keep_graphs: 'no'\n", 'run.keep_graphs: expected true or false, got "no"'),
        ("search:\n  timeout: fast\n", 'search.timeout: expected a number, got "fast"'),
        ("env:\n  pisa_ports: [8000, x]\n", 'env.pisa_ports[1]: expected an integer, got "x"'),
        ("generator:\n  tactics: {simp: 1}\n", "generator.tactics: expected a list"),
    ],
)
def test_bad_config_files_say_what_is_wrong(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_config(str(path))


def test_unknown_config_name_suggests_the_closest():
    with pytest.raises(ConfigError, match="Did you mean: llemma-minif2f"):
        load_config("llemma-minif2")


def test_cli_reports_user_errors_without_a_traceback(capsys):
    assert cli.main(["prove", "--generator", "vlm"]) == 2
    err = capsys.readouterr().err
    assert "Unknown generator 'vlm'. Did you mean: vllm?" in err
    assert "Traceback" not in err


def test_version_flag(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.startswith("llemma-prover ")


def test_doctor_tells_the_truth_about_this_machine(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("LLEMMA_PROVER_HOME", str(tmp_path))
    monkeypatch.delenv("PISA_ADDRESS", raising=False)
    checks = {c.name: c for c in run_checks()}
    assert not checks["Lean REPL"].ok and "prover setup lean" in checks["Lean REPL"].fix
    assert not checks["PISA server"].ok
    assert not checks["miniF2F data"].ok and checks["miniF2F data"].fix == "prover data get minif2f"
    try:
        import torch  # noqa: F401

        assert checks["torch"].ok
    except ImportError:
        assert not checks["torch"].ok
    assert cli.main(["doctor"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(checks)
    assert all(line.startswith(("ok ", "missing ")) for line in lines)


def test_doctor_reaches_a_pisa_address(monkeypatch):
    import socket

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    monkeypatch.setenv("PISA_ADDRESS", f"127.0.0.1:{server.getsockname()[1]}")
    checks = {c.name: c for c in run_checks()}
    server.close()
    assert checks["PISA server"].ok


# -- benchmarks and the runner ----------------------------------------------------------------

ROWS = [
    {
        "name": "easy",
        "split": "test",
        "header": "import Mathlib\n",
        "formal_statement": "theorem easy : True := by\n",
        "informal_prefix": "/-- Show True. -/\n",
    },
    {"name": "hard", "split": "test", "header": "import Mathlib\n", "formal_statement": "theorem hard : False := by\n"},
    {"name": "other", "split": "valid", "header": "", "formal_statement": "theorem other : True := by\n"},
]


def write_rows(path: Path) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    return path


def test_jsonl_loader_fields_and_filters(tmp_path):
    path = write_rows(tmp_path / "b.jsonl")
    bench = load_benchmark(str(path))
    assert [t.name for t in bench.theorems] == ["easy", "hard", "other"]
    easy = bench.theorems[0]
    assert easy.informal_statement == "Show True." and easy.header == "import Mathlib\n" and easy.split == "test"
    assert [t.name for t in load_benchmark(str(path), names=("hard",)).theorems] == ["hard"]
    assert len(load_benchmark(str(path), limit=1).theorems) == 1
    with pytest.raises(BenchmarkError, match="no theorem named nope"):
        load_benchmark(str(path), names=("nope",))


def test_shards_partition_the_theorems(tmp_path):
    path = write_rows(tmp_path / "b.jsonl")
    shards = [load_benchmark(str(path), shard=f"{i}/2").theorems for i in range(2)]
    assert sorted(t.name for s in shards for t in s) == ["easy", "hard", "other"]
    # Fixed expected shards: a name lands in the same shard on every machine and in every Python run.
    # (Python's salted hash() would pass a check made within one process, and fail these.)
    assert [shard_of(name, 7) for name in ("easy", "hard", "other")] == [3, 2, 6]
    assert [shard_of(name, 8) for name in ("mathd_algebra_10", "imo_1959_p1", "aime_1983_p1")] == [1, 1, 3]
    assert [t.name for t in load_benchmark(str(path), shard="2/7").theorems] == ["hard"]
    with pytest.raises(BenchmarkError, match="I/N"):
        load_benchmark(str(path), shard="2")


def test_lean_file_loader_takes_sorry_theorems(tmp_path):
    path = tmp_path / "t.lean"
    path.write_text(
        "import Mathlib\nopen Nat\n\ntheorem a (n : ℕ) : n + 0 = n := by sorry\n\n"
        "theorem done : True := by trivial\n\nlemma b : 1 = 1 := by\n  sorry\n"
    )
    theorems = load_benchmark(str(path)).theorems
    assert [t.name for t in theorems] == ["a", "b"]
    assert theorems[0].header == "import Mathlib\nopen Nat\n\n"
    assert theorems[0].statement == "theorem a (n : ℕ) : n + 0 = n := by\n"


class ScriptedProvider:
    """One scripted env per theorem; 'True' has a proof, 'False' has none."""

    language = "lean4"

    def __init__(self) -> None:
        self.sessions = 0

    @asynccontextmanager
    async def session(self):
        self.sessions += 1
        yield ScriptedEnv({"s0": {"trivial": PROVED}})

    async def close(self) -> None:
        pass


class PerTheoremGenerator:
    async def propose(self, requests):
        from search import Candidate

        return [[Candidate("trivial" if "True" in r.theorem.statement else "simp", -1.0, 1)] for r in requests]


async def test_runner_writes_results_manifest_and_summary_and_resumes(tmp_path):
    path = write_rows(tmp_path / "b.jsonl")
    config = load_config("portfolio-baseline")
    from prover.config import merge

    config = merge(config, {"run": {"benchmark": str(path), "out": str(tmp_path / "run")}}, "test")
    provider = ScriptedProvider()
    summary = await Runner(config, env=provider, generator=PerTheoremGenerator()).run()
    run = tmp_path / "run"
    lines = [json.loads(x) for x in (run / "results.jsonl").read_text().splitlines()]
    assert {(r["name"], r["status"], r["verified"]) for r in lines} == {
        ("easy", "proved", True),
        ("hard", "failed", False),
        ("other", "proved", True),
    }
    assert all({"name", "split", "status", "proof", "verified", "attempt", "stats", "error"} <= set(r) for r in lines)
    assert summary["total"] == 3 and summary["proved"] == 2 and summary["pass_rate"] == pytest.approx(2 / 3)
    assert json.loads((run / "summary.json").read_text())["proved"] == 2
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["benchmark"]["sha256"] and manifest["config"]["generator"]["name"] == "portfolio"
    # A second run of the same command finds everything done.
    again = ScriptedProvider()
    await Runner(config, env=again, generator=PerTheoremGenerator()).run()
    assert again.sessions == 0
    assert len((run / "results.jsonl").read_text().splitlines()) == 3


async def test_runner_repairs_a_half_written_line(tmp_path):
    path = write_rows(tmp_path / "b.jsonl")
    run = tmp_path / "run"
    run.mkdir()
    first = {"name": "easy", "split": "test", "attempt": 0, "status": "proved", "verified": True}
    (run / "results.jsonl").write_text(json.dumps(first) + "\n" + '{"name": "hard", "sta')
    from prover.config import merge

    config = merge(ProveConfig(), {"run": {"benchmark": str(path), "out": str(run)}}, "test")
    provider = ScriptedProvider()
    summary = await Runner(config, env=provider, generator=PerTheoremGenerator()).run()
    assert provider.sessions == 2
    names = [json.loads(x)["name"] for x in (run / "results.jsonl").read_text().splitlines()]
    assert sorted(names) == ["easy", "hard", "other"]
    assert summary["total"] == 3


def test_folder_of_lean_files_one_theorem_each(tmp_path):
    for split, name in [("test", "a"), ("valid", "b")]:
        folder = tmp_path / "bench" / split
        folder.mkdir(parents=True)
        (folder / f"{name}.lean").write_text(f"import Mathlib\n\ntheorem {name} : 1 + 1 = 2 := by\n  sorry\n")
    (tmp_path / "bench" / "Common.lean").write_text("import Mathlib\n")
    bench = load_benchmark(str(tmp_path / "bench"))
    assert [(t.name, t.split) for t in bench.theorems] == [("a", "test"), ("b", "valid")]
    assert len(bench.sha256) == 64


def test_jsonl_aliases_for_other_minif2f_exports(tmp_path):
    path = tmp_path / "other.jsonl"
    path.write_text(json.dumps({"id": "x", "statement": "theorem x : True := by\n", "split": "valid"}) + "\n")
    (theorem,) = load_benchmark(str(path)).theorems
    assert theorem.name == "x" and theorem.split == "valid"
    path.write_text(json.dumps({"id": "x"}) + "\n")
    with pytest.raises(BenchmarkError, match="missing field"):
        load_benchmark(str(path))
