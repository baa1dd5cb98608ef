"""`ProofEnv` over a PISA server: Isar / apply steps on named states, and the sketch check for DSP."""

from __future__ import annotations

import contextlib
import logging
import shutil
import tempfile
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from isabelle_env.checker import CheckResult, SketchChecker
from isabelle_env.client import PisaClient, PisaError, PisaStepError, PisaTimeout
from isabelle_env.keywords import ABANDONS, SKIPS
from isabelle_env.replay import METHOD, open_theory, replay
from isabelle_env.screen import screen_step
from isabelle_env.server import PisaPool, PisaSettings, PisaUnavailable
from search import Failed, GaveUp, Goals, Outcome, Proved, Theorem, TimedOut, Verdict

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class IsaHandle:
    """A state by its step path from the statement (stable across server restarts)."""

    path: tuple[str, ...]


class IsabelleEnv:
    """One theory at a time on one PISA server (leased from a pool of ours or of someone else's)."""

    concurrent_apply = False

    def __init__(self, server: Any, settings: PisaSettings) -> None:
        self.server = server
        self.settings = settings
        self.theorem: Theorem | None = None
        self._names: dict[tuple[str, ...], str] = {}
        self._hammered: dict[tuple[str, ...], str] = {}  # state path -> the tactic Sledgehammer found there
        self._theory: tuple[Theorem, int, str] | None = None  # (theorem, server generation, header state)
        self._folder: Path | None = None

    @property
    def client(self) -> PisaClient:
        assert self.server.client is not None
        return self.server.client

    async def _theory_for(self, theorem: Theorem) -> str:
        """The state right after the theory header, in an Isabelle started for this theorem."""
        if self._theory is not None and self._theory[:2] == (theorem, self.server.restarts):
            return self._theory[2]
        if self.server.client is None:
            await self.server.start()
        if self._folder is None:
            # PISA picks the Isabelle session by the theory file's path: one with "miniF2F" in it runs HOL.
            self._folder = Path(tempfile.mkdtemp(prefix="miniF2F-isabelle-env-"))
        imports = theorem.header.split() or ["Complex_Main"]
        state = await open_theory(
            self.client, self.settings.isa_path, self._folder, imports, self.settings.call_timeout
        )
        self._theory = (theorem, self.server.restarts, state)
        return state

    async def _root(self, theorem: Theorem) -> str:
        """A fresh Isabelle with the statement entered: the search's root state."""
        self._theory = None
        theory = await self._theory_for(theorem)
        return (
            await self.client.step(theory, theorem.statement, self.client.new_name("r"), self.settings.call_timeout)
        ).name

    async def start(self, theorem: Theorem) -> Goals:
        self.theorem = theorem
        root = await self._root(theorem)
        self._names = {(): root}
        return Goals(await self.client.get_state(root), 1, handle=IsaHandle(()))

    async def _state(self, path: tuple[str, ...]) -> str:
        assert self.theorem is not None
        if self._theory is None or self._theory[:2] != (self.theorem, self.server.restarts):  # replay the path
            self._names = {(): await self._root(self.theorem)}
        if path not in self._names:
            parent = await self._state(path[:-1])
            name = self.client.new_name("s")
            await self.client.step(parent, path[-1], name)
            self._names[path] = name
        return self._names[path]

    async def apply(self, goals: Goals, tactic: str, timeout: float) -> Outcome:
        if tactic.strip() == "sledgehammer":
            return await self._hammer(goals)
        refusal = screen_step(tactic)
        if refusal is not None:
            if refusal.reason.startswith(SKIPS) or refusal.reason == ABANDONS:
                return GaveUp(str(refusal))
            return Failed(f"refused before Isabelle: {refusal}")
        path = (*goals.handle.path, tactic)
        try:
            parent = await self._state(goals.handle.path)
            name = self.client.new_name("s")
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
            name = self.client.new_name("s")
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
        """Replay the proof in a fresh theory and compare the proved proposition (`isabelle_env.replay`)."""
        steps = [proof] if isinstance(proof, str) else self.concrete(list(proof))
        if steps is None:
            return Verdict(False, "a sledgehammer step with no tactic found for it", METHOD, "isabelle")
        if not steps:
            return Verdict(False, "the proof is empty", METHOD, "isabelle")
        try:
            theory = await self._theory_for(theorem)
            return await replay(self.client, theory, theorem.statement, "\n".join(steps), self.settings.step_timeout)
        except PisaTimeout as error:
            await self.server.restart()
            return Verdict(False, f"the check timed out: {error}", METHOD, "isabelle")
        except PisaError as error:
            return Verdict(False, f"PISA failed: {error}", METHOD, "isabelle")

    async def check_sketch(self, sketch: str, theorem: Theorem, config: Any) -> CheckResult:
        """Fill the sketch's gaps (DSP); a hung step restarts the server and fails this sketch only."""
        checker = SketchChecker(
            self.client if self.server.client else await self.server.start(),
            step_timeout=self.settings.step_timeout,
            hammer_timeout=getattr(config, "hammer_timeout", 60.0),
            use_hammer=getattr(config, "use_hammer", True),
        )
        try:
            theory = await self._theory_for(theorem)
            return await checker.check(theory, sketch, theorem.statement)
        except PisaTimeout as error:
            await self.server.restart()
            return CheckResult(False, error=f"{error}; the server was restarted")

    async def abandon(self) -> None:
        """The problem was given up with a call perhaps still running in Isabelle: free the server."""
        self._theory = None
        try:
            await self.server.restart()
        except PisaUnavailable as error:  # someone else's server: the next problem's initialisation replaces it
            logger.warning("%s", error)

    async def close(self) -> None:
        self.theorem = None
        self._names = {}
        if self._folder is not None:  # Isabelle read the theory file when it started
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None


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
