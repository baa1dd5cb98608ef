"""`prover setup` installs bubblewrap with the system's package manager when it is missing."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import pytest

from sandbox import bwrap
from sandbox.setup import ensure_bubblewrap

# A stand-in apt-get: logs its arguments; `install bubblewrap` puts a `bwrap` on PATH (a link to the
# real one, so the check that follows runs a real sandbox), but only after `update` when STALE is set.
FAKE_APT = """#!/bin/sh
echo "apt-get $*" >> "$APT_LOG"
case "$1" in
  update) rm -f "$STALE" ;;
  install) [ -e "$STALE" ] && { echo "E: Unable to locate package bubblewrap" >&2; exit 100; }
           ln -sf "$REAL_BWRAP" "$(dirname "$0")/bwrap" ;;
esac
"""


@pytest.fixture
def no_bwrap(tmp_path, monkeypatch):
    real = shutil.which("bwrap")
    if real is None or bwrap.probe() is not None:
        pytest.skip("needs a working bubblewrap to stand behind the fake package manager")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    apt = bin_dir / "apt-get"
    apt.write_text(FAKE_APT)
    apt.chmod(apt.stat().st_mode | stat.S_IEXEC)
    for tool in ("sh", "rm", "ln", "dirname", "true"):
        (bin_dir / tool).symlink_to(shutil.which(tool))
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.setenv("APT_LOG", str(tmp_path / "apt.log"))
    monkeypatch.setenv("REAL_BWRAP", real)
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    yield tmp_path
    bwrap.probe.cache_clear()


def test_a_missing_bwrap_is_installed_with_apt_then_checked(no_bwrap):
    said: list[str] = []
    assert ensure_bubblewrap(said.append)
    assert (no_bwrap / "apt.log").read_text().splitlines() == ["apt-get install -y -q bubblewrap"]
    assert said[-1].startswith("[sandbox] bubblewrap works")


def test_a_stale_package_index_is_updated_first(no_bwrap, monkeypatch):
    stale = no_bwrap / "stale"
    stale.touch()
    monkeypatch.setenv("STALE", str(stale))
    assert ensure_bubblewrap(lambda _: None)
    assert (no_bwrap / "apt.log").read_text().splitlines() == [
        "apt-get install -y -q bubblewrap",
        "apt-get update -q",
        "apt-get install -y -q bubblewrap",
    ]


def test_without_root_it_says_the_fix_and_goes_on(no_bwrap, monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    said: list[str] = []
    assert not ensure_bubblewrap(said.append)
    assert not Path(no_bwrap / "apt.log").exists()
    assert "not root" in said[-1] and "apt-get install bubblewrap" in said[-1] and "--sandbox off" in said[-1]
