"""`ProofEnv` over a pool of Lean REPL processes, surviving process deaths by replay."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from lean_env.process import ReplFailure, ReplProcess, ReplSettings, ReplTimeout, StaleState
from lean_env.protocol import Command, CommandReply, ErrorReply, ProofStep, ProofStepReply, Reply, UnencodableRequest
from lean_env.screen import screened_outcome
from lean_env.verifier import ReplVerifier
from lean_env.verify import StatementError, target_command
from search import Failed, GaveUp, Goals, Outcome, Proved, Theorem, TimedOut, Verdict

logger = logging.getLogger(__name__)

RESTART_RETRIES = 3  # other searches sharing the process may restart it between our requests
NEIGHBOUR_RESTARTS = 8
"""Restarts by other searches that one tactic waits out before the theorem ends as an error."""


class StateLost(ReplFailure):
    """A state could not be rebuilt after a restart: its replay failed or gave other goals than before."""


class NeighbourRestarts(RuntimeError):
    """Other searches restarted the shared process each time this one tried: the tactic got no answer.

    Not a ``ReplFailure``: the tactic was never judged by Lean, so it must not become a failed edge.
    """


@dataclass(frozen=True, slots=True)
class StateHandle:
    """Where a proof state lives: the tactic path from the root identifies it across restarts."""

    path: tuple[str, ...]


def interpret(reply: Reply) -> tuple[Outcome, int | None]:
    """The outcome of a proof step, and the new proof-state id when there are goals left.

    ``goals: []`` alone is not a proof: a failing tactic can answer it together with
    an error message and ``proofStatus: "Incomplete: contains sorry"``.
    """
    if isinstance(reply, ErrorReply):
        return Failed(reply.message), None
    if not isinstance(reply, ProofStepReply):
        return Failed(f"unexpected reply to a tactic: {reply}"), None
    errors = reply.errors()
    if errors:
        return Failed("\n".join(e.data for e in errors)), None
    status = reply.proof_status or ""
    if reply.sorries or "sorry" in status.lower():
        return GaveUp(status or "the tactic introduced sorry"), None
    if any("sorry" in m.data for m in reply.messages or [] if m.severity == "warning"):
        return GaveUp("declaration uses sorry"), None
    if not reply.goals:
        if reply.proof_status is not None and reply.proof_status != "Completed":
            return Failed(f"no goals but proof status {reply.proof_status!r}"), None
        return Proved(status), None
    return Goals("\n\n".join(reply.goals), len(reply.goals)), reply.proof_state


class ReplPool:
    """N REPL processes; theorems go to the least busy one, preferring a warm header."""

    def __init__(self, settings: ReplSettings, size: int) -> None:
        if size < 1:
            raise ValueError("the REPL pool needs at least one process")
        self.settings = settings
        self.processes = [ReplProcess(settings, i) for i in range(size)]

    def pick(self, header: str) -> ReplProcess:
        return min(self.processes, key=lambda p: (p.sessions, not p.has_header(header), p.index))

    @property
    def header_loads(self) -> int:
        return sum(p.header_loads for p in self.processes)

    async def close(self) -> None:
        await asyncio.gather(*(p.close() for p in self.processes))


class LeanReplEnv:
    """One theorem at a time in one REPL process of the pool.

    States are known by their tactic path; ids are cached per process
    generation. After a restart (timeout, crash, memory cap) a state is rebuilt
    by restarting the theorem and replaying its path, so the search never notices.
    """

    concurrent_apply = False  # one process answers one request at a time

    def __init__(self, pool: ReplPool, verifier: ReplVerifier | None = None, *, replay_timeout: float = 60.0) -> None:
        self.pool = pool
        self.verifier = verifier or ReplVerifier(pool.pick)
        self.replay_timeout = replay_timeout
        self.process: ReplProcess | None = None
        self.theorem: Theorem | None = None
        self._ids: dict[tuple[str, ...], int] = {}
        self._texts: dict[tuple[str, ...], str] = {}  # the goals each state showed when it was made
        self._lost: set[tuple[str, ...]] = set()  # states whose replay gave other goals: never used
        self._generation = -1

    async def start(self, theorem: Theorem) -> Goals:
        await self.close()
        self.theorem = theorem
        self.process = self.pool.pick(theorem.header)
        self.process.sessions += 1
        root_id, goal = await self._start_theorem()
        self._ids = {(): root_id}
        self._texts = {(): goal}
        self._lost = set()
        return Goals(goal, 1, handle=StateHandle(()))

    async def _start_theorem(self) -> tuple[int, str]:
        assert self.process is not None and self.theorem is not None
        command_timeout = self.process.settings.command_timeout
        for attempt in range(NEIGHBOUR_RESTARTS):
            env, generation = await self.process.header_env(self.theorem.header)
            # The statement alone, with its type printed for the verifier: no extra round trip.
            command = Command(cmd=target_command(self.theorem), env=env)
            try:
                reply = await self.process.request(command, command_timeout, generation)
                break
            except StaleState:
                if attempt == NEIGHBOUR_RESTARTS - 1:
                    raise
        if not isinstance(reply, CommandReply):
            raise StatementError(f"{self.theorem.name}: the REPL rejected the statement: {reply}")
        if reply.errors():
            raise StatementError(f"{self.theorem.name}: the statement does not elaborate: {reply.errors()[0].data}")
        self.verifier.remember_target(self.theorem, reply)
        sorries = [s for s in reply.sorries or [] if s.proof_state is not None]
        if not sorries:
            raise StatementError(f"{self.theorem.name}: no proof state for the statement's sorry")
        self._generation = generation
        return sorries[0].proof_state, sorries[0].goal  # type: ignore[return-value]

    async def _state_id(self, path: tuple[str, ...]) -> int:
        """The id of the state at ``path`` in the current process generation, replaying if needed.

        A replayed state must show the goals it showed when it was made; one that does not is
        dropped with a warning (``StateLost``), never used in its place.
        """
        assert self.process is not None
        lost = next((path[:n] for n in range(len(path) + 1) if path[:n] in self._lost), None)
        if lost is not None:
            raise StateLost(f"the state after {list(lost)} could not be rebuilt after a restart; it is dropped")
        if self.process.generation != self._generation or self.process.pid is None:
            logger.info("%s: the REPL restarted; replaying states", self.theorem.name if self.theorem else "?")
            root_id, goal = await self._start_theorem()
            self._ids = {(): root_id}
            self._check_replayed((), goal)
        if path in self._ids:
            return self._ids[path]
        parent = await self._state_id(path[:-1])
        step = ProofStep(tactic=path[-1], proof_state=parent)
        reply = await self.process.request(step, self.replay_timeout, self._generation)
        outcome, state = interpret(reply)
        if state is None or not isinstance(outcome, Goals):
            self._lost.add(path)
            raise StateLost(f"replaying {path[-1]!r} after a restart gave {outcome}; the state is dropped")
        self._check_replayed(path, outcome.text)
        self._ids[path] = state
        return state

    def _check_replayed(self, path: tuple[str, ...], goals: str) -> None:
        expected = self._texts.get(path)
        if expected is not None and goals != expected:
            name = self.theorem.name if self.theorem else "?"
            logger.warning("%s: replaying %s after a restart gave other goals; the state is dropped", name, list(path))
            self._lost.add(path)
            raise StateLost(
                f"replaying {list(path)} after a restart gave other goals than before ({goals[:200]!r} instead of "
                f"{expected[:200]!r}); the state is dropped"
            )

    async def apply(self, goals: Goals, tactic: str, timeout: float) -> Outcome:
        assert self.process is not None, "start() first"
        refused = screened_outcome(tactic)
        if refused is not None:
            return refused
        handle: StateHandle = goals.handle
        try:
            reply = await self._step(handle.path, tactic, timeout)
        except UnencodableRequest as error:  # model text that cannot be sent: the process is untouched
            return Failed(str(error))
        except ReplTimeout as error:
            return TimedOut(error.seconds)
        except StaleState as error:
            raise NeighbourRestarts(
                f"the shared REPL restarted {NEIGHBOUR_RESTARTS} times while {tactic!r} waited: {error}"
            ) from None
        except ReplFailure as error:
            return Failed(str(error))
        outcome, new_state = interpret(reply)
        if isinstance(outcome, Goals) and new_state is not None:
            path = (*handle.path, tactic)
            self._ids.setdefault(path, new_state)
            self._texts.setdefault(path, outcome.text)
            return Goals(outcome.text, outcome.num_goals, handle=StateHandle(path))
        return outcome

    async def _step(self, path: tuple[str, ...], tactic: str, timeout: float) -> Reply:
        """Run a tactic on the state at ``path``, rebuilding it whenever another search restarts the process.

        Such a restart (``StaleState``) says nothing about the tactic: it is retried, replaying the
        path, up to ``NEIGHBOUR_RESTARTS`` times.
        """
        assert self.process is not None
        for attempt in range(NEIGHBOUR_RESTARTS):
            try:
                state = await self._state_id(path)
                step = ProofStep(tactic=tactic, proof_state=state)
                return await self.process.request(step, timeout, self._generation)
            except StaleState:
                if attempt == NEIGHBOUR_RESTARTS - 1:
                    raise
                logger.debug("REPL %d restarted under another search; retrying %r", self.process.index, tactic)
        raise AssertionError("unreachable")

    async def verify(self, theorem: Theorem, proof: Sequence[str] | str) -> Verdict:
        return await self.verifier.verify(theorem, proof, self.process)

    async def close(self) -> None:
        if self.process is not None:
            self.process.sessions -= 1
        self.process = None
        self.theorem = None
        self._ids = {}
        self._texts = {}
        self._lost = set()


class LeanReplProvider:
    """The `lean-repl` environment: a process pool lending one `LeanReplEnv` per theorem."""

    language = "lean4"

    def __init__(
        self,
        pool: ReplPool,
        verifier: ReplVerifier | None = None,
        *,
        versions: dict[str, str | None] | None = None,
    ) -> None:
        self.pool = pool
        self.verifier = verifier or ReplVerifier(pool.pick)
        self.versions = versions or {}

    @contextlib.asynccontextmanager
    async def session(self) -> AsyncIterator[LeanReplEnv]:
        env = LeanReplEnv(self.pool, self.verifier)
        try:
            yield env
        finally:
            await env.close()

    async def close(self) -> None:
        await self.pool.close()
