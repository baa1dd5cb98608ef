"""Batch runs: kill-and-resume, crashing workers, Ray, and the results they leave."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from prover.config import ProveConfig, merge
from prover.runner import Runner
from tests.lean_env.conftest import FakeRepl, write_benchmark

TACTICS = "bad,cheat,subst h,rfl,omega"


def prove_argv(bench, run, fake: FakeRepl, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "prover.cli",
        "prove",
        "--benchmark",
        str(bench),
        "--repl-command",
        fake.command,
        "--tactics",
        TACTICS,
        "--workers",
        "2",
        "--concurrency",
        "2",
        "--out",
        str(run),
        *extra,
    ]


def records(run) -> list[dict]:
    return [json.loads(line) for line in (run / "results.jsonl").read_text().splitlines()]


def written(run) -> int:
    """Complete lines in results.jsonl (a line half-written at a kill does not count)."""
    path = run / "results.jsonl"
    return path.read_bytes().count(b"\n") if path.exists() else 0


def wait_for(condition, timeout: float = 120.0) -> bool:
    """Poll ``condition`` until it holds; False when ``timeout`` seconds pass first."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


@pytest.mark.parametrize("records_before_kill", [0, 1, 4, 6])
def test_sigkill_mid_run_then_resume_records_each_theorem_once(tmp_path, records_before_kill):
    fake = FakeRepl(tmp_path, step_delay=0.05)
    bench = write_benchmark(tmp_path / "bench.jsonl", 9)
    run = tmp_path / "run"
    # The stand-in's header-load log is how this test sees work in flight: uncontained, so it reaches us.
    uncontained = ("--sandbox", "off")
    proc = subprocess.Popen(
        prove_argv(bench, run, fake, *uncontained),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        # Work is in flight once a REPL has loaded the header; then wait for the records wanted.
        reached = wait_for(lambda: bool(fake.header_loads()) and written(run) >= records_before_kill)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the runner and its REPL processes, at once
        proc.wait(timeout=30)
    assert reached, "the run never got that far"
    at_kill = written(run)
    assert records_before_kill <= at_kill < 9  # the kill hit the run in the middle
    done = subprocess.run(prove_argv(bench, run, fake, *uncontained), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    names = [r["name"] for r in records(run)]
    assert sorted(names) == sorted(f"r{i}" for i in range(9))  # every theorem exactly once
    by_name = {r["name"]: r for r in records(run)}
    assert {by_name[f"r{i}"]["status"] for i in (0, 3, 6)} == {"proved"}
    assert {by_name[f"r{i}"]["status"] for i in (2, 5, 8)} == {"failed"}
    assert json.loads((run / "summary.json").read_text())["total"] == 9


def test_resume_with_a_different_configuration_is_refused(tmp_path):
    fake = FakeRepl(tmp_path)
    bench = write_benchmark(tmp_path / "bench.jsonl", 2)
    run = tmp_path / "run"
    assert subprocess.run(prove_argv(bench, run, fake), capture_output=True, timeout=120).returncode == 0
    changed = subprocess.run(
        prove_argv(bench, run, fake, "--max-expansions", "7"), capture_output=True, text=True, timeout=120
    )
    assert changed.returncode == 2
    assert "different configuration" in changed.stderr and "search.max_expansions" in changed.stderr
    # Running more theorems, or more at once, is a resume, not a different configuration.
    more = subprocess.run(prove_argv(bench, run, fake, "--concurrency", "4"), capture_output=True, timeout=120)
    assert more.returncode == 0


class CrashingProvider:
    """Sessions for theorem r1 blow up as a worker crash would."""

    language = "lean4"

    def __init__(self, inner):
        self.inner = inner

    @asynccontextmanager
    async def session(self):
        async with self.inner.session() as env:
            original = env.start

            async def start(theorem):
                if theorem.name == "r1":
                    raise RuntimeError("worker process died (signal 9)")
                return await original(theorem)

            env.start = start
            yield env

    async def close(self):
        await self.inner.close()


async def test_a_crashing_worker_is_recorded_and_the_run_completes(tmp_path):
    from prover.envs import build_env

    fake = FakeRepl(tmp_path)
    bench = write_benchmark(tmp_path / "bench.jsonl", 3)
    config = merge(
        ProveConfig(),
        {
            "run": {"benchmark": str(bench), "out": str(tmp_path / "run"), "attempts": 2},
            "env": {"repl_command": fake.command},
            "generator": {"tactics": TACTICS},
        },
        "test",
    )
    provider = CrashingProvider(build_env(config.env, config.search))
    summary = await Runner(config, env=provider).run()
    lines = records(tmp_path / "run")
    assert len(lines) == 6
    crashed = [r for r in lines if r["name"] == "r1"]
    assert [r["status"] for r in crashed] == ["error", "error"]
    assert "worker process died" in crashed[0]["error"]
    assert summary["proved"] == 1 and summary["total"] == 3  # r0 proved, r2 has no sound proof
    assert {r["attempt"] for r in lines if r["name"] == "r0"} == {0, 1}
    assert len({r["seed"] for r in lines}) == 6
    await provider.close()


@pytest.fixture(scope="module")
def local_ray():
    """A local Ray with 2 CPUs; only the tests that use it skip when Ray is not installed."""
    ray = pytest.importorskip("ray", reason="the ray extra is not installed")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def comparable(lines):
    return sorted(
        (r["name"], r["attempt"], r["status"], json.dumps(r["proof"]), r["verified"], r["seed"]) for r in lines
    )


async def test_ray_mode_gives_the_same_records_as_local_mode(tmp_path, local_ray):
    fake = FakeRepl(tmp_path)
    bench = write_benchmark(tmp_path / "bench.jsonl", 6)
    base = {
        "run": {"benchmark": str(bench)},
        "env": {"repl_command": fake.command, "workers": 2},
        "generator": {"tactics": TACTICS},
    }
    local = merge(ProveConfig(), base, "test")
    local = merge(local, {"run": {"out": str(tmp_path / "local")}}, "test")
    await Runner(local).run()
    on_ray = merge(local, {"run": {"out": str(tmp_path / "ray"), "ray": "local"}}, "test")
    summary = await Runner(on_ray).run()
    assert comparable(records(tmp_path / "ray")) == comparable(records(tmp_path / "local"))
    assert summary["proved"] == 4 and summary["total"] == 6


async def test_on_ray_each_prover_actor_owns_the_processes_of_one_search(tmp_path, local_ray):
    fake = FakeRepl(tmp_path)
    bench = write_benchmark(tmp_path / "bench.jsonl", 3)
    base = {
        "run": {"benchmark": str(bench), "out": str(tmp_path / "local")},
        "env": {"repl_command": fake.command, "workers": 2},
        "generator": {"tactics": TACTICS},
    }
    local = merge(ProveConfig(), base, "test")
    await Runner(local).run()
    wide = {"run": {"out": str(tmp_path / "ray"), "ray": "local"}, "env": {"search_workers": 2}}
    summary = await Runner(merge(local, wide, "test")).run()
    assert comparable(records(tmp_path / "ray")) == comparable(records(tmp_path / "local"))
    assert summary["total"] == 3


async def test_ray_model_actor_serves_an_hf_model(tmp_path, local_ray):
    pytest.importorskip("torch", reason="the hf extra is not installed")
    from prover.bench.tiny import tiny_model_and_tokenizer

    model, tokenizer = tiny_model_and_tokenizer()
    model.save_pretrained(tmp_path / "model")
    tokenizer.save_pretrained(tmp_path / "model")
    fake = FakeRepl(tmp_path)
    bench = write_benchmark(tmp_path / "bench.jsonl", 3)
    config = merge(
        ProveConfig(),
        {
            "run": {"benchmark": str(bench), "out": str(tmp_path / "run"), "ray": "local"},
            "env": {"repl_command": fake.command, "workers": 2},
            "generator": {
                "name": "hf",
                "model": str(tmp_path / "model"),
                "prompt": "reprover",
                "samples": 2,
                "max_new_tokens": 4,
            },
            "search": {"max_expansions": 2},
        },
        "test",
    )
    summary = await Runner(config).run()
    lines = records(tmp_path / "run")
    assert summary["total"] == 3 and len(lines) == 3
    assert all(r["status"] in ("failed", "budget") and r["stats"]["model_calls"] >= 1 for r in lines)


def prover_actor_pids() -> list[int]:
    """The processes of this test's Ray (descendants of this process) that are prover actors."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue  # the process ended meanwhile
            children.setdefault(ppid, []).append(int(entry.name))
    found, stack = [], [os.getpid()]
    while stack:
        for child in children.get(stack.pop(), []):
            stack.append(child)
            try:
                title = (Path("/proc") / str(child) / "cmdline").read_bytes()
            except OSError:
                continue
            if title.startswith(b"ray::ProverActor"):
                found.append(child)
    return sorted(found)


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="finds the actor processes in /proc (Linux)")
async def test_a_killed_prover_actor_costs_one_error_record_and_is_replaced(tmp_path, local_ray):
    fake = FakeRepl(tmp_path, step_delay=0.05)
    bench = write_benchmark(tmp_path / "bench.jsonl", 8)
    run = tmp_path / "run"
    config = merge(
        ProveConfig(),
        {
            "run": {"benchmark": str(bench), "out": str(run), "ray": "local", "concurrency": 2},
            # uncontained: the test counts prover processes by the stand-in's header-load log
            "env": {"repl_command": fake.command, "workers": 2, "sandbox": "off"},
            "generator": {"tactics": TACTICS},
        },
        "test",
    )
    running = asyncio.create_task(Runner(config).run())
    # In the middle of the run: a first record is written, six or more theorems wait.
    started = await asyncio.to_thread(wait_for, lambda: written(run) >= 1 and len(prover_actor_pids()) == 2)
    assert started, "the run never got going"
    victim = prover_actor_pids()[0]
    os.kill(victim, signal.SIGKILL)
    summary = await running
    lines = records(run)
    assert sorted(r["name"] for r in lines) == [f"r{i}" for i in range(8)]
    errors = [r for r in lines if r["status"] == "error"]
    assert len(errors) == 1 and "prover actor failed" in errors[0]["error"]
    expected = {0: ("proved", ["subst h", "rfl"]), 1: ("proved", ["omega"]), 2: ("failed", None)}
    for line in lines:
        if line is not errors[0]:  # every other theorem as without the kill
            assert (line["status"], line["proof"]) == expected[int(line["name"][1:]) % 3], line
    assert summary["total"] == 8
    assert len(fake.header_loads()) == 3  # the replacement started a prover process of its own


def test_ray_actors_never_share_a_pisa_server():
    from prover.config import ProveConfig, merge
    from prover.distributed import actor_share

    config = merge(ProveConfig(), {"env": {"pisa_address": ["h:1", "h:2", "h:3"], "workers": 4}}, "test")
    shares = [actor_share(config, slot, 3).env for slot in range(3)]
    assert [s.pisa_address for s in shares] == [("h:1",), ("h:2",), ("h:3",)]
    assert all(s.workers == 1 for s in shares)
