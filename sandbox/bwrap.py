"""The bubblewrap command line for one contained prover process, and whether bubblewrap works here.

A contained process gets: its own network namespace (only its own loopback, so no
network), its own PID, IPC and UTS namespaces, no capabilities, death with its
parent, the system directories and the mounts of its policy read-only (the
toolchain, the project, the command's executable and file arguments), a private
``/tmp`` of bounded size, a root that is otherwise empty and read-only, and an
environment holding only the variables its policy names. Its memory limit is set
by the caller (``RLIMIT_AS`` survives exec into and out of bubblewrap).
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

logger = logging.getLogger(__name__)

Mode = Literal["auto", "on", "off"]
MODES: tuple[str, ...] = ("auto", "on", "off")
PROBE_TIMEOUT = 20.0

# What a dynamically linked program needs of the host; /etc only in the parts that name libraries,
# users, time zones and Java's configuration (Debian links the JDK's config into /etc).
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
SYSTEM_ETC = (
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/alternatives",
    "/etc/passwd",
    "/etc/group",
    "/etc/nsswitch.conf",
    "/etc/hosts",
    "/etc/localtime",
    "/etc/java-11-openjdk",
    "/etc/java-17-openjdk",
)
PASSED_ENV = ("PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "LC_CTYPE", "TZ")
"""Variables kept from the host by default: nothing that could hold a secret (tokens, keys)."""

FIX = (
    "install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap; Fedora: dnf install bubblewrap; "
    "or `prover setup lean`), and where the kernel restricts user namespaces allow them "
    "(sysctl kernel.unprivileged_userns_clone=1, or kernel.apparmor_restrict_unprivileged_userns=0); "
    "or run without containment: --sandbox off"
)


class SandboxUnavailable(RuntimeError):
    """``--sandbox on`` was asked for where bubblewrap cannot run; the message names the fix."""


@dataclass(frozen=True, slots=True)
class Mount:
    """A host path made visible inside the sandbox (at the same path unless ``target`` says otherwise)."""

    source: str
    target: str | None = None
    writable: bool = False

    @property
    def inside(self) -> str:
        return self.target or self.source


@dataclass(frozen=True, slots=True)
class Policy:
    """What one contained process may see and use."""

    mounts: tuple[Mount, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    """The whole environment inside (the host's is cleared); ``TMPDIR`` is always the private /tmp."""
    cwd: str | None = None
    """Working directory inside; it must be mounted. Default: the private /tmp."""
    tmp_size_mb: int = 1024
    """Size of the private /tmp (memory-backed, so it is bounded)."""
    system: tuple[str, ...] = field(default=SYSTEM_DIRS + SYSTEM_ETC)


def host_env(names: Iterable[str] = PASSED_ENV, extra: Mapping[str, str] | None = None) -> tuple[tuple[str, str], ...]:
    """The named host variables that are set, plus ``extra``, as a policy's environment."""
    chosen = {name: os.environ[name] for name in names if name in os.environ}
    chosen.update(extra or {})
    return tuple(sorted(chosen.items()))


def _forbidden() -> set[Path]:
    """Folders never mounted whole: the root, the home folder and the host's temp directory."""
    return {Path("/"), Path.home().resolve(), Path(tempfile.gettempdir()).resolve()}


def path_mounts(paths: Iterable[str | os.PathLike[str]]) -> tuple[Mount, ...]:
    """Read-only mounts of the paths that exist, leaving out the root, home and temp folders themselves."""
    forbidden = _forbidden()
    seen: dict[str, Mount] = {}
    for raw in paths:
        path = Path(raw).expanduser()
        if not path.is_absolute() or not path.exists():
            continue
        if path.resolve() in forbidden:
            logger.warning("not mounting %s in the sandbox: it would expose a whole root, home or temp folder", path)
            continue
        seen.setdefault(str(path), Mount(str(path)))
    return tuple(seen.values())


def _installation(executable: Path) -> Path:
    """The folder above ``bin/`` (a venv, a toolchain, a JDK), else the executable itself."""
    if executable.parent.name == "bin" and executable.parent.parent.resolve() not in _forbidden():
        return executable.parent.parent
    return executable


def command_mounts(argv: Sequence[str], cwd: str | None = None) -> tuple[Mount, ...]:
    """Read-only mounts for a command: its executable's installation (as named and resolved), and every
    argument that names an existing file or folder (also after ``--opt=`` and in ``a:b`` lists)."""
    if not argv:
        return ()
    base = Path(cwd) if cwd else Path.cwd()
    found = shutil.which(argv[0]) or argv[0]
    executable = Path(found) if Path(found).is_absolute() else base / found
    paths: list[Path] = []
    if executable.exists():
        paths += [_installation(executable), _installation(executable.resolve())]
    for arg in argv[1:]:
        parts = {arg, arg.partition("=")[2], *arg.split(os.pathsep)}
        for part in filter(None, parts):
            candidate = Path(part).expanduser()
            candidate = candidate if candidate.is_absolute() else base / candidate
            if part.startswith(("/", "./", "../", "~")) or os.sep in part:
                paths.append(candidate)
                if candidate.suffix == ".py" and candidate.is_file():
                    # A Python script imports the modules beside it: those (and nothing else there) go too.
                    paths += sorted(p for p in candidate.parent.glob("*.py") if p != candidate)
    return path_mounts(paths)


def _covers(outer: Mount, inner: Mount) -> bool:
    """``inner`` shows the same host path at the same place as part of ``outer`` does, read-only."""
    if outer.writable or outer.source != outer.inside or inner.source != inner.inside:
        return False
    return Path(inner.inside).is_relative_to(outer.inside)


def wrap(argv: Sequence[str], policy: Policy, bwrap: str = "bwrap") -> list[str]:
    """The bubblewrap command line that runs ``argv`` under ``policy``."""
    args = [
        bwrap,
        "--die-with-parent",
        "--new-session",
        "--unshare-net",
        "--unshare-pid",
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--cap-drop",
        "ALL",
    ]
    for path in policy.system:
        args += ["--ro-bind-try", path, path]
    # /proc/sys is writable under a fresh /proc and host-wide when we run as root (core_pattern would run a
    # program of the sandbox's choosing as host root): read-only, like /dev (whose /dev/shm is a RAM disk).
    args += ["--proc", "/proc", "--ro-bind", "/proc/sys", "/proc/sys"]
    args += ["--ro-bind-try", "/proc/sysrq-trigger", "/proc/sysrq-trigger", "--dev", "/dev", "--remount-ro", "/dev"]
    args += ["--size", str(policy.tmp_size_mb * 1024 * 1024), "--tmpfs", "/tmp"]
    # Parents before children, so a mount inside another (a file of a read-only project) stays visible.
    placed: list[Mount] = []
    for mount in sorted(policy.mounts, key=lambda m: (m.inside.count("/"), m.inside)):
        if not mount.writable and any(_covers(outer, mount) for outer in placed):
            continue  # already visible, read-only, through a folder mounted above it
        placed.append(mount)
        args += ["--bind" if mount.writable else "--ro-bind", mount.source, mount.inside]
    args += ["--remount-ro", "/", "--clearenv"]
    for name, value in policy.env:
        args += ["--setenv", name, value]
    args += ["--setenv", "TMPDIR", "/tmp", "--chdir", policy.cwd or "/tmp", "--", *argv]
    return args


@functools.cache
def probe() -> str | None:
    """``None`` when bubblewrap runs a contained process here, else why not (tried once per process)."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return "bwrap (bubblewrap) is not installed"
    true = next((p for p in ("/usr/bin/true", "/bin/true") if os.path.exists(p)), "true")  # a system path: mounted
    try:
        done = subprocess.run(
            wrap([true], Policy(), bwrap), capture_output=True, text=True, timeout=PROBE_TIMEOUT, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"bwrap did not run: {error}"
    if done.returncode != 0:
        return f"bwrap failed here: {(done.stderr or done.stdout).strip()[-300:] or f'exit {done.returncode}'}"
    return None


@functools.cache
def version() -> str | None:
    """``bubblewrap 0.8.0``, or None when it is not installed."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return None
    try:
        done = subprocess.run([bwrap, "--version"], capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() or None


def resolve(mode: str) -> bool:
    """Whether to contain processes: ``off`` never, ``auto`` where bubblewrap works, ``on`` or refuse."""
    if mode not in MODES:
        raise ValueError(f"--sandbox must be one of {', '.join(MODES)}, not {mode!r}")
    if mode == "off":
        return False
    reason = probe()
    if reason is None:
        return True
    if mode == "on":
        raise SandboxUnavailable(f"--sandbox on, but {reason}. Fix: {FIX}")
    logger.warning("prover processes run without a sandbox: %s", reason)
    return False


def describe(mode: str) -> str:
    """One line on whether prover processes are contained, for run manifests and `prover doctor`."""
    if mode == "off":
        return "off (--sandbox off): prover processes see the network, the home and temp folders"
    reason = probe()
    if reason is not None:
        prefix = "unavailable" if mode == "on" else "off (auto)"
        return f"{prefix}: {reason}"
    return f"on ({version() or 'bubblewrap'}): no network, own PID namespace, read-only toolchain, private /tmp"
