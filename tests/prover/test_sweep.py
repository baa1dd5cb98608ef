"""`prover sweep`: a grid of runs over the REPL stand-in, each its own run, resumable as a whole."""

from __future__ import annotations

import json

import pytest
import yaml

from prover import cli
from prover.config import ConfigError, ProveConfig
from prover.sweep import Sweep, parse_grid, point_name
from tests.lean_env.conftest import FakeRepl
from tests.prover.proved_runs import SCRIPT, TACTICS, write_rows

ROWS = [("v1", "t1", "valid"), ("v2", "t2", "valid"), ("v3", "t3", "valid")]
POINTS = ["max_expansions=1,attempts=1", "max_expansions=1,attempts=2", "max_expansions=5,attempts=1"]
POINTS.append("max_expansions=5,attempts=2")
GRID = ["--grid", "max-expansions=1,5", "attempts=1,2"]


@pytest.fixture
def config_file(tmp_path):
    """A YAML configuration proving three theorems on the stand-in (t1 needs 2 expansions, t2 one, t3 none)."""
    fake = FakeRepl(tmp_path, script=SCRIPT)
    bench = write_rows(tmp_path / "bench.jsonl", ROWS)
    config = {
        "run": {"benchmark": str(bench), "concurrency": 2},
        "env": {"repl_command": fake.command, "workers": 2},
        "generator": {"tactics": TACTICS.split(",")},
        "search": {"tactic_timeout": 60},
    }
    path = tmp_path / "base.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True))
    return path, fake


def results(point_dir):
    return (point_dir / "results.jsonl").read_bytes()


def test_a_sweep_runs_each_point_in_its_own_run_and_reports_them_side_by_side(config_file, tmp_path):
    config, _ = config_file
    out = tmp_path / "sweep"
    assert cli.main(["sweep", str(config), *GRID, "--out", str(out), "--no-plots"]) == 0
    for name in POINTS:
        manifest = json.loads((out / name / "manifest.json").read_text())
        expansions, attempts = (int(part.split("=")[1]) for part in name.split(","))
        assert manifest["config"]["search"]["max_expansions"] == expansions
        assert manifest["config"]["run"]["attempts"] == attempts
        assert manifest["sweep"]["settings"] == {"search.max_expansions": expansions, "run.attempts": attempts}
        records = [json.loads(line) for line in results(out / name).splitlines()]
        assert len(records) == 3 * attempts
        proved = {r["name"] for r in records if r["status"] == "proved"}
        assert proved == ({"v2"} if expansions == 1 else {"v1", "v2"})
    state = json.loads((out / "sweep.json").read_text())
    assert {name: point["status"] for name, point in state["points"].items()} == dict.fromkeys(POINTS, "done")
    report = (out / "report.md").read_text()
    for name in POINTS:
        assert f"| {name} | " in report
    assert "| max_expansions=5,attempts=1 | 2/3 | 66.7% | 20.8% - 93.9% | +1 -0 of 3 | 1 | within noise |" in report


def test_the_same_command_skips_finished_points_and_resumes_a_partial_one(config_file, tmp_path, capsys):
    config, fake = config_file
    out = tmp_path / "sweep"
    argv = ["sweep", str(config), *GRID, "--out", str(out), "--no-plots"]
    assert cli.main(argv) == 0
    before = {name: results(out / name) for name in POINTS}
    loads = len(fake.header_loads())
    capsys.readouterr()
    assert cli.main(argv) == 0
    assert capsys.readouterr().err.count("(already complete)") == 4
    assert {name: results(out / name) for name in POINTS} == before
    assert len(fake.header_loads()) == loads  # no prover process was even started
    # A point killed after its first record: only its missing attempts run again.
    partial = out / POINTS[3]
    first_line = before[POINTS[3]].splitlines(keepends=True)[0]
    (partial / "results.jsonl").write_bytes(first_line)
    assert cli.main(argv) == 0
    assert capsys.readouterr().err.count("(already complete)") == 3
    lines = results(partial).splitlines()
    assert len(lines) == 6 and lines[0] == first_line.rstrip(b"\n")
    assert len({(json.loads(x)["name"], json.loads(x)["attempt"]) for x in lines}) == 6


def test_a_changed_base_configuration_is_refused_on_the_same_sweep(config_file, tmp_path, capsys):
    config, _ = config_file
    out = tmp_path / "sweep"
    assert cli.main(["sweep", str(config), "--grid", "max-expansions=1", "--out", str(out), "--no-plots"]) == 0
    changed = yaml.safe_load(config.read_text())
    changed["search"]["timeout"] = 5
    config.write_text(yaml.safe_dump(changed, allow_unicode=True))
    capsys.readouterr()
    assert cli.main(["sweep", str(config), "--grid", "max-expansions=1", "--out", str(out), "--no-plots"]) == 2
    err = capsys.readouterr().err
    assert "different base configuration" in err and "search.timeout: 600.0 -> 5.0" in err
    (tmp_path / "not-a-sweep").mkdir()
    (tmp_path / "not-a-sweep" / "results.jsonl").write_text("")
    argv = ["sweep", str(config), "--grid", "max-expansions=1", "--out", str(tmp_path / "not-a-sweep")]
    assert cli.main(argv) == 2
    assert "not a sweep directory" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("max-expansion=1,2", "Did you mean: max_expansions?"),
        ("name=a,b", "ambiguous: use one of generator.name, env.name"),
        ("out=a,b", "run.out cannot be a grid key"),
        ("max_expansions=ten", "search.max_expansions: expected an integer"),
        ("samples=4,4", "repeats a value"),
        ("samples", "expected key=v1,v2"),
    ],
)
def test_bad_grid_keys_and_values_name_the_fix(item, message):
    with pytest.raises(ConfigError, match=message.replace("?", r"\?")):
        parse_grid([item], ProveConfig())


def test_grid_values_are_typed_and_point_names_are_safe_and_distinct():
    axes = parse_grid(
        ["samples=4,8", "tactics=[rfl, simp],[omega]", "env.name=lean-repl", "generator.name=hf"], ProveConfig()
    )
    assert [a.values for a in axes[:2]] == [(4, 8), (("rfl", "simp"), ("omega",))]
    assert [a.label for a in axes[2:]] == ["env.name", "generator.name"]  # the field alone would be ambiguous
    assert (
        point_name(axes, [4, ("rfl", "simp"), "lean-repl", "hf"])
        == "samples=4,tactics=rfl+simp,env.name=lean-repl,generator.name=hf"
    )
    odd = parse_grid(["tactics=[../x, 'a b'],[../x, a_b]", "seed=1"], ProveConfig())
    names = [point_name(odd, [value, 1]) for value in odd[0].values]
    assert len(set(names)) == 2 and all("/" not in name for name in names)


async def test_a_sweep_on_ray_gives_the_same_records_as_locally(config_file, tmp_path):
    ray = pytest.importorskip("ray", reason="the ray extra is not installed")
    from prover.config import load_config, merge

    config, _ = config_file
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        outcomes = {}
        for where in ("local", "ray"):
            base = load_config(str(config))
            if where == "ray":
                base = merge(base, {"run": {"ray": "local"}}, "test")
            sweep = Sweep(base, parse_grid(["max-expansions=1,5"], base), tmp_path / where, source=str(config))
            summaries = await sweep.run()
            outcomes[where] = [(point.name, summary["proved"], summary["total"]) for point, summary in summaries]
    finally:
        ray.shutdown()
    assert outcomes["ray"] == outcomes["local"] == [("max_expansions=1", 1, 3), ("max_expansions=5", 2, 3)]
