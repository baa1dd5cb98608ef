"""Installing bubblewrap during `prover setup`: with the system's package manager when we may, else the fix."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable

from sandbox.bwrap import FIX, probe

INSTALL_TIMEOUT = 600
APT_INSTALL = ("apt-get", "install", "-y", "-q", "bubblewrap")
# Package manager -> attempts, each a sequence of commands (a stale apt index needs an update first).
INSTALLERS: dict[str, tuple[tuple[tuple[str, ...], ...], ...]] = {
    "apt-get": ((APT_INSTALL,), (("apt-get", "update", "-q"), APT_INSTALL)),
    "dnf": ((("dnf", "install", "-y", "bubblewrap"),),),
}


def _run(step: tuple[str, ...], say: Callable[[str], None]) -> bool:
    say(f"          {' '.join(step)}")
    try:
        done = subprocess.run(
            step,
            capture_output=True,
            timeout=INSTALL_TIMEOUT,
            check=False,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def _install(say: Callable[[str], None]) -> str | None:
    """Install bubblewrap as root with the first package manager found; None, or why it did not work."""
    if os.geteuid() != 0:
        return "not root, so not installing it"
    manager = next((name for name in INSTALLERS if shutil.which(name)), None)
    if manager is None:
        return "no apt-get or dnf here"
    for attempt in INSTALLERS[manager]:
        if all(_run(step, say) for step in attempt) and shutil.which("bwrap"):
            return None
    return f"{manager} could not install bubblewrap"


def ensure_bubblewrap(say: Callable[[str], None] = print) -> bool:
    """Make sure prover processes can be sandboxed: install bubblewrap if missing, then check it runs."""
    if shutil.which("bwrap") is None:
        say("[sandbox] bubblewrap is not installed: installing it")
        problem = _install(say)
        if problem is not None:
            say(f"[sandbox] not installed ({problem}); prover processes will run unsandboxed. Fix: {FIX}")
            return False
    probe.cache_clear()
    reason = probe()
    if reason is not None:
        say(f"[sandbox] {reason}; prover processes will run unsandboxed. Fix: {FIX}")
        return False
    say("[sandbox] bubblewrap works: Lean and PISA processes run sandboxed (no network, read-only toolchain)")
    return True
