"""`ProofEnv` over a PISA server: Isar / apply steps on named states, and the sketch check for DSP."""

from __future__ import annotations

import contextlib
import itertools
import logging
import re
import tempfile
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from isabelle_env.checker import GAPS, CheckResult, SketchChecker, theory_text
from isabelle_env.client import PisaClient, PisaError, PisaStepError, PisaTimeout
from isabelle_env.server import PisaPool, PisaSettings
from search import Failed, GaveUp, Goals, Outcome, Proved, Theorem, TimedOut, Verdict

logger = logging.getLogger(__name__)

# Commands that would make a proof count without proving it, or change the logic.
_FORBIDDEN = re.compile(
    r"(?<![\w.'])(sorry|oops|axiomatization|axiom|ML|ML_val|ML_file|ML_prf|setup|local_setup|declare|"
    r"quick_and_dirty|skip_proofs)(?![\w'])"
)
_NEW_THEOREM = re.compile(r"^\s*(theorem|lemma|corollary|proposition|schematic_goal)\b")


def forbidden_step(step: str) -> str | None:
    """The reason a model-written step may not run, or None."""
    if step.strip() in GAPS:
        return None  # a gap: the checker fills it
    found = _FORBIDDEN.search(step)
    if found:
        return f"uses {found.group(1)}"
    if _NEW_THEOREM.match(step):
        return "starts another theorem"
    return None


@dataclass(frozen=True, slots=True)
class IsaHandle:
    """A state by its step path from the statement (stable across server restarts)."""

    path: tuple[str, ...]


class IsabelleEnv:
    """One theory at a time on one PISA server (leased from a pool, or someone else's)."""

    concurrent_apply = False

    def __init__(self, server: Any, settings: PisaSettings) -> None:
        self.server = server
        self.settings = settings
        self.theorem: Theorem | None = None
        self._names: dict[tuple[str, ...], str] = {}
        self._hammered: dict[tuple[str, ...], str] = {}  # state path -> the tactic Sledgehammer found there
        self._counter = itertools.count()
        self._generation = -1
        self._folder = Path(tempfile.mkdtemp(prefix="isabelle-env-"))

    @property
    def client(self) -> PisaClient:
        assert self.server.client is not None
        return self.server.client

    async def _initialise(self, theorem: Theorem) -> str:
        """Fresh state `default` in a theory with the theorem's imports; the statement entered."""
        if self.server.client is None:
            await self.server.start()
        theory = self._folder / "Interactive.thy"
        theory.write_text(theory_text("Interactive", theorem.header.split() or ["Complex_Main"]))
        await self.client.initialise(self.settings.isa_path, str(self._folder), str(theory))
        root = f"r{next(self._counter)}"
        await self.client.step("default", " ".join(theorem.statement.split()), root, self.settings.call_timeout)
        self._generation = self.server.restarts
        return root

    async def start(self, theorem: Theorem) -> Goals:
        self.theorem = theorem
        root = await self._initialise(theorem)
        self._names = {(): root}
        return Goals(await self.client.get_state(root), 1, handle=IsaHandle(()))

    async def _state(self, path: tuple[str, ...]) -> str:
        assert self.theorem is not None
        if self._generation != self.server.restarts:  # the server restarted: replay the path
            self._names = {(): await self._initialise(self.theorem)}
        if path not in self._names:
            parent = await self._state(path[:-1])
            name = f"s{next(self._counter)}"
            await self.client.step(parent, path[-1], name)
            self._names[path] = name
        return self._names[path]

    async def apply(self, goals: Goals, tactic: str, timeout: float) -> Outcome:
        if tactic.strip() == "sledgehammer":
            return await self._hammer(goals)
        if tactic.strip() in GAPS:
            return GaveUp(f"{tactic.strip()} proves nothing")
        reason = forbidden_step(tactic)
        if reason is not None:
            return GaveUp(reason) if "sorry" in reason or "oops" in reason else Failed(f"not allowed: {reason}")
        path = (*goals.handle.path, tactic)
        try:
            parent = await self._state(goals.handle.path)
            name = f"s{next(self._counter)}"
            result = await self.client.step(parent, tactic, name, min(timeout, self.settings.step_timeout))
        except PisaStepError as error:
            return Failed(str(error))
        except PisaTimeout as error:
            await self.server.restart()  # Isabelle keeps running the step: only a restart frees it
            return TimedOut(error.seconds)
        except PisaError as error:
            return Failed(f"PISA failed: {error}")
        self._names[path] = name
        if result.finished:
            return Proved()
        return Goals(result.text, max(1, result.text.count("subgoal")), handle=IsaHandle(path))

    async def _hammer(self, goals: Goals) -> Outcome:
        """Sledgehammer as a step: the tactic it finds is what the proof records and replays."""
        path = (*goals.handle.path, "sledgehammer")
        try:
            parent = await self._state(goals.handle.path)
            name = f"s{next(self._counter)}"
            found = await self.client.hammer(parent, name, self.settings.call_timeout)
        except PisaStepError as error:
            return Failed(str(error))
        except PisaTimeout as error:
            await self.server.restart()
            return TimedOut(error.seconds)
        self._hammered[goals.handle.path] = found
        self._names[path] = name
        if await self.client.is_finished(name):
            return Proved(found)
        return Goals(await self.client.get_state(name), 1, handle=IsaHandle(path))

    def concrete(self, proof: Sequence[str]) -> list[str] | None:
        """The proof with each `sledgehammer` replaced by the tactic it found there (None if unknown)."""
        steps: list[str] = []
        for index, step in enumerate(proof):
            if step.strip() == "sledgehammer":
                found = self._hammered.get(tuple(proof[:index]))
                if found is None:
                    return None
                steps.append(found)
            else:
                steps.append(step)
        return steps

    async def verify(self, theorem: Theorem, proof: Sequence[str] | str) -> Verdict:
        """Replay the steps from a fresh theory; proof level 0 and no error after the last one."""
        method = "isabelle: replayed from a fresh theory"
        steps = [proof] if isinstance(proof, str) else self.concrete(list(proof))
        if steps is None:
            return Verdict(False, "a sledgehammer step with no tactic found for it", method, "isabelle")
        for step in steps:
            reason = forbidden_step(step)
            if reason is not None or step.strip() in GAPS:
                return Verdict(False, f"{step!r}: {reason or 'an unfilled gap'}", method, "isabelle")
        try:
            state = await self._initialise(theorem)
            for index, step in enumerate(steps):
                state = (await self.client.step(state, step, f"v{next(self._counter)}")).name
                if index == len(steps) - 1:
                    finished = await self.client.is_finished(state)
                    return Verdict(finished, "" if finished else "goals remain after the last step", method, "isabelle")
        except PisaStepError as error:
            return Verdict(False, str(error), method, "isabelle")
        except PisaTimeout as error:
            await self.server.restart()
            return Verdict(False, f"the check timed out: {error}", method, "isabelle")
        return Verdict(False, "the proof is empty", method, "isabelle")

    async def check_sketch(self, sketch: str, theorem: Theorem, config: Any) -> CheckResult:
        """Fill the sketch's gaps (DSP); a hung step restarts the server and fails this sketch only."""
        checker = SketchChecker(
            self.client if self.server.client else await self.server.start(),
            self.settings.isa_path,
            step_timeout=self.settings.step_timeout,
            hammer_timeout=getattr(config, "hammer_timeout", 60.0),
            use_hammer=getattr(config, "use_hammer", True),
            working_dir=str(self._folder),
        )
        try:
            steps = await checker.client.parse_text(sketch)
        except PisaStepError as error:
            return CheckResult(False, error=f"the sketch does not parse: {error}")
        except PisaTimeout:
            await self.server.restart()
            return CheckResult(False, error="parsing the sketch timed out; the server was restarted")
        for step in steps[1:]:
            reason = forbidden_step(step)
            if reason is not None:
                return CheckResult(False, error=f"the sketch step {step!r} {reason}")
        imports = theorem.header.split() or ["Complex_Main"]
        try:
            return await checker.check(sketch, imports)
        except PisaTimeout as error:
            await self.server.restart()
            return CheckResult(False, error=f"{error}; the server was restarted")

    async def close(self) -> None:
        self.theorem = None
        self._names = {}


class IsabelleProvider:
    """The `isabelle` environment: PISA servers we run, or ones at `--pisa-address A,B,...`.

    Each server is lent to one theorem at a time, since a new theory replaces a server's
    Isabelle with all its states; theorems run in parallel on different servers.
    """

    language = "isabelle"

    def __init__(self, settings: PisaSettings, *, ports: Sequence[int] = (), addresses: Sequence[str] = ()) -> None:
        self.settings = settings
        self.addresses = tuple(addresses)
        self.pool = PisaPool.of_addresses(settings, addresses) if addresses else PisaPool.of_ports(settings, ports)

    @contextlib.asynccontextmanager
    async def session(self) -> AsyncIterator[IsabelleEnv]:
        async with self.pool.lease() as server:
            env = IsabelleEnv(server, self.settings)
            try:
                yield env
            finally:
                await env.close()

    async def close(self) -> None:
        await self.pool.close()
