"""`ProofEnv` over a pool of Lean REPL processes, surviving process deaths by replay."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import logging
import shutil
import tempfile
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from lean_env.process import NEIGHBOUR_RESTARTS, ReplFailure, ReplProcess, ReplSettings, ReplTimeout, StaleState
from lean_env.protocol import ErrorReply, ProofStep, ProofStepReply, Reply, UnencodableRequest
from lean_env.screen import screened_outcome
from lean_env.states import HandoffCosts, TheoremStates
from lean_env.verifier import ReplVerifier
from sandbox import Mount
from search import Failed, GaveUp, Goals, Outcome, Proved, Theorem, TimedOut, Verdict

logger = logging.getLogger(__name__)

RESTART_RETRIES = 3  # other searches sharing the process may restart it between our requests


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
    """N REPL processes; theorems go to the least busy one, preferring a warm header.

    A theorem's process (its lease, from `pick`) serves it throughout. A search given several processes
    (``--search-workers``) borrows the others one tactic at a time, under one rule that keeps it from
    starving the rest: it may borrow only a process that is idle at that moment (no request running or
    waiting) and lent to no other search, it holds at most ``search_workers - 1`` of them, and each goes
    back as soon as its tactic (with the state's handoff) is done. A process's own theorems therefore
    wait for at most one borrowed tactic; with ``--concurrency`` at or above ``--workers`` every process
    has theorems of its own and borrowing is rare, while spare processes (fewer theorems than processes,
    or the tail of a run) go to the searches that can use them.
    """

    def __init__(self, settings: ReplSettings, size: int) -> None:
        if size < 1:
            raise ValueError("the REPL pool needs at least one process")
        self._own_dir: str | None = None
        if settings.shared_dir is None and size > 1:
            # Made before any process starts, so that a sandbox around each can let it through.
            self._own_dir = tempfile.mkdtemp(prefix="llemma-repl-pickles-")
            settings = dataclasses.replace(settings, shared_dir=self._own_dir)
        if settings.shared_dir is not None and settings.sandbox is not None:
            # The pickles move between the pool's processes: the one folder each sandbox may write beside its /tmp.
            shared = Mount(settings.shared_dir, writable=True)
            policy = dataclasses.replace(settings.sandbox, mounts=(*settings.sandbox.mounts, shared))
            settings = dataclasses.replace(settings, sandbox=policy)
        self.settings = settings
        self.processes = [ReplProcess(settings, i) for i in range(size)]
        self.handoff = HandoffCosts()
        self._lent: dict[int, object] = {}  # process index -> the search it is lent to
        self._pickle_names = itertools.count()

    def pick(self, header: str) -> ReplProcess:
        return min(self.processes, key=lambda p: (p.sessions, not p.has_header(header), p.index))

    def borrowable(self) -> list[ReplProcess]:
        """The processes a search may borrow now: idle, and lent to no one."""
        return [p for p in self.processes if p.index not in self._lent and not p.busy]

    def lend(self, process: ReplProcess, borrower: object) -> None:
        """``process`` runs a tactic of ``borrower`` (a search it is not the lease of) until given back."""
        self._lent[process.index] = borrower

    def give_back(self, process: ReplProcess, borrower: object) -> None:
        """``borrower`` is done with ``process``."""
        if self._lent.get(process.index) is borrower:
            del self._lent[process.index]

    def pickle_path(self) -> Path | None:
        """A new file name for a pickled proof state in the pool's shared folder; None when it has none."""
        folder = self.settings.shared_dir
        return None if folder is None else Path(folder) / f"{next(self._pickle_names)}.olean"

    @property
    def header_loads(self) -> int:
        return sum(p.header_loads for p in self.processes)

    async def close(self) -> None:
        await asyncio.gather(*(p.close() for p in self.processes))
        if self._own_dir is not None:
            shutil.rmtree(self._own_dir, ignore_errors=True)


class LeanReplEnv:
    """One theorem at a time on the REPL processes of a pool: its own process, and with
    ``search_workers`` K above 1 up to K - 1 borrowed ones (see `ReplPool`).

    States are known by their tactic path. After a restart (timeout, crash, memory cap) a state is
    rebuilt by replaying its path, so the search never notices; a state needed on another process is
    moved there by pickling or replay, whichever is cheaper (see `lean_env.states`).
    """

    def __init__(
        self,
        pool: ReplPool,
        verifier: ReplVerifier | None = None,
        *,
        replay_timeout: float = 60.0,
        search_workers: int = 1,
    ) -> None:
        if search_workers < 1:
            raise ValueError(f"search_workers must be at least 1, not {search_workers}")
        self.pool = pool
        self.verifier = verifier or ReplVerifier(pool.pick)
        self.replay_timeout = replay_timeout
        self.search_workers = min(search_workers, len(pool.processes))
        # One process answers one request at a time; several may run several tactics at once.
        self.concurrent_apply = self.search_workers > 1
        self.process: ReplProcess | None = None
        self.theorem: Theorem | None = None
        self._states: TheoremStates | None = None
        self._using: dict[int, int] = {}  # process index -> our tactics running or waiting there

    async def start(self, theorem: Theorem) -> Goals:
        await self.close()
        self.theorem = theorem
        self.process = self._pick(theorem)
        self.process.sessions += 1
        self._states = TheoremStates(theorem, self.pool, self.verifier, self.replay_timeout, root=self._root)
        goal = await self._states.start(self.process)
        return Goals(goal, 1, handle=StateHandle(()))

    def _pick(self, theorem: Theorem) -> ReplProcess:
        """The process that serves ``theorem``: the least busy, preferring one with its header loaded."""
        return self.pool.pick(theorem.header)

    async def _root(self, process: ReplProcess) -> tuple[int, str, int] | None:
        """The root state on ``process`` when it is not the statement's sorry (a sketch's gap); None: it is."""
        return None

    async def apply(self, goals: Goals, tactic: str, timeout: float) -> Outcome:
        assert self._states is not None, "start() first"
        refused = screened_outcome(tactic)
        if refused is not None:
            return refused
        handle: StateHandle = goals.handle
        try:
            reply, process, generation, seconds = await self._step(handle.path, tactic, timeout)
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
            self._states.made(process, generation, path, new_state, outcome.text, seconds)
            return Goals(outcome.text, outcome.num_goals, handle=StateHandle(path))
        return outcome

    async def _step(self, path: tuple[str, ...], tactic: str, timeout: float) -> tuple[Reply, ReplProcess, int, float]:
        """Run a tactic on the state at ``path``: the reply, the process and generation, and the seconds it took.

        A restart by another search (``StaleState``) says nothing about the tactic: it is retried,
        rebuilding the state, up to ``NEIGHBOUR_RESTARTS`` times.
        """
        assert self._states is not None
        for attempt in range(NEIGHBOUR_RESTARTS):
            with self._lane(path) as process:
                try:
                    if self.search_workers > 1:
                        await self._states.share(process)
                    state, generation = await self._states.state_id(process, path)
                    started = time.perf_counter()
                    reply = await process.request(ProofStep(tactic=tactic, proof_state=state), timeout, generation)
                    return reply, process, generation, time.perf_counter() - started
                except StaleState:
                    if attempt == NEIGHBOUR_RESTARTS - 1:
                        raise
                    logger.debug("REPL %d restarted under another search; retrying %r", process.index, tactic)
        raise AssertionError("unreachable")

    @contextlib.contextmanager
    def _lane(self, path: tuple[str, ...]) -> Iterator[ReplProcess]:
        """A process for one tactic on the state at ``path``: our own, or a borrowed idle one (see `ReplPool`)."""
        process = self._choose(path)
        self._using[process.index] = self._using.get(process.index, 0) + 1
        try:
            yield process
        finally:
            self._using[process.index] -= 1
            if not self._using[process.index]:
                del self._using[process.index]
                if process is not self.process:
                    self.pool.give_back(process, self)

    def _choose(self, path: tuple[str, ...]) -> ReplProcess:
        home = self.process
        assert home is not None and self._states is not None and self.theorem is not None
        if self.search_workers == 1:
            return home
        free = [home] if home.index not in self._using else []
        if len(self._using) < self.search_workers:
            free += [p for p in self.pool.borrowable() if p is not home and p.index not in self._using]
        if not free:  # every process we may use runs a tactic of ours: wait on the least loaded
            return min((p for p in self.pool.processes if p.index in self._using), key=self._load)
        header = self.theorem.header
        states = self._states
        chosen = min(
            free, key=lambda p: (p.busy, states.handoff_seconds(p, path), not p.has_header(header), p is not home)
        )
        if chosen is not home:
            self.pool.lend(chosen, self)
        return chosen

    def _load(self, process: ReplProcess) -> tuple[int, int]:
        return self._using[process.index], process.index

    def will_expand(self, goals: Goals) -> None:
        """The search's hint that it will expand this state soon: its process pickles it before its next tactic."""
        if self._states is not None and self.search_workers > 1:
            self._states.want(goals.handle.path)

    async def verify(self, theorem: Theorem, proof: Sequence[str] | str) -> Verdict:
        if self.process is None:
            # A whole-proof search checks without starting the theorem: its checks still take one process
            # of the pool for the session, so that concurrent theorems spread over the pool.
            self.process = self.pool.pick(theorem.header)
            self.process.sessions += 1
        return await self.verifier.verify(theorem, proof, self.process)

    async def close(self) -> None:
        if self.process is not None:
            self.process.sessions -= 1
        if self._states is not None:
            self._states.close()
        self.process = None
        self.theorem = None
        self._states = None


class LeanReplProvider:
    """The `lean-repl` environment: a process pool lending one `LeanReplEnv` per theorem, each with up to
    ``search_workers`` processes."""

    language = "lean4"

    def __init__(
        self,
        pool: ReplPool,
        verifier: ReplVerifier | None = None,
        *,
        versions: dict[str, str | None] | None = None,
        search_workers: int = 1,
    ) -> None:
        if not 1 <= search_workers <= len(pool.processes):
            raise ValueError(
                f"search_workers {search_workers} must be between 1 and the pool's {len(pool.processes)} processes"
            )
        self.pool = pool
        self.verifier = verifier or ReplVerifier(pool.pick)
        self.versions = versions or {}
        self.search_workers = search_workers

    @contextlib.asynccontextmanager
    async def session(self) -> AsyncIterator[LeanReplEnv]:
        env = LeanReplEnv(self.pool, self.verifier, search_workers=self.search_workers)
        try:
            yield env
        finally:
            await env.close()

    async def close(self) -> None:
        await self.pool.close()
