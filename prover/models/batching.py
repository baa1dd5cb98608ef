"""Cross-search batching: requests that arrive close together go to the model as one call."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from search import Candidate, TacticGenerator, TacticRequest

logger = logging.getLogger(__name__)

Answer = list[Candidate] | Exception


class BatchingGenerator:
    """Wraps a generator so that concurrent searches share model calls.

    A request waits at most ``window`` seconds for others; while ``concurrency``
    calls are already running, requests queue and leave together as soon as one
    returns, so the batch grows exactly when the model is the bottleneck.

    Failures are per request: a generator with ``propose_each`` answers each request with its
    candidates or its own exception; for any other generator, a failed batch is asked again one
    request at a time, so one bad prompt (over the context length, refused by a server) fails
    only its own request.
    """

    def __init__(
        self, inner: TacticGenerator, *, window: float = 0.005, max_batch: int = 64, concurrency: int = 1
    ) -> None:
        if max_batch < 1 or concurrency < 1:
            raise ValueError("max_batch and concurrency must be at least 1")
        self.inner = inner
        self.window = window
        self.max_batch = max_batch
        self.concurrency = concurrency
        self.calls = 0
        self.requests = 0
        self._pending: list[tuple[TacticRequest, asyncio.Future[list[Candidate]]]] = []
        self._in_flight = 0
        self._timer: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._waiting: dict[asyncio.Task[None], list[asyncio.Future[list[Candidate]]]] = {}
        self._call_of: dict[asyncio.Future[list[Candidate]], asyncio.Task[None]] = {}

    async def propose(self, requests: Sequence[TacticRequest]) -> list[list[Candidate]]:
        loop = asyncio.get_running_loop()
        futures = []
        for request in requests:
            future: asyncio.Future[list[Candidate]] = loop.create_future()
            self._pending.append((request, future))
            futures.append(future)
        self.requests += len(requests)
        self._schedule(loop)
        try:
            return list(await asyncio.gather(*futures))
        except asyncio.CancelledError:
            await self._abandon(futures)
            raise

    async def _abandon(self, futures: list[asyncio.Future[list[Candidate]]]) -> None:
        """A caller gave up: cancel each model call that nobody else waits for, and wait until it stopped."""
        for future in futures:
            future.cancel()
        orphaned = {
            task
            for future in futures
            if (task := self._call_of.get(future)) is not None and all(f.done() for f in self._waiting[task])
        }
        for task in orphaned:
            task.cancel()
        if orphaned:
            await asyncio.wait(orphaned)

    def _schedule(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._in_flight >= self.concurrency:
            return  # flushed when a running call returns
        if len(self._pending) >= self.max_batch:
            self._flush(loop)
        elif self._timer is None:
            self._timer = loop.call_later(self.window, self._flush, loop)

    def _flush(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        while self._pending and self._in_flight < self.concurrency:
            batch = [(r, f) for r, f in self._pending[: self.max_batch] if not f.done()]
            del self._pending[: self.max_batch]
            if not batch:
                continue
            self._in_flight += 1
            task = loop.create_task(self._call(loop, batch))
            self._tasks.add(task)
            self._waiting[task] = [f for _, f in batch]
            self._call_of.update((f, task) for _, f in batch)
            task.add_done_callback(self._forget)

    def _forget(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        for future in self._waiting.pop(task, []):
            self._call_of.pop(future, None)

    async def _call(
        self, loop: asyncio.AbstractEventLoop, batch: list[tuple[TacticRequest, asyncio.Future[list[Candidate]]]]
    ) -> None:
        try:
            self.calls += 1
            answers = await self._answers([request for request, _ in batch])
            for (_, future), answer in zip(batch, answers):
                if future.done():
                    continue
                if isinstance(answer, Exception):
                    future.set_exception(answer)
                else:
                    future.set_result(answer)
        except Exception as error:  # propose_each itself broke: no answer for anyone in the batch
            for _, future in batch:
                if not future.done():
                    future.set_exception(error)
        except BaseException:
            # The call was stopped (a shutdown): the waiting searches are stopped too, never failed,
            # so none of them is recorded as finished.
            for _, future in batch:
                future.cancel()
            raise
        finally:
            self._in_flight -= 1
            if self._pending:
                self._flush(loop)  # these waited while the model was busy: no further window

    async def _answers(self, requests: list[TacticRequest]) -> list[Answer]:
        """Each request's candidates, or the exception that request alone failed with."""
        each = getattr(self.inner, "propose_each", None)
        if each is not None:
            answers = list(await each(requests))
        else:
            try:
                answers = list(await self.inner.propose(requests))
            except Exception as error:
                if len(requests) == 1:
                    return [error]
                logger.warning("a batch of %d requests failed (%s); asking one at a time", len(requests), error)
                return list(await asyncio.gather(*(self._alone(r) for r in requests)))
        if len(answers) != len(requests):
            failure = RuntimeError(f"generator answered {len(answers)} lists for {len(requests)} requests")
            return [failure] * len(requests)
        return [_checked(answer) for answer in answers]

    async def _alone(self, request: TacticRequest) -> Answer:
        try:
            (answer,) = await self.inner.propose([request])
        except Exception as error:
            return error
        return _checked(answer)


def _checked(answer: object) -> Answer:
    """A generator's answer to one request, or why it is not a list of candidates."""
    if isinstance(answer, Exception):
        return answer
    if not isinstance(answer, list | tuple) or not all(isinstance(c, Candidate) for c in answer):
        return TypeError(f"generator answered {type(answer).__name__}, not a list of candidates")
    return list(answer)
