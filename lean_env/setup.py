"""`prover setup lean`: elan, a Lean project with Mathlib at the benchmark's version, and the REPL.

Every step is skipped when its result is already there, so running it again is cheap.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sandbox.setup import ensure_bubblewrap

logger = logging.getLogger(__name__)

DEFAULT_LEAN_VERSION = "v4.9.0"  # what DeepSeek's miniF2F file was written against
MATHLIB_URL = "https://github.com/leanprover-community/mathlib4"
REPL_URL = "https://github.com/leanprover-community/repl"
ELAN_INIT = "https://raw.githubusercontent.com/leanprover/elan/master/elan-init.sh"
STEP_TIMEOUT = 4 * 3600  # the Mathlib cache download and the REPL build are long but finite


class SetupError(RuntimeError):
    """A set-up step failed; the message names the step and the command to retry."""


@dataclass(frozen=True, slots=True)
class LeanSetup:
    """Where to build and which versions."""

    project: Path
    lean_version: str = DEFAULT_LEAN_VERSION
    mathlib_rev: str | None = None
    """Defaults to the tag named like the Lean version."""
    repl_rev: str | None = None
    """Defaults to the REPL tag named like the Lean version."""

    @property
    def repl_dir(self) -> Path:
        return self.project / "repl"

    @property
    def repl_binary(self) -> Path:
        return self.repl_dir / ".lake" / "build" / "bin" / "repl"


def _elan_bin() -> Path:
    return Path(os.environ.get("ELAN_HOME", Path.home() / ".elan")) / "bin"


def _tool(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidate = _elan_bin() / name
    return str(candidate) if candidate.exists() else None


def _run(step: str, argv: list[str], cwd: Path | None = None, shell: bool = False) -> None:
    logger.info("%s: %s", step, " ".join(argv))
    env = {**os.environ, "PATH": f"{_elan_bin()}{os.pathsep}{os.environ.get('PATH', '')}"}
    try:
        subprocess.run(
            argv if not shell else " ".join(argv),
            cwd=cwd,
            env=env,
            shell=shell,
            check=True,
            timeout=STEP_TIMEOUT,
            start_new_session=True,
        )
    except FileNotFoundError as error:
        raise SetupError(f"{step}: {error.filename} is not installed") from None
    except subprocess.CalledProcessError as error:
        raise SetupError(f"{step} failed (exit {error.returncode}): {' '.join(argv)}") from None
    except subprocess.TimeoutExpired:
        raise SetupError(f"{step} did not finish within {STEP_TIMEOUT} s: {' '.join(argv)}") from None


def lakefile(setup: LeanSetup) -> str:
    rev = setup.mathlib_rev or setup.lean_version
    return (
        "import Lake\nopen Lake DSL\n\n"
        "package «llemma_prover_lean» where\n\n"
        f'require mathlib from git\n  "{MATHLIB_URL}" @ "{rev}"\n'
    )


def setup_lean(setup: LeanSetup, say: Callable[[str], None] = print) -> list[str]:
    """Run every missing step; return the flags to pass to `prover prove`."""
    ensure_bubblewrap(say)  # the sandbox every REPL process runs in (without it they run unsandboxed)
    toolchain = f"leanprover/lean4:{setup.lean_version}"
    if _tool("elan") is None:
        say("[1/5] installing elan (the Lean version manager)")
        _run(
            "install elan",
            ["curl", "-sSfL", ELAN_INIT, "|", "sh", "-s", "--", "-y", "--default-toolchain", "none"],
            shell=True,
        )
    else:
        say("[1/5] elan found")

    setup.project.mkdir(parents=True, exist_ok=True)
    (setup.project / "lean-toolchain").write_text(toolchain + "\n")
    (setup.project / "lakefile.lean").write_text(lakefile(setup))
    lake = _tool("lake") or str(_elan_bin() / "lake")
    packages = setup.project / ".lake" / "packages" / "mathlib"
    if not packages.exists():
        say(f"[2/5] fetching Mathlib {setup.mathlib_rev or setup.lean_version} (lake update)")
        _run("lake update", [lake, "update"], cwd=setup.project)
    else:
        say("[2/5] Mathlib already fetched")

    marker = setup.project / ".lake" / "llemma-cache-ok"
    if not marker.exists():
        say("[3/5] downloading Mathlib's compiled cache (lake exe cache get)")
        _run("lake exe cache get", [lake, "exe", "cache", "get"], cwd=setup.project)
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text(toolchain + "\n")
    else:
        say("[3/5] Mathlib cache already present")

    if not (setup.repl_dir / ".git").exists():
        rev = setup.repl_rev or setup.lean_version
        say(f"[4/5] cloning the Lean REPL at {rev}")
        _run("clone the REPL", ["git", "clone", "--depth", "1", "--branch", rev, REPL_URL, str(setup.repl_dir)])
    else:
        say("[4/5] REPL sources present")
    (setup.repl_dir / "lean-toolchain").write_text(toolchain + "\n")

    if not setup.repl_binary.exists():
        say("[5/5] building the REPL (lake build)")
        _run("build the REPL", [lake, "build"], cwd=setup.repl_dir)
    else:
        say("[5/5] REPL already built")
    if not setup.repl_binary.exists():
        raise SetupError(f"the REPL build finished but {setup.repl_binary} is missing")
    return ["--env", "lean-repl", "--lean-project", str(setup.project)]


def project_versions(project: Path) -> dict[str, str | None]:
    """Lean, Mathlib and REPL versions of a project made by `setup_lean` (for run manifests)."""
    import json

    def read(path: Path) -> str | None:
        return path.read_text().strip() if path.is_file() else None

    mathlib = None
    manifest = project / "lake-manifest.json"
    if manifest.is_file():
        with contextlib.suppress(ValueError, KeyError, TypeError):
            packages = json.loads(manifest.read_text())["packages"]
            mathlib = next((p.get("rev") for p in packages if p.get("name") == "mathlib"), None)
    repl = None
    head = project / "repl" / ".git" / "HEAD"
    if head.is_file():
        repl = read(head)
        if repl and repl.startswith("ref: "):
            repl = read(project / "repl" / ".git" / repl.removeprefix("ref: ")) or repl
    return {"lean": read(project / "lean-toolchain"), "mathlib": mathlib, "repl": repl}


def setup_verifier(setup: LeanSetup, say: Callable[[str], None] = print) -> list[str]:
    """Install SafeVerify at the revision made for the project's Lean version (`--verify kernel`)."""
    import json

    from lean_env.kernel import MARKER, SAFEVERIFY_RELEASES, SAFEVERIFY_URL, VERIFIER_DIR

    release = SAFEVERIFY_RELEASES.get(setup.lean_version)
    if release is None:
        raise SetupError(
            f"SafeVerify has no revision for Lean {setup.lean_version} (it has {', '.join(SAFEVERIFY_RELEASES)}); "
            "the kernel level is not available for this version: use --verify repl, or pass --kernel-command "
            "with a checker of your own"
        )
    folder = setup.project / VERIFIER_DIR
    marker = folder / MARKER
    wanted = {"lean_version": setup.lean_version, "commit": release.commit, "mode": release.mode}
    if marker.is_file() and json.loads(marker.read_text() or "{}") == wanted:
        say(f"[verifier] SafeVerify {release.commit[:10]} already installed for Lean {setup.lean_version}")
        return ["--verify", "kernel"]
    if not (folder / ".git").exists():
        say(f"[verifier] cloning SafeVerify for Lean {setup.lean_version}")
        _run("clone SafeVerify", ["git", "clone", SAFEVERIFY_URL, str(folder)])
    _run("check out SafeVerify", ["git", "-C", str(folder), "checkout", "--detach", release.commit])
    if release.mode == "build":
        lake = _tool("lake") or str(_elan_bin() / "lake")
        say("[verifier] building SafeVerify (lake exe cache get, lake build safe_verify)")
        _run("fetch SafeVerify's Mathlib cache", [lake, "exe", "cache", "get"], cwd=folder)
        _run("build SafeVerify", [lake, "build", "safe_verify"], cwd=folder)
    marker.write_text(json.dumps(wanted) + "\n")
    say(f"[verifier] SafeVerify {release.commit[:10]} installed")
    return ["--verify", "kernel"]
