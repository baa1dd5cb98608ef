"""Best-first search on several prover processes: expansions run ahead of their turn and are committed in turn.

On one process an expansion pops the best open node, asks the generator, and applies the candidates one
after another. With K processes (an environment whose ``search_workers`` is K), K tactics are in flight
at once: first the candidates of the expansion whose turn it is, then those of the states most likely to
be expanded next, which are the best open nodes and the new states that tactics in flight have just made.

The result is the one-process search's, not an approximation of it. Expansions are committed one at a
time in best-first order, each expansion's outcomes are recorded in the generator's order, a verified
proof ends the search at the same edge, and every budget counts what was committed. Work done ahead waits
for its turn: a model answer is used for the same request (goal, tactic path and seed), a tactic's
outcome for the same state object. A guess that never comes true costs model calls and tactics, which the
statistics count as unused.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from dataclasses import dataclass, field

from search.best_first import BestFirstSearch, SearchRun
from search.tree import Node, NodeStatus
from search.types import Candidate, Goals, Outcome, SearchResult, Status, TacticRequest, Theorem, request_seed

DRAIN_SLACK = 30.0
"""Seconds beyond the tactic limit that tactics still running when the search ends may take (a handoff
and the tactic itself) before they are stopped."""

Proposal = tuple[list[Candidate], list[tuple[Candidate, str]], list[Candidate]]
"""A model answer: the candidates to try, those refused with the reason, and everything proposed."""


@dataclass(frozen=True, slots=True)
class _Guess:
    """A state that may be expanded soon: an open node, or a new state that a tactic run ahead made."""

    goals: Goals
    path: tuple[str, ...]
    score: float
    depth: int
    priority: float


@dataclass(eq=False, slots=True)
class _Job:
    """One tactic on one state object, run by a worker whenever a process is free."""

    goals: Goals
    candidate: Candidate
    work: _Work
    future: asyncio.Future[Outcome]
    started: bool = False
    recorded: bool = False


@dataclass(eq=False, slots=True)
class _Work:
    """The expansion of one state: its model call and its tactics, started in turn or ahead of it."""

    guess: _Guess
    request: TacticRequest
    """Its seed is that of the expansion the work was expected to be; in turn it must be the real one."""
    proposal: asyncio.Task[Proposal]
    jobs: list[_Job] = field(default_factory=list)
    committed: bool = False


class ParallelRun(SearchRun):
    """One best-first search whose tactics run on ``workers`` prover processes at once (see the module)."""

    def __init__(self, owner: BestFirstSearch, theorem: Theorem, workers: int) -> None:
        super().__init__(owner, theorem)
        self.workers = workers
        # (0 for the expansion in turn else 1, minus the state's priority, candidate position, order, job)
        self._queue: asyncio.PriorityQueue[tuple[int, float, int, int, _Job]] = asyncio.PriorityQueue()
        self._order = itertools.count()
        self._works: dict[int, _Work] = {}  # id(goals) -> the work on that state object
        self._started_works: list[_Work] = []
        self._jobs: dict[tuple[int, str], _Job] = {}  # (id(goals), tactic) -> its job
        self._guesses: list[tuple[float, int, _Guess]] = []  # a heap of states made ahead of their turn
        self._guessed: set[str] = set()
        self._workers: list[asyncio.Task[None]] = []
        self._running: set[asyncio.Task[None]] = set()
        self._stopping = False
        self._will_expand = getattr(self.env, "will_expand", None)

    async def execute(self) -> SearchResult:
        self._workers = [asyncio.create_task(self._worker()) for _ in range(self.workers)]
        try:
            result = await super().execute()
        except BaseException:  # the run is stopped: nothing is waited for
            self._abandon()
            raise
        await self._drain()
        return result

    # -- the expansion in turn -------------------------------------------------------------

    async def _expand(self, node: Node) -> SearchResult | None:
        request = self._begin(node)
        index = self.stats.expansions
        work = self._works.get(id(node.goals))
        if work is None or work.request != request or _failed(work.proposal):
            guess = _Guess(node.goals, request.tactics, node.score, node.depth, node.priority)
            work = self._start(guess, index, request)
        work.committed = True
        self._speculate()
        started = time.perf_counter()
        kept, refused, proposed = await asyncio.shield(work.proposal)
        self._count_proposal(proposed, time.perf_counter() - started)
        candidates = self._admit(node, kept, refused)
        jobs = [self._job(node.goals, c, work, position, turn=True) for position, c in enumerate(candidates)]
        for candidate, job in zip(candidates, jobs):
            self.stats.env_calls += 1
            job.recorded = True
            outcome = await self._env_call(asyncio.shield(job.future))
            if (result := await self._settle(node, candidate, outcome)) is not None:
                return result
        self._close(node)
        return None

    def _finish(self, status: Status, **kwargs) -> SearchResult:  # type: ignore[no-untyped-def,override]
        self.stats.unused_model_calls = sum(not work.committed for work in self._started_works)
        self.stats.unused_env_calls = sum(job.started and not job.recorded for job in self._jobs.values())
        return super()._finish(status, **kwargs)

    # -- work ahead --------------------------------------------------------------------------

    def _start(self, guess: _Guess, index: int, request: TacticRequest | None = None) -> _Work:
        if request is None:
            seed = request_seed(self.seed, index)
            request = TacticRequest(guess.goals.text, self.theorem, guess.path, seed=seed)
        old = self._works.get(id(guess.goals))
        if old is not None and not old.proposal.done():
            old.proposal.cancel()
        if self._will_expand is not None:
            self._will_expand(guess.goals)
        work = _Work(guess, request, asyncio.create_task(self._proposal(request)))
        self._works[id(guess.goals)] = work
        self._started_works.append(work)
        work.proposal.add_done_callback(lambda _, work=work: self._proposed(work))
        return work

    async def _proposal(self, request: TacticRequest) -> Proposal:
        (proposed,) = await self.generator.propose([request])
        kept, refused = self._filter(proposed)
        return kept, refused, proposed

    def _proposed(self, work: _Work) -> None:
        """A model answer arrived: its tactics join the queue (those in turn are queued by the expansion)."""
        if work.proposal.cancelled() or work.proposal.exception() is not None or self._stopping:
            return  # a failed answer is raised where its turn awaits it
        if work.committed or self._works.get(id(work.guess.goals)) is not work:
            return
        for position, candidate in enumerate(work.proposal.result()[0]):
            self._job(work.guess.goals, candidate, work, position, turn=False)
        self._speculate()

    def _job(self, goals: Goals, candidate: Candidate, work: _Work, position: int, *, turn: bool) -> _Job:
        key = (id(goals), candidate.tactic)
        job = self._jobs.get(key)
        if job is None:
            job = _Job(goals, candidate, work, asyncio.get_running_loop().create_future())
            self._jobs[key] = job
            work.jobs.append(job)
        if not job.started:  # a job queued twice runs once: the worker skips started jobs
            self._queue.put_nowait((0 if turn else 1, -work.guess.priority, position, next(self._order), job))
        return job

    async def _worker(self) -> None:
        while not self._stopping:
            *_, job = await self._queue.get()
            if job.started:
                continue
            job.started = True
            task = asyncio.current_task()
            assert task is not None
            self._running.add(task)
            try:
                outcome = await self.env.apply(job.goals, job.candidate.tactic, self.config.tactic_timeout)
            except Exception as error:  # raised where its turn awaits it, like an apply in turn
                job.future.set_exception(error)
                job.future.exception()  # retrieved: a job ahead whose turn never comes must not warn
            except BaseException:
                job.future.cancel()
                raise
            else:
                job.future.set_result(outcome)
                self._note(job, outcome)
            finally:
                self._running.discard(task)
            self._speculate()

    def _note(self, job: _Job, outcome: Outcome) -> None:
        """A new state made by a tactic ahead of its turn may be the next to expand: remember it as a guess."""
        if not isinstance(outcome, Goals) or outcome.text in self.nodes or outcome.text in self._guessed:
            return
        parent = job.work.guess
        depth = parent.depth + 1
        if self.config.max_depth is not None and depth >= self.config.max_depth:
            return
        score = parent.score + self._step_score(job.candidate)
        guess = _Guess(outcome, (*parent.path, job.candidate.tactic), score, depth, self._priority(score, depth))
        self._guessed.add(outcome.text)
        heapq.heappush(self._guesses, (-guess.priority, next(self._order), guess))

    def _speculate(self) -> None:
        """Give the states most likely to be expanded next a work of their own (a model call ahead of turn).

        Their tactics wait in the queue behind the expansion in turn, best state first, so a better
        guess that shows up later overtakes the ones queued before it.
        """
        if self._stopping or self.root is None:
            return
        index = self.stats.expansions
        limit = self.config.max_expansions
        for guess in self._frontier(self.workers):
            index += 1
            if limit is not None and index > limit:
                return
            if id(guess.goals) not in self._works:
                self._start(guess, index)

    def _frontier(self, size: int) -> list[_Guess]:
        """The states most likely to be expanded next, best first: open nodes and states made ahead."""
        found: list[tuple[float, int, _Guess]] = []
        for negative, order, node in heapq.nsmallest(size, self._heap):
            if node.status is NodeStatus.OPEN and not node.expanded and -negative == node.priority:
                guess = _Guess(node.goals, node.tactic_path(), node.score, node.depth, node.priority)
                found.append((negative, order, guess))
        found += heapq.nsmallest(size, self._guesses)
        found.sort(key=lambda entry: entry[:2])
        seen: set[str] = set()
        best: list[_Guess] = []
        for _, _, guess in found:
            text = guess.goals.text
            node = self.nodes.get(text)
            if text in seen or (node is not None and (node.expanded or node.goals is not guess.goals)):
                continue  # a guess that became a node is that node; a node's old state object is stale
            seen.add(text)
            best.append(guess)
        return best[:size]

    # -- the end ---------------------------------------------------------------------------

    async def _drain(self) -> None:
        """Let the tactics still running finish (stopping one mid-request would kill its process)."""
        self._stopping = True
        for work in self._started_works:
            if not work.proposal.done():
                work.proposal.cancel()
        running = set(self._running)
        for task in self._workers:
            if task not in running:
                task.cancel()
        if running:
            _, late = await asyncio.wait(running, timeout=self.config.tactic_timeout + DRAIN_SLACK)
            for task in late:
                task.cancel()
        await asyncio.gather(*self._workers, *(w.proposal for w in self._started_works), return_exceptions=True)

    def _abandon(self) -> None:
        self._stopping = True
        for task in self._workers:
            task.cancel()
        for work in self._started_works:
            work.proposal.cancel()


def _failed(task: asyncio.Task[Proposal]) -> bool:
    return task.done() and (task.cancelled() or task.exception() is not None)
