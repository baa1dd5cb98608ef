"""Level ``kernel``: every found proof replayed through Lean's kernel in a fresh process.

The proof that passed the ``repl`` level is compiled to an ``.olean`` together with
its header, the benchmark statement closed by ``sorry`` is compiled alone as the
target, and SafeVerify (GasStationManager/SafeVerify, pinned to the Lean version in
use) replays every declaration of the submission through the kernel
(``Environment.replay``), checks that the theorem has the target's name, kind and
type, and that it depends only on the standard axioms. Meta code that added
declarations behind the kernel's back, changed the environment or replaced an
axiom fails the replay. ``prover setup lean --verifier`` installs it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from lean_env.verify import CheckPlan, checked_statement
from sandbox import Mount, kill_group, spawn, wrap
from search import Theorem, Verdict

logger = logging.getLogger(__name__)

METHOD = "kernel replay (SafeVerify)"
VERIFIER_DIR = "safeverify"
MARKER = ".llemma-verifier.json"


@dataclass(frozen=True, slots=True)
class SafeVerifyRelease:
    """A SafeVerify revision for one Lean version, and how it runs."""

    commit: str
    mode: str
    """``run``: its Main.lean is interpreted inside the Lean project (it imports only Lean and
    Batteries, which Mathlib brings); ``build``: it is built with lake and its binary run."""


# The Lean versions SafeVerify has a revision for (branches for miniF2F checking, release tags).
SAFEVERIFY_URL = "https://github.com/GasStationManager/SafeVerify"
SAFEVERIFY_RELEASES: dict[str, SafeVerifyRelease] = {
    "v4.9.0": SafeVerifyRelease("0c0f7dcf6cb66333a944d062ec4c431986da1ca6", "run"),  # minif2f-deepseek-check
    "v4.15.0": SafeVerifyRelease("577e95319a2bb1bb8df541f0c645811f6577a0ae", "run"),  # minif2f-kimina-check
    "v4.26.0": SafeVerifyRelease("91e4ca22a6e7defa540cbafe31ca015c12cb2704", "build"),  # tag v4.26.0
    "v4.27.0": SafeVerifyRelease("dbe482f60738ea57102603b9dff7231e573702de", "build"),  # tag v4.27.0
}


class KernelUnavailable(RuntimeError):
    """``--verify kernel`` was asked for but no kernel checker is installed; the message says how."""


@dataclass(frozen=True, slots=True)
class KernelSettings:
    """How to compile a Lean file and run the checker on two ``.olean`` files.

    ``checker_command`` holds the placeholders ``{target}`` and ``{submission}``.
    """

    lean_command: tuple[str, ...]
    checker_command: tuple[str, ...]
    cwd: str | None = None
    timeout: float = 900.0
    """Seconds for each compilation and for the replay (each loads Mathlib's environment)."""
    sandbox: bool = False
    """Run each compilation and replay under bubblewrap, writing only its own work folder."""


def installed_settings(project: Path) -> KernelSettings | None:
    """The settings of the checker `prover setup lean --verifier` installed in ``project``, if any."""
    marker = project / VERIFIER_DIR / MARKER
    if not marker.is_file():
        return None
    try:
        info = json.loads(marker.read_text())
        mode = info["mode"]
    except (ValueError, KeyError, TypeError):
        return None
    folder = project / VERIFIER_DIR
    if mode == "run":
        checker = ("lake", "env", "lean", "--run", str(folder / "Main.lean"), "{target}", "{submission}")
    else:
        checker = ("lake", "env", str(folder / ".lake" / "build" / "bin" / "safe_verify"), "{target}", "{submission}")
    return KernelSettings(lean_command=("lake", "env", "lean"), checker_command=checker, cwd=str(project))


@dataclass(frozen=True, slots=True)
class _Run:
    returncode: int | None
    stdout: str
    stderr: str


class KernelChecker:
    """Compiles target and submission and runs the replay, each in a fresh process with a finite timeout."""

    def __init__(self, settings: KernelSettings) -> None:
        self.settings = settings
        self._folder = Path(tempfile.mkdtemp(prefix="llemma-kernel-"))
        self._targets: dict[tuple[str, str], Path] = {}
        self._counter = 0
        self._lock = asyncio.Lock()

    async def check(self, theorem: Theorem, plan: CheckPlan) -> Verdict:
        """The kernel's verdict on a proof that already passed the ``repl`` level."""
        target = await self._target(theorem)
        if isinstance(target, Verdict):
            return target
        self._counter += 1
        compiled = await self._compile_text(f"s{self._counter}", "Submission.lean", theorem.header, plan.text)
        if isinstance(compiled, Verdict):
            return compiled
        argv = [a.format(target=target, submission=compiled) for a in self.settings.checker_command]
        run = await self._run(argv)
        output = run.stdout + "\n" + run.stderr
        finished = any(line.startswith("Finished") for line in run.stdout.splitlines())
        if run.returncode == 0 and finished and not re.search("found a problem", output, re.IGNORECASE):
            return Verdict(True, "the kernel replayed the proof against the statement", METHOD, "kernel")
        return Verdict(False, f"the kernel replay refused the proof: {_reason(run)}", METHOD, "kernel")

    async def _target(self, theorem: Theorem) -> Path | Verdict:
        key = (theorem.header, theorem.statement)
        async with self._lock:
            if key not in self._targets:
                statement = f"{checked_statement(theorem)} sorry\n"
                compiled = await self._compile_text(f"t{len(self._targets)}", "Target.lean", theorem.header, statement)
                if isinstance(compiled, Verdict):
                    return compiled
                self._targets[key] = compiled
            return self._targets[key]

    async def _compile_text(self, folder: str, name: str, header: str, text: str) -> Path | Verdict:
        """The header and ``text`` written as ``name`` in a work folder of its own, compiled."""
        work = self._folder / folder
        work.mkdir()
        source = work / name
        source.write_text(f"{header.rstrip()}\n\n{text}")
        return await self._compile(source)

    async def _compile(self, source: Path) -> Path | Verdict:
        olean = source.with_suffix(".olean")
        run = await self._run([*self.settings.lean_command, "-o", str(olean), str(source)], writes=source.parent)
        if run.returncode != 0 or not olean.is_file():
            reason = f"{source.name} did not compile for the kernel check: {_reason(run)}"
            return Verdict(False, reason, METHOD, "kernel")
        return olean

    async def _run(self, argv: Sequence[str], writes: Path | None = None) -> _Run:
        """One process in its own group; killed (the group, by its id) when it passes the timeout.

        In the sandbox a compilation may write only its own work folder: the cached targets
        and the other submissions stay out of reach of the code it elaborates.
        """
        command = list(argv)
        if self.settings.sandbox:
            command = await asyncio.to_thread(self._contained, command, writes)
        try:
            proc = await spawn(
                command, cwd=self.settings.cwd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
            )
        except OSError as error:
            return _Run(None, "", f"cannot start {argv[0]}: {error}")
        try:
            async with asyncio.timeout(self.settings.timeout):
                out, err = await proc.communicate()
        except TimeoutError:
            await kill_group(proc)
            return _Run(None, "", f"did not finish within {self.settings.timeout:g} s and was killed")
        except BaseException:  # cancelled: the process must not outlive the check
            await kill_group(proc)
            raise
        return _Run(proc.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"))

    def _contained(self, argv: list[str], writes: Path | None) -> list[str]:
        from lean_env.contain import lean_policy

        inner, policy = lean_policy(argv, self.settings.cwd)
        if writes is not None:
            policy = replace(policy, mounts=(*policy.mounts, Mount(str(writes), writable=True)))
        return wrap(inner, policy)

    def close(self) -> None:
        import shutil

        shutil.rmtree(self._folder, ignore_errors=True)


def _reason(run: _Run) -> str:
    lines = [line.strip() for line in (run.stderr + "\n" + run.stdout).splitlines() if line.strip()]
    for line in reversed(lines):
        if "uncaught exception" in line or "error" in line.lower() or "problem" in line.lower():
            return line[:500]
    if run.returncode is None:
        return lines[-1][:500] if lines else "the process did not run"
    return f"exit code {run.returncode}" + (f": {lines[-1][:500]}" if lines else "")
