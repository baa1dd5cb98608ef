"""`prover setup lean`: elan, a Lean project with Mathlib at the benchmark's version, and the REPL.

Every step is skipped when its result is already there, so running it again is cheap. What each
step did is recorded in the project (``llemma-setup.json``): asked for another Lean version, the
steps made for the old one run again (Mathlib updated, its cache fetched, the REPL checked out at
the new tag and rebuilt). The first step that fails stops the set-up with what failed and the fix.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sandbox.setup import ensure_bubblewrap

logger = logging.getLogger(__name__)

DEFAULT_LEAN_VERSION = "v4.9.0"  # what DeepSeek's miniF2F file was written against
MATHLIB_URL = "https://github.com/leanprover-community/mathlib4"
REPL_URL = "https://github.com/leanprover-community/repl"
ELAN_INIT = "https://raw.githubusercontent.com/leanprover/elan/master/elan-init.sh"
ELAN_DOCS = "https://github.com/leanprover/elan#installation"
STEP_TIMEOUT = 4 * 3600  # the Mathlib cache download and the REPL build are long but finite
RECORD = "llemma-setup.json"
PACKAGE = "llemma_prover_lean"  # the package name of the lakefile we write: how we know a project is ours


class SetupError(RuntimeError):
    """A set-up step failed; the message names the step and the fix."""


@dataclass(frozen=True, slots=True)
class LeanSetup:
    """Where to build and which versions."""

    project: Path
    lean_version: str = DEFAULT_LEAN_VERSION
    mathlib_rev: str | None = None
    """Defaults to the tag named like the Lean version."""
    repl_rev: str | None = None
    """Defaults to the REPL tag named like the Lean version."""

    @classmethod
    def for_project(
        cls, project: Path, lean_version: str | None = None, mathlib_rev: str | None = None, repl_rev: str | None = None
    ) -> LeanSetup:
        """Without ``lean_version``: the version the project was set up for, else the default."""
        return cls(
            project, lean_version or project_lean_version(project) or DEFAULT_LEAN_VERSION, mathlib_rev, repl_rev
        )

    @property
    def toolchain(self) -> str:
        return f"leanprover/lean4:{self.lean_version}"

    @property
    def mathlib(self) -> str:
        return self.mathlib_rev or self.lean_version

    @property
    def repl(self) -> str:
        return self.repl_rev or self.lean_version

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


def _run(step: str, argv: list[str], fix: str, cwd: Path | None = None) -> None:
    logger.info("%s: %s", step, " ".join(argv))
    env = {**os.environ, "PATH": f"{_elan_bin()}{os.pathsep}{os.environ.get('PATH', '')}"}
    try:
        subprocess.run(argv, cwd=cwd, env=env, check=True, timeout=STEP_TIMEOUT, start_new_session=True)
    except FileNotFoundError as error:
        raise SetupError(f"{step}: {error.filename} is not installed. Fix: {fix}") from None
    except subprocess.CalledProcessError as error:
        raise SetupError(f"{step} failed (exit {error.returncode}): {' '.join(argv)}. Fix: {fix}") from None
    except subprocess.TimeoutExpired:
        raise SetupError(f"{step} did not finish within {STEP_TIMEOUT} s: {' '.join(argv)}. Fix: {fix}") from None


def lakefile(setup: LeanSetup) -> str:
    """The project's lakefile.lean: our package, requiring Mathlib at the chosen revision."""
    return (
        "import Lake\nopen Lake DSL\n\n"
        f"package «{PACKAGE}» where\n\n"
        f'require mathlib from git\n  "{MATHLIB_URL}" @ "{setup.mathlib}"\n'
    )


def project_lean_version(project: Path) -> str | None:
    """The Lean version a project was set up for (``v4.9.0``), from its ``lean-toolchain``."""
    path = project / "lean-toolchain"
    if not path.is_file():
        return None
    return path.read_text().strip().rpartition(":")[2] or None


def _done(setup: LeanSetup) -> dict[str, str]:
    """What each step already did, as ``{step: revision}``.

    A project set up before the record existed is read from what is there, for the
    version its ``lean-toolchain`` names.
    """
    path = setup.project / RECORD
    if path.is_file():
        with contextlib.suppress(ValueError):
            return dict(json.loads(path.read_text()))
    version = project_lean_version(setup.project)
    if version is None:
        return {}
    there = {
        "mathlib": (setup.project / ".lake" / "packages" / "mathlib").exists(),
        "cache": (setup.project / ".lake" / "llemma-cache-ok").exists(),
        "repl": (setup.repl_dir / ".git").exists(),
        "build": setup.repl_binary.exists(),
    }
    toolchain = f"leanprover/lean4:{version}"
    revisions = {"mathlib": version, "cache": version, "repl": version, "build": f"{version} {toolchain}"}
    return {step: revisions[step] for step, present in there.items() if present}


def _mark(setup: LeanSetup, done: dict[str, str], step: str, revision: str) -> None:
    done[step] = revision
    (setup.project / RECORD).write_text(json.dumps(done, indent=1) + "\n")


def _install_elan(say: Callable[[str], None]) -> None:
    if _tool("elan") is not None:
        say("[1/5] elan found")
        return
    say("[1/5] installing elan (the Lean version manager)")
    fix = f"check the internet connection, or install elan by hand ({ELAN_DOCS}); then run `prover setup lean` again"
    with tempfile.TemporaryDirectory() as folder:
        script = Path(folder) / "elan-init.sh"
        # Downloaded first, run after: a failed download stops here instead of feeding nothing to sh.
        _run("download elan", ["curl", "-sSfL", ELAN_INIT, "-o", str(script)], fix)
        _run("install elan", ["sh", str(script), "-y", "--default-toolchain", "none"], fix)
    if _tool("elan") is None:
        raise SetupError(f"install elan finished, but there is no elan in {_elan_bin()}. Fix: {fix}")


def _check_ours(project: Path) -> None:
    """Refuse to write over a Lean project that `prover setup lean` did not make."""
    ours = project / "lakefile.lean"
    foreign = (ours.is_file() and f"package «{PACKAGE}»" not in ours.read_text()) or (
        project / "lakefile.toml"
    ).is_file()
    if foreign:
        raise SetupError(
            f"{project} holds a Lean project that `prover setup lean` did not make (its lakefile would be "
            "overwritten). Fix: choose another --lean-project, or point `prover prove --lean-project` at that "
            "project once it has Mathlib and a built REPL (repl/.lake/build/bin/repl)"
        )


def setup_lean(setup: LeanSetup, say: Callable[[str], None] = print) -> list[str]:
    """Run every missing or outdated step; return the flags to pass to `prover prove`."""
    _check_ours(setup.project)
    ensure_bubblewrap(say)  # the sandbox every REPL process runs in (without it they run unsandboxed)
    _install_elan(say)
    lake = _tool("lake")
    if lake is None:
        raise SetupError(f"elan is installed but there is no lake in {_elan_bin()}. Fix: reinstall elan ({ELAN_DOCS})")

    done = _done(setup)
    setup.project.mkdir(parents=True, exist_ok=True)
    (setup.project / "lean-toolchain").write_text(setup.toolchain + "\n")
    (setup.project / "lakefile.lean").write_text(lakefile(setup))
    packages = setup.project / ".lake" / "packages" / "mathlib"
    if done.get("mathlib") == setup.mathlib and packages.exists():
        say(f"[2/5] Mathlib {setup.mathlib} already fetched")
    else:
        before = f" (was {done['mathlib']})" if "mathlib" in done else ""
        say(f"[2/5] fetching Mathlib {setup.mathlib}{before} (lake update)")
        fix = f"check that Mathlib has the tag {setup.mathlib} ({MATHLIB_URL}/tags; or --mathlib-rev) and the network"
        _run("lake update", [lake, "update"], fix, cwd=setup.project)
        _mark(setup, done, "mathlib", setup.mathlib)

    if done.get("cache") == setup.mathlib:
        say("[3/5] Mathlib cache already present")
    else:
        say("[3/5] downloading Mathlib's compiled cache (lake exe cache get)")
        fix = f"run `lake exe cache get` in {setup.project} again (it resumes); without it Mathlib builds for hours"
        _run("lake exe cache get", [lake, "exe", "cache", "get"], fix, cwd=setup.project)
        marker = setup.project / ".lake" / "llemma-cache-ok"
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text(setup.toolchain + "\n")
        _mark(setup, done, "cache", setup.mathlib)

    fix = f"check that the REPL has the tag {setup.repl} ({REPL_URL}/tags, or pass --repl-rev) and the network"
    if done.get("repl") == setup.repl and (setup.repl_dir / ".git").exists():
        say("[4/5] REPL sources present")
    elif (setup.repl_dir / ".git").exists():
        say(f"[4/5] checking out the Lean REPL at {setup.repl} (was {done.get('repl', 'another version')})")
        _run("fetch the REPL", ["git", "fetch", "--depth", "1", "origin", setup.repl], fix, cwd=setup.repl_dir)
        _run("check out the REPL", ["git", "checkout", "--detach", "FETCH_HEAD"], fix, cwd=setup.repl_dir)
        _mark(setup, done, "repl", setup.repl)
    else:
        say(f"[4/5] cloning the Lean REPL at {setup.repl}")
        clone = ["git", "clone", "--depth", "1", "--branch", setup.repl, REPL_URL, str(setup.repl_dir)]
        _run("clone the REPL", clone, fix)
        _mark(setup, done, "repl", setup.repl)
    (setup.repl_dir / "lean-toolchain").write_text(setup.toolchain + "\n")

    build = f"{setup.repl} {setup.toolchain}"
    if done.get("build") == build and setup.repl_binary.exists():
        say("[5/5] REPL already built")
    else:
        say("[5/5] building the REPL (lake build)")
        fix = (
            f"see the build output above; the REPL at {setup.repl} must support Lean {setup.lean_version} (--repl-rev)"
        )
        _run("build the REPL", [lake, "build"], fix, cwd=setup.repl_dir)
        if not setup.repl_binary.exists():
            raise SetupError(f"the REPL build finished but {setup.repl_binary} is missing. Fix: {fix}")
        _mark(setup, done, "build", build)
    return ["--env", "lean-repl", "--lean-project", str(setup.project)]


def project_versions(project: Path) -> dict[str, str | None]:
    """Lean, Mathlib and REPL versions of a project made by `setup_lean` (for run manifests)."""

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
        _run("clone SafeVerify", ["git", "clone", SAFEVERIFY_URL, str(folder)], "check the network and rerun")
    fix = f"remove {folder} and rerun `prover setup lean --verifier`"
    _run("check out SafeVerify", ["git", "-C", str(folder), "checkout", "--detach", release.commit], fix)
    if release.mode == "build":
        lake = _tool("lake") or str(_elan_bin() / "lake")
        say("[verifier] building SafeVerify (lake exe cache get, lake build safe_verify)")
        _run("fetch SafeVerify's Mathlib cache", [lake, "exe", "cache", "get"], fix, cwd=folder)
        _run("build SafeVerify", [lake, "build", "safe_verify"], fix, cwd=folder)
    marker.write_text(json.dumps(wanted) + "\n")
    say(f"[verifier] SafeVerify {release.commit[:10]} installed")
    return ["--verify", "kernel"]
