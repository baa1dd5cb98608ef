"""The sandbox around Lean REPL processes, tried by a stand-in REPL whose tactic attempts to escape."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import sandbox
from lean_env.contain import lean_policy
from lean_env.repl_env import LeanReplEnv
from prover.config import EnvConfig
from prover.envs import repl_pool
from search import Failed, Goals, Proved, Theorem
from tests.lean_env.conftest import G1, HEADER, SCRIPT, T1, FakeRepl

needs_bwrap = pytest.mark.skipif(sandbox.probe() is not None, reason=f"bubblewrap cannot run here: {sandbox.probe()}")
TH1 = Theorem("t1", T1 + "\n", header=HEADER)
MEMORY_MB = 3000


class Listener:
    """A loopback TCP listener in the test process that records what connects to it."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.received: list[bytes] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(2)
                self.received.append(conn.recv(100))

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=5)
        self.sock.close()


def escape_targets(tmp_path: Path, listener: Listener, read_only: Path) -> dict:
    """What the probe tries: the listener, a file in a folder mounted read-only and one in the host's
    temp directory, a secret file there, the test process, the token in the environment."""
    (tmp_path / "secret.txt").write_text("host secret")
    return {
        "connect": listener.port,
        "write": [str(read_only / "planted"), str(tmp_path / "outside.txt")],
        "read": str(tmp_path / "secret.txt"),
        "signal": os.getpid(),
        "env": "LLEMMA_PROVER_TOKEN",
    }


def escape_setup(tmp_path: Path, listener: Listener) -> tuple[FakeRepl, Path, dict]:
    """A fake REPL whose tactic `escape` runs the probe; a project folder; the probe's targets."""
    project = tmp_path / "project"
    project.mkdir()
    targets = escape_targets(tmp_path, listener, project)
    fake = FakeRepl(tmp_path)
    script = json.loads(json.dumps(SCRIPT))
    script["states"][G1]["escape"] = {"probe": targets}
    fake.script.write_text(json.dumps(script))
    return fake, project, targets


async def run_escape(tmp_path: Path, mode: str, monkeypatch) -> tuple[dict, Listener, dict]:
    """Prove t1 through `prover.envs.repl_pool` with ``--sandbox mode``, trying the escape on the way."""
    monkeypatch.setenv("LLEMMA_PROVER_TOKEN", "s3cret-token")
    listener = Listener()
    fake, project, targets = escape_setup(tmp_path, listener)
    config = EnvConfig(
        repl_command=fake.command, lean_project=str(project), sandbox=mode, memory_limit_mb=MEMORY_MB, workers=1
    )
    pool = repl_pool(config)
    env = LeanReplEnv(pool)
    try:
        root = await env.start(TH1)
        outcome = await env.apply(root, "escape", 10)
        assert isinstance(outcome, Failed) and "PROBE " in outcome.message, outcome
        report = json.loads(outcome.message.split("PROBE ", 1)[1])
        # The run still proves what it should, and the proof passes the whole-proof check.
        step = await env.apply(root, "subst h", 10)
        assert isinstance(step, Goals)
        assert isinstance(await env.apply(step, "rfl", 10), Proved)
        assert (await env.verify(TH1, ["subst h", "rfl"])).ok
    finally:
        await env.close()
        await pool.close()
        listener.close()
    return report, listener, targets


@needs_bwrap
async def test_a_tactic_in_the_sandbox_cannot_reach_the_network_files_processes_or_secrets(tmp_path, monkeypatch):
    report, listener, targets = await run_escape(tmp_path, "on", monkeypatch)
    planted, outside = targets["write"]
    assert report["connect"].startswith("denied") and listener.received == []
    assert report[f"write {planted}"].startswith("denied") and not Path(planted).exists()  # the project is read-only
    assert not Path(outside).exists()  # the host's temp directory is not there: a write lands in the private /tmp
    assert report["read"].startswith("denied") and "host secret" not in json.dumps(report)
    assert report["signal"].startswith("denied")  # the test process is outside the sandbox's PID namespace
    assert report["env"] is None  # the host's variables (tokens) are cleared
    assert report["rlimit_as"] == MEMORY_MB * 1024 * 1024  # the memory limit holds inside


async def test_without_the_sandbox_the_same_tactic_escapes(tmp_path, monkeypatch):
    """The control: the probe does succeed when nothing contains it, so the test above can fail."""
    report, listener, targets = await run_escape(tmp_path, "off", monkeypatch)
    planted, outside = targets["write"]
    assert report["connect"] == "ok: connected" and listener.received == [b"escaped"]
    assert Path(planted).read_text() == Path(outside).read_text() == "escaped"
    assert report["read"] == "ok: host secret"
    assert report["signal"].startswith("ok")
    assert report["env"] == "s3cret-token"


def _processes_running(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if marker.encode() in cmdline and b"bwrap" not in cmdline.split(b"\0")[0]:
                found.append(int(entry.name))
    return found


@needs_bwrap
async def test_killing_a_sandboxed_repl_leaves_nothing_running(tmp_path):
    fake = FakeRepl(tmp_path)
    command, policy = lean_policy(fake.argv, None)
    pool = repl_pool(EnvConfig(repl_command=fake.command, sandbox="on", workers=1))
    assert pool.settings.sandbox is not None
    env = LeanReplEnv(pool)
    await env.start(TH1)
    marker = str(fake.script)
    assert _processes_running(marker)  # the REPL itself runs, inside the sandbox
    await env.close()
    await pool.close()
    assert _processes_running(marker) == []
    assert command == fake.argv and policy.cwd is None


@needs_bwrap
async def test_the_memory_cap_still_kills_a_runaway_tactic_in_the_sandbox(tmp_path):
    fake = FakeRepl(tmp_path)
    pool = repl_pool(EnvConfig(repl_command=fake.command, sandbox="on", memory_limit_mb=1024, workers=1))
    env = LeanReplEnv(pool)
    try:
        root = await env.start(TH1)
        outcome = await env.apply(root, "oom", 10)
        assert isinstance(outcome, Failed) and "memory cap of 1024 MB" in outcome.message
        assert "out of memory" in outcome.message  # the stand-in's own MemoryError report: the limit fired
    finally:
        await env.close()
        await pool.close()


FAKE_LAKE = """#!{python}
# A stand-in for Lake's `lake env CMD ...`: like Lake it locks the workspace's trace file for writing
# (which fails on a read-only project), then runs CMD with LEAN_PATH pointing at the build's oleans.
import os, sys
project = os.getcwd()
try:
    open(os.path.join(project, ".lake", "lakefile.olean.trace"), "a").close()
except OSError as error:
    sys.exit(f"error: {{error.strerror}} (error code: {{error.errno}})\\n  file: ./.lake/lakefile.olean.trace")
os.environ["LEAN_PATH"] = os.path.join(project, ".lake", "build", "lib")
os.execvp(sys.argv[2], sys.argv[2:])
"""


def fake_lake_project(tmp_path: Path) -> tuple[Path, Path]:
    toolchain = tmp_path / "toolchain" / "bin"
    toolchain.mkdir(parents=True)
    lake = toolchain / "lake"
    lake.write_text(FAKE_LAKE.format(python=sys.executable))
    lake.chmod(0o755)
    project = tmp_path / "project"
    (project / ".lake" / "build" / "lib").mkdir(parents=True)
    (project / ".lake" / "build" / "lib" / "Mathlib.olean").write_bytes(b"olean")
    return lake, project


@needs_bwrap
async def test_lake_env_is_resolved_outside_the_sandbox_and_the_project_stays_read_only(tmp_path):
    lake, project = fake_lake_project(tmp_path)
    fake = FakeRepl(tmp_path)
    command = f"{lake} env {fake.command} --lean-path"
    pool = repl_pool(EnvConfig(repl_command=command, lean_project=str(project), sandbox="on", workers=1))
    assert pool.settings.command[0] == sys.executable  # the REPL itself runs in the sandbox, not Lake
    assert dict(pool.settings.sandbox.env)["LEAN_PATH"] == str(project / ".lake" / "build" / "lib")
    env = LeanReplEnv(pool)
    try:
        root = await env.start(TH1)  # `import Mathlib` is found through LEAN_PATH
        step = await env.apply(root, "subst h", 10)
        assert isinstance(await env.apply(step, "rfl", 10), Proved)
    finally:
        await env.close()
        await pool.close()


@needs_bwrap
async def test_lake_inside_a_read_only_sandbox_would_fail(tmp_path):
    """Why `lake env` is resolved outside: run inside the sandbox, it cannot lock its trace file."""
    lake, project = fake_lake_project(tmp_path)
    fake = FakeRepl(tmp_path)
    argv = (str(lake), "env", *fake.argv)
    mounts = (*sandbox.command_mounts(argv, str(project)), *sandbox.path_mounts([project]))
    policy = sandbox.Policy(mounts=mounts, env=sandbox.host_env(), cwd=str(project))
    done = subprocess.run(sandbox.wrap(argv, policy), capture_output=True, text=True, timeout=60, input="")
    assert done.returncode != 0 and "read-only file system" in done.stderr.lower()


def test_sandbox_on_without_bubblewrap_refuses_and_names_the_fix(tmp_path, monkeypatch):
    fake = FakeRepl(tmp_path)
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.setattr(sandbox.bwrap, "probe", sandbox.bwrap.probe.__wrapped__)  # not the cached answer
    from prover.envs import EnvUnavailable

    with pytest.raises(EnvUnavailable, match="apt-get install bubblewrap"):
        repl_pool(EnvConfig(repl_command=fake.command, sandbox="on"))
    assert repl_pool(EnvConfig(repl_command=fake.command, sandbox="auto")).settings.sandbox is None
    assert shutil.which("bwrap") is None


def prove_cli(tmp_path: Path, fake: FakeRepl, out: str, *flags: str, env: dict | None = None):
    bench = tmp_path / "bench.jsonl"
    bench.write_text(
        json.dumps({"name": "t1", "split": "test", "header": HEADER, "formal_statement": T1 + "\n"}) + "\n"
    )
    argv = [sys.executable, "-m", "prover.cli", "prove", "--benchmark", str(bench), "--repl-command", fake.command]
    argv += ["--tactics", "subst h,rfl", "--workers", "1", "--out", str(tmp_path / out), *flags]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, env=env)


@needs_bwrap
def test_the_manifest_and_doctor_say_whether_the_sandbox_is_used(tmp_path):
    fake = FakeRepl(tmp_path)
    cases = [("auto", (), "on (bubblewrap"), ("off", ("--sandbox", "off"), "off (--sandbox off)")]
    for mode, flags, expected in cases:
        done = prove_cli(tmp_path, fake, mode, *flags)
        assert done.returncode == 0, done.stderr
        manifest = json.loads((tmp_path / mode / "manifest.json").read_text())
        assert manifest["sandbox"].startswith(expected) and manifest["config"]["env"]["sandbox"] == mode
        (record,) = [json.loads(line) for line in (tmp_path / mode / "results.jsonl").read_text().splitlines()]
        assert record["status"] == "proved"
    doctor = subprocess.run([sys.executable, "-m", "prover.cli", "doctor"], capture_output=True, text=True, timeout=120)
    assert any(line.startswith("ok") and " sandbox " in line for line in doctor.stdout.splitlines()), doctor.stdout


def test_prove_with_sandbox_on_and_no_bubblewrap_stops_and_names_the_fix(tmp_path):
    fake = FakeRepl(tmp_path)
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    done = prove_cli(tmp_path, fake, "run", "--sandbox", "on", env={**os.environ, "PATH": str(empty)})
    assert done.returncode == 2
    assert "--sandbox on, but bwrap (bubblewrap) is not installed" in done.stderr
    assert "apt-get install bubblewrap" in done.stderr
    assert not (tmp_path / "run" / "results.jsonl").exists()


# A stand-in for `lean -o OUT FILE` whose submission, while it elaborates, overwrites every cached target
# it can find next to its own work folder (a kernel check of a later proof would compare against that).
HOSTILE_LEAN = """import glob, os, sys
out, source = sys.argv[sys.argv.index("-o") + 1], sys.argv[-1]
if "Submission" in source:
    for target in glob.glob(os.path.join(os.path.dirname(os.path.dirname(source)), "*", "Target.olean")):
        open(target, "w").write("weakened")
open(out, "w").write("compiled " + os.path.basename(source))
"""


@pytest.mark.parametrize("contained", [True, False])
async def test_a_kernel_check_compile_cannot_touch_the_cached_targets(tmp_path, contained):
    if contained and sandbox.probe() is not None:
        pytest.skip(f"bubblewrap cannot run here: {sandbox.probe()}")
    from lean_env.kernel import KernelChecker, KernelSettings
    from lean_env.verify import plan_check

    lean = tmp_path / "hostile_lean.py"
    lean.write_text(HOSTILE_LEAN)
    settings = KernelSettings(
        lean_command=(sys.executable, str(lean)), checker_command=("true",), timeout=60, sandbox=contained
    )
    checker = KernelChecker(settings)
    try:
        target = await checker._target(TH1)
        assert isinstance(target, Path) and target.read_text() == "compiled Target.lean"
        submission = checker._folder / "s1" / "Submission.lean"
        submission.parent.mkdir()
        submission.write_text(HEADER + plan_check(TH1, ["subst h", "rfl"]).text)
        compiled = await checker._compile(submission)
        assert isinstance(compiled, Path) and compiled.read_text() == "compiled Submission.lean"
        assert target.read_text() == ("compiled Target.lean" if contained else "weakened")
    finally:
        checker.close()


HOLDER = """
import asyncio, sys
from prover.config import EnvConfig
from prover.envs import repl_pool
from lean_env.repl_env import LeanReplEnv
from search import Theorem

async def main():
    pool = repl_pool(EnvConfig(repl_command=sys.argv[1], sandbox="on", workers=1))
    env = LeanReplEnv(pool)
    root = await env.start(Theorem("t1", sys.argv[2] + "\\n", header=sys.argv[3]))
    hang = asyncio.ensure_future(env.apply(root, "hang", 3600))  # the REPL will sleep in this tactic
    for _ in range(20):  # a few turns of the loop: the request is in the pipe (it stays there if we die)
        await asyncio.sleep(0)
    print("ready", flush=True)
    await hang

asyncio.run(main())
"""


@needs_bwrap
def test_a_sandboxed_repl_dies_with_the_process_that_started_it(tmp_path):
    fake = FakeRepl(tmp_path)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, fake.command, T1, HEADER],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        marker = str(fake.script)
        assert _processes_running(marker)
        os.kill(holder.pid, signal.SIGKILL)  # only the runner: the REPL has a session of its own
        holder.wait(timeout=30)
        for _ in range(200):
            if not _processes_running(marker):
                break
            threading.Event().wait(0.05)
        assert _processes_running(marker) == []
    finally:
        if holder.poll() is None:
            os.kill(holder.pid, signal.SIGKILL)
            holder.wait(timeout=30)
        for pid in _processes_running(str(fake.script)):  # left over only when the test fails: ours, by id
            os.kill(pid, signal.SIGKILL)


@needs_bwrap
def test_kernel_settings_and_dev_are_read_only_in_the_sandbox(tmp_path):
    """/proc/sys under a fresh /proc is writable and host-wide for root (core_pattern runs a program as
    host root on a crash); /dev is a RAM disk outside every memory limit. Both must refuse writes."""
    import subprocess

    script = tmp_path / "writes.py"
    script.write_text(
        "import json\n"
        "out = {}\n"
        "for path, text in [('/proc/sys/kernel/core_pattern', 'core'), ('/dev/shm/planted', 'x'),"
        " ('/dev/planted', 'x'), ('/proc/sysrq-trigger', 'h')]:\n"
        "    try:\n"
        "        with open(path, 'w') as handle:\n"
        "            handle.write(text)\n"
        "        out[path] = 'written'\n"
        "    except OSError as error:\n"
        "        out[path] = type(error).__name__\n"
        "with open('/dev/null', 'w') as handle:\n"
        "    handle.write('still a device')\n"
        "print(json.dumps(out))\n"
    )
    command, policy = lean_policy((sys.executable, str(script)), None)
    done = subprocess.run(sandbox.wrap(command, policy), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "written" not in json.loads(done.stdout).values(), done.stdout
