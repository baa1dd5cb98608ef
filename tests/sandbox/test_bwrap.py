"""The sandbox's mounts and modes, and the process-group start and kill both backends use."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

import sandbox
from sandbox import Mount, Policy, command_mounts, kill_group, resolve, spawn, wrap
from sandbox import bwrap as bwrap_module

needs_bwrap = pytest.mark.skipif(sandbox.probe() is not None, reason=f"bubblewrap cannot run here: {sandbox.probe()}")


def test_a_command_mounts_its_interpreter_installation_and_its_file_arguments(tmp_path):
    script = tmp_path / "stand_in.py"
    script.write_text("")
    data = tmp_path / "data.json"
    data.write_text("{}")
    mounts = {m.source for m in command_mounts([sys.executable, str(script), f"--data={data}", "-m", "word"])}
    assert str(Path(sys.executable).resolve().parent.parent) in mounts  # the real interpreter's installation
    assert {str(script), str(data)} <= mounts
    assert not any(m.endswith("word") for m in mounts)
    assert all(not m.writable for m in command_mounts([sys.executable, str(script)]))


def test_home_temp_and_root_folders_are_never_mounted_whole():
    mounts = command_mounts(["/bin/sh", str(Path.home()), tempfile.gettempdir(), "/"])
    assert {m.source for m in mounts}.isdisjoint({str(Path.home()), tempfile.gettempdir(), "/"})


def test_a_file_inside_a_mounted_folder_is_not_mounted_again(tmp_path):
    inner = tmp_path / "tool" / "bin" / "run"
    inner.parent.mkdir(parents=True)
    inner.write_text("")
    args = wrap(["x"], Policy(mounts=(Mount(str(inner)), Mount(str(tmp_path / "tool")))))
    bound = [args[i + 1] for i, arg in enumerate(args) if arg == "--ro-bind" and args[i + 1].startswith(str(tmp_path))]
    assert bound == [str(tmp_path / "tool")]


def test_modes(monkeypatch):
    monkeypatch.setattr(bwrap_module, "probe", lambda: "bwrap (bubblewrap) is not installed")
    assert resolve("off") is False and resolve("auto") is False
    with pytest.raises(sandbox.SandboxUnavailable, match=r"--sandbox on, but bwrap .* apt-get install bubblewrap"):
        resolve("on")
    with pytest.raises(ValueError, match="auto, on, off"):
        resolve("yes")
    assert sandbox.describe("auto").startswith("off (auto): bwrap (bubblewrap) is not installed")
    monkeypatch.setattr(bwrap_module, "probe", lambda: None)
    assert resolve("on") is True and sandbox.describe("auto").startswith("on (")


@needs_bwrap
def test_the_private_tmp_is_bounded_and_the_root_is_read_only(tmp_path):
    argv = [
        sys.executable,
        "-c",
        "import os\n"
        "try:\n    open('/planted', 'w')\nexcept OSError as e:\n    print('root:', e.errno)\n"
        "try:\n    open('/tmp/big', 'wb').write(b'x' * (3 << 20))\nexcept OSError as e:\n    print('tmp:', e.errno)\n",
    ]
    policy = Policy(mounts=command_mounts(argv), env=sandbox.host_env(), tmp_size_mb=2)
    done = subprocess.run(wrap(argv, policy), capture_output=True, text=True, timeout=60, check=True)
    assert "root: 30" in done.stdout  # EROFS
    assert "tmp: 28" in done.stdout  # ENOSPC: 3 MB do not fit in a 2 MB /tmp


async def test_kill_group_ends_the_children_of_the_process_too():
    child_code = (
        "import subprocess, time; p = subprocess.Popen(['sleep', '600']); print(p.pid, flush=True); time.sleep(600)"
    )
    proc = await spawn([sys.executable, "-c", child_code], stdout=asyncio.subprocess.PIPE)
    assert proc.stdout is not None
    grandchild = int(await asyncio.wait_for(proc.stdout.readline(), 30))
    assert os.getpgid(grandchild) == proc.pid  # one group, led by the process we started
    await kill_group(proc)
    assert proc.returncode is not None
    for _ in range(100):  # the grandchild is reaped by init; wait until it is gone
        if not Path(f"/proc/{grandchild}").exists() or "Z" in Path(f"/proc/{grandchild}/stat").read_text().split()[2]:
            break
        await asyncio.sleep(0.05)
    else:
        pytest.fail("the grandchild survived the group kill")


async def test_the_memory_limit_applies_to_the_started_process():
    code = "import resource; print(resource.getrlimit(resource.RLIMIT_AS)[0])"
    proc = await spawn([sys.executable, "-c", code], memory_limit_mb=700, stdout=asyncio.subprocess.PIPE)
    out, _ = await asyncio.wait_for(proc.communicate(), 30)
    assert int(out) == 700 * 1024 * 1024


def test_kernel_settings_and_dev_are_read_only_in_every_sandbox():
    args = wrap(["x"], Policy())
    assert args[args.index("--proc") + 2 : args.index("--proc") + 5] == ["--ro-bind", "/proc/sys", "/proc/sys"]
    assert args[args.index("--dev") + 2 : args.index("--dev") + 4] == ["--remount-ro", "/dev"]
