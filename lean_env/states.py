"""Where one theorem's proof states live across REPL processes, and how a state reaches another process.

A state is known by its tactic path from the root. Each process holds the ids of the states made or
brought there, valid in one generation of it (a restart loses them all). A state a process lacks gets
there one of two ways:

- replay: start the theorem on that process (or begin from the deepest state on the path it holds) and
  run the rest of the path's tactics again;
- pickling: a process holding the state writes it to a file (``pickleTo``) and the other reads it
  (``unpickleProofStateFrom``, with its own environment of the same header, so nothing is imported
  again). A file, once written, serves every later process.

The cheaper one is taken, with costs measured as the search goes: replaying costs what the path's
missing tactics took when they first ran (one `nlinarith` can take seconds), pickling costs the pool's
measured mean of a pickle (when no file exists yet) plus an unpickle, whatever the depth. So a short
path of fast tactics is replayed and anything deeper or slower is pickled. Pickling also moves the
exact state, where replaying a tactic whose result varies (a heartbeat limit) can give other goals.

Either way a state must show the goals it showed when it was made. A replayed one that does not is
dropped for good (``StateLost``); an unpickled one that does not means this REPL's pickling cannot be
trusted for the theorem (its scoped notation, say), and the states are replayed from then on. Pickle
files are written by our own REPL processes into a private directory of the pool; a proof found from a
state that came through one is still checked whole from the statement, so a file can never make a false
proof count.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from lean_env.process import ReplFailure, ReplProcess, StaleState, request_on_header
from lean_env.protocol import (
    CommandReply,
    PickleProofState,
    ProofStep,
    ProofStepReply,
    Reply,
    UnpickleProofState,
)
from lean_env.verifier import ReplVerifier
from lean_env.verify import StatementError, target_command
from search import Theorem

if TYPE_CHECKING:
    from lean_env.repl_env import ReplPool

logger = logging.getLogger(__name__)

"""Restarts by other searches that one request waits out before the theorem ends as an error."""
PICKLE_PRIOR_S = 0.05
UNPICKLE_PRIOR_S = 0.05
"""Seconds a pickle and an unpickle are assumed to take until the pool has measured them."""
MEAN_WEIGHT = 0.2  # weight of each new measurement in the running means


class StateLost(ReplFailure):
    """A state could not be rebuilt (after a restart, or on another process): its replay failed or gave
    other goals than before."""


class _NoHandoff(Exception):
    """Pickling could not move this state (no holder, a failed request, other goals): replay it instead."""


@dataclass(slots=True)
class HandoffCosts:
    """Running means of a proof-state pickle and unpickle in seconds, shared by all searches of a pool."""

    pickle: float = PICKLE_PRIOR_S
    unpickle: float = UNPICKLE_PRIOR_S
    pickles: int = 0
    unpickles: int = 0
    broken: str | None = None
    """Why pickling does not work in this pool (a process lost while writing or reading a file): from
    then on every state is replayed, and no process is lost to it again."""

    def give_up(self, reason: str) -> None:
        if self.broken is None:
            logger.warning("proof-state pickling is switched off for this pool; states are replayed: %s", reason)
        self.broken = reason

    def note_pickle(self, seconds: float) -> None:
        self.pickle = seconds if not self.pickles else self.pickle + MEAN_WEIGHT * (seconds - self.pickle)
        self.pickles += 1

    def note_unpickle(self, seconds: float) -> None:
        self.unpickle = seconds if not self.unpickles else self.unpickle + MEAN_WEIGHT * (seconds - self.unpickle)
        self.unpickles += 1


@dataclass(slots=True)
class _Held:
    """The ids of this theorem's states that one process holds, valid in one generation of it."""

    generation: int
    ids: dict[tuple[str, ...], int] = field(default_factory=dict)


def goals_of(reply: Reply) -> tuple[str, int] | None:
    """The goal text and the new proof-state id of a reply that shows goals without an error, else None."""
    if not isinstance(reply, ProofStepReply) or reply.errors() or not reply.goals:
        return None
    return "\n\n".join(reply.goals), reply.proof_state


class TheoremStates:
    """The proof states of one theorem on the processes of a pool (see the module)."""

    def __init__(
        self,
        theorem: Theorem,
        pool: ReplPool,
        verifier: ReplVerifier,
        replay_timeout: float,
        root: Callable[[ReplProcess], Awaitable[tuple[int, str, int] | None]] | None = None,
    ) -> None:
        self.theorem = theorem
        self._root = root
        self.pool = pool
        self.verifier = verifier
        self.replay_timeout = replay_timeout
        self.start_seconds = 0.0
        self._texts: dict[tuple[str, ...], str] = {}  # the goals each state showed when it was made
        self._seconds: dict[tuple[str, ...], float] = {}  # what the tactic that made each state took
        self._seconds_sum = 0.0
        self._lost: set[tuple[str, ...]] = set()  # states whose replay gave other goals: never used
        self._held: dict[int, _Held] = {}
        self._pickles: dict[tuple[str, ...], Path] = {}
        self._pickling: dict[tuple[str, ...], asyncio.Future[Path]] = {}
        self._wanted: set[tuple[str, ...]] = set()
        self._pickling_trusted = True

    # -- the root and the states made by tactics ------------------------------------------------

    async def start(self, process: ReplProcess) -> str:
        """Start the theorem on ``process``; the root goal."""
        started = time.perf_counter()
        root, goal, generation = await self._start_on(process)
        self.start_seconds = time.perf_counter() - started
        self._texts[()] = goal
        self._held[process.index] = _Held(generation, {(): root})
        return goal

    def made(
        self, process: ReplProcess, generation: int, path: tuple[str, ...], state: int, text: str, seconds: float
    ) -> None:
        """A tactic run in ``process`` made the state at ``path``."""
        held = self._held.get(process.index)
        if held is not None and held.generation == generation:
            held.ids.setdefault(path, state)
        self._texts.setdefault(path, text)
        if path not in self._seconds:
            self._seconds[path] = seconds
            self._seconds_sum += seconds

    async def _start_on(self, process: ReplProcess) -> tuple[int, str, int]:
        if self._root is not None:
            found = await self._root(process)
            if found is not None:
                return found
        # The statement alone, with its type printed for the verifier: no extra round trip.
        reply, generation = await request_on_header(process, self.theorem.header, target_command(self.theorem))
        name = self.theorem.name
        if not isinstance(reply, CommandReply):
            raise StatementError(f"{name}: the REPL rejected the statement: {reply}")
        if reply.errors():
            raise StatementError(f"{name}: the statement does not elaborate: {reply.errors()[0].data}")
        self.verifier.remember_target(self.theorem, reply)
        sorries = [s for s in reply.sorries or [] if s.proof_state is not None]
        if not sorries:
            raise StatementError(f"{name}: no proof state for the statement's sorry")
        return sorries[0].proof_state, sorries[0].goal, generation  # type: ignore[return-value]

    # -- a state on a given process ---------------------------------------------------------------

    def _current(self, process: ReplProcess) -> _Held:
        """What ``process`` holds now: nothing once it was killed or restarted since."""
        held = self._held.get(process.index)
        if held is None or held.generation != process.generation or process.pid is None:
            held = self._held[process.index] = _Held(-1 if process.pid is None else process.generation)
        return held

    async def state_id(self, process: ReplProcess, path: tuple[str, ...]) -> tuple[int, int]:
        """The id of the state at ``path`` on ``process`` and the generation it is valid in, moving it there
        by unpickling or replay when it lacks it (see the module)."""
        lost = next((path[:n] for n in range(len(path) + 1) if path[:n] in self._lost), None)
        if lost is not None:
            raise StateLost(f"the state after {list(lost)} could not be rebuilt; it is dropped")
        held = self._current(process)
        if path in held.ids:
            return held.ids[path], held.generation
        if not path:
            logger.info("%s: starting the theorem on REPL %d", self.theorem.name, process.index)
            root, goal, generation = await self._start_on(process)
            self._check(path, goal)
            self._held[process.index] = _Held(generation, {(): root})
            return root, generation
        if self._pickling_cheaper(process, path):
            try:
                return await self._unpickle(process, path)
            except _NoHandoff as reason:
                logger.info("%s: replaying instead of unpickling: %s", self.theorem.name, reason)
        parent, generation = await self.state_id(process, path[:-1])
        step = ProofStep(tactic=path[-1], proof_state=parent)
        reply = await process.request(step, self.replay_timeout, generation)
        shown = goals_of(reply)
        if shown is None:
            self._lost.add(path)
            raise StateLost(f"replaying {path[-1]!r} to rebuild a state gave no goals ({reply}); the state is dropped")
        self._check(path, shown[0])
        self._current(process).ids[path] = shown[1]
        return shown[1], generation

    def _check(self, path: tuple[str, ...], goals: str) -> None:
        expected = self._texts.get(path)
        if expected is not None and goals != expected:
            name = self.theorem.name
            logger.warning("%s: rebuilding %s gave other goals; the state is dropped", name, list(path))
            self._lost.add(path)
            raise StateLost(
                f"replaying {list(path)} to rebuild a state (after a restart, or on another process) gave other goals "
                f"than before ({goals[:200]!r} instead of {expected[:200]!r}); the state is dropped"
            )

    # -- pickling or replay -----------------------------------------------------------------------

    def handoff_seconds(self, process: ReplProcess, path: tuple[str, ...]) -> float:
        """What bringing the state at ``path`` to ``process`` is expected to cost (0 when it holds it)."""
        replay = self._replay_seconds(process, path)
        if replay == 0.0 or not self._can_pickle(path):
            return replay
        return min(replay, self._pickle_seconds(path))

    def _pickling_cheaper(self, process: ReplProcess, path: tuple[str, ...]) -> bool:
        return self._can_pickle(path) and self._pickle_seconds(path) < self._replay_seconds(process, path)

    def _replay_seconds(self, process: ReplProcess, path: tuple[str, ...]) -> float:
        held = self._current(process)
        depth = next((n for n in range(len(path), -1, -1) if path[:n] in held.ids), -1)
        seconds = sum(self._seconds.get(path[:n], 0.0) for n in range(depth + 1, len(path) + 1))
        return seconds + (self.start_seconds if depth < 0 else 0.0)

    def _pickle_seconds(self, path: tuple[str, ...]) -> float:
        costs = self.pool.handoff
        if path in self._pickles or path in self._pickling:
            return costs.unpickle
        holder = self._holder(path)
        # A busy holder pickles after what it is running: about one tactic more.
        wait = self._mean_step() if holder is not None and holder[0].busy else 0.0
        return costs.unpickle + costs.pickle + wait

    def _mean_step(self) -> float:
        return self._seconds_sum / len(self._seconds) if self._seconds else self.start_seconds

    def _can_pickle(self, path: tuple[str, ...]) -> bool:
        usable = self.pool.settings.shared_dir is not None and self.pool.handoff.broken is None
        if not usable or not self._pickling_trusted or not path:
            return False
        return path in self._pickles or path in self._pickling or self._holder(path) is not None

    def _holder(self, path: tuple[str, ...]) -> tuple[ReplProcess, int, int] | None:
        """A process holding the state now, preferring one that is not busy: (process, id, generation)."""
        holders = []
        for process in self.pool.processes:
            held = self._held.get(process.index)
            if held is not None and path in held.ids and held is self._current(process):
                holders.append((process.busy, process.index, process, held))
        if not holders:
            return None
        _, _, process, held = min(holders, key=lambda entry: entry[:2])
        return process, held.ids[path], held.generation

    async def _unpickle(self, process: ReplProcess, path: tuple[str, ...]) -> tuple[int, int]:
        file = await self._pickle_file(path)
        env, generation = await process.header_env(self.theorem.header)
        request = UnpickleProofState(unpickle_proof_state_from=str(file), env=env)
        started = time.perf_counter()
        try:
            reply = await self._handoff_request(process, request, generation)
        except StaleState:  # the lane retries the tactic, rebuilding the state
            raise
        self.pool.handoff.note_unpickle(time.perf_counter() - started)
        shown = goals_of(reply)
        if shown is None or shown[0] != self._texts.get(path):
            self._pickling_trusted = False
            logger.warning("%s: an unpickled state showed other goals; pickling is not used for it", self.theorem.name)
            raise _NoHandoff(f"the unpickled state showed other goals ({reply})")
        self._current(process).ids[path] = shown[1]
        return shown[1], generation

    def want(self, path: tuple[str, ...]) -> None:
        """The search will expand the state at ``path`` soon: its tactics will want it on other processes."""
        if path and path not in self._pickles:
            self._wanted.add(path)

    async def share(self, process: ReplProcess) -> None:
        """Before ``process`` runs a tactic, pickle the wanted states it holds that are cheaper to move by
        pickling: the processes that want them then wait for a pickle, not for this tactic as well."""
        held = self._current(process)
        for path in [p for p in self._wanted if p in held.ids]:
            self._wanted.discard(path)
            if path in self._pickles or path in self._pickling or not self._can_pickle(path):
                continue
            fresh = self.start_seconds + sum(self._seconds.get(path[:n], 0.0) for n in range(1, len(path) + 1))
            if self.pool.handoff.pickle + self.pool.handoff.unpickle < fresh:
                with contextlib.suppress(_NoHandoff):
                    await self._pickle_file(path, (process, held.ids[path], held.generation))

    async def _handoff_request(
        self, process: ReplProcess, request: PickleProofState | UnpickleProofState, generation: int
    ) -> Reply:
        """A pickle or unpickle request; a process lost on one switches pickling off for the pool."""
        try:
            return await process.request(request, self.replay_timeout, generation)
        except StaleState:
            raise
        except ReplFailure as error:
            self.pool.handoff.give_up(f"a REPL process was lost on {type(request).__name__}: {error}")
            raise _NoHandoff(f"the handoff failed: {error}") from None

    async def _pickle_file(self, path: tuple[str, ...], holder: tuple[ReplProcess, int, int] | None = None) -> Path:
        """The file holding the state at ``path``, written once by a process that holds it."""
        if path in self._pickles:
            return self._pickles[path]
        pending = self._pickling.get(path)
        if pending is not None:
            return await asyncio.shield(pending)
        holder = holder or self._holder(path)
        if holder is None:
            raise _NoHandoff("no process holds the state any more")
        process, state, generation = holder
        future: asyncio.Future[Path] = asyncio.get_running_loop().create_future()
        self._pickling[path] = future
        try:
            file = self.pool.pickle_path()
            if file is None:
                raise _NoHandoff("the pool has no folder its processes share")
            started = time.perf_counter()
            try:
                request = PickleProofState(pickle_to=str(file), proof_state=state)
                reply = await self._handoff_request(process, request, generation)
            except StaleState as error:  # another search restarted that process: the state is gone there
                raise _NoHandoff(f"pickling failed: {error}") from None
            self.pool.handoff.note_pickle(time.perf_counter() - started)
            shown = goals_of(reply)
            if shown is None or shown[0] != self._texts.get(path):
                raise _NoHandoff(f"pickling answered {reply}")
            self._pickles[path] = file
            future.set_result(file)
            return file
        except BaseException as error:
            future.set_exception(error if isinstance(error, Exception) else _NoHandoff("pickling was stopped"))
            future.exception()  # retrieved here; the waiters get it raised
            raise
        finally:
            del self._pickling[path]

    def close(self) -> None:
        """Delete the pickle files of this theorem."""
        for file in self._pickles.values():
            file.unlink(missing_ok=True)
        self._pickles.clear()
