"""Simulated environments and generators for the performance harness (never used for proving).

Latencies are drawn from a seeded random stream so two configurations measured
side by side see the same workload.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import math
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass

from search import Candidate, Goals, Outcome, TacticRequest, Theorem, Verdict


@dataclass(frozen=True)
class Latency:
    """A log-normal tactic latency (heavy right tail, like real Lean tactics), capped."""

    median: float = 0.05
    sigma: float = 1.0
    cap: float = 5.0

    @functools.cached_property
    def mean(self) -> float:
        # Mean of the capped log-normal, estimated once by sampling (the cap trims a tiny tail).
        rng = random.Random(12345)
        return sum(self.draw(rng) for _ in range(200_000)) / 200_000

    def draw(self, rng: random.Random) -> float:
        return min(self.cap, self.median * math.exp(self.sigma * rng.gauss(0.0, 1.0)))


class SimulatedPool:
    """W prover processes: at most W tactics run at once, each taking a drawn latency."""

    def __init__(self, workers: int, latency: Latency, seed: int = 0) -> None:
        self.slots = asyncio.Semaphore(workers)
        self.latency = latency
        self.rng = random.Random(seed)
        self.applied = 0
        self.completions: list[float] = []  # perf_counter() at each finished tactic

    def rate(self, start: float, end: float) -> float:
        """Tactics finished per second between two perf_counter() instants."""
        return sum(start <= t < end for t in self.completions) / max(1e-9, end - start)


class SimulatedEnv:
    """A proof environment over a simulated pool; every tactic leads to a new state, none proves."""

    def __init__(self, pool: SimulatedPool, *, concurrent: bool = True) -> None:
        self.pool = pool
        self.concurrent_apply = concurrent
        self._counter = 0

    async def start(self, theorem: Theorem) -> Goals:
        return Goals(f"{theorem.name}:root")

    async def apply(self, goals: Goals, tactic: str, timeout: float) -> Outcome:
        async with self.pool.slots:
            await asyncio.sleep(self.pool.latency.draw(self.pool.rng))
        self.pool.applied += 1
        self.pool.completions.append(time.perf_counter())
        self._counter += 1
        return Goals(f"{goals.text}/{self._counter}")

    async def verify(self, theorem: Theorem, proof: Sequence[str] | str) -> Verdict:
        return Verdict(False, "simulated environment", "simulated")

    async def close(self) -> None:
        return None


class InstantEnv:
    """No latency at all: isolates the search's own bookkeeping."""

    concurrent_apply = False

    def __init__(self) -> None:
        self._counter = 0

    async def start(self, theorem: Theorem) -> Goals:
        return Goals("root")

    async def apply(self, goals: Goals, tactic: str, timeout: float) -> Outcome:
        self._counter += 1
        return Goals(f"s{self._counter}")

    async def verify(self, theorem: Theorem, proof: Sequence[str] | str) -> Verdict:
        return Verdict(False, "simulated environment", "simulated")

    async def close(self) -> None:
        return None


class SimulatedGenerator:
    """A model whose call takes ``a + b * batch`` seconds and returns ``k`` candidates per request."""

    def __init__(self, k: int, a: float = 0.02, b: float = 0.001, seed: int = 0) -> None:
        self.k = k
        self.a = a
        self.b = b
        self.seed = seed
        self.rng = random.Random(seed)
        self.calls = 0
        self.requests = 0

    def capacity(self, batch: int) -> float:
        """Requests per second at a given batch size."""
        return batch / (self.a + self.b * batch)

    async def propose(self, requests: Sequence[TacticRequest]) -> list[list[Candidate]]:
        self.calls += 1
        self.requests += len(requests)
        if self.a or self.b:
            await asyncio.sleep(self.a + self.b * len(requests))
        return [self.candidates(request) for request in requests]

    def candidates(self, request: TacticRequest) -> list[Candidate]:
        """The ``k`` candidates of one request."""
        return [Candidate(f"tac{i}", -self.rng.random() * (i + 1), 1 + i % 4) for i in range(self.k)]


class LandscapeGenerator(SimulatedGenerator):
    """A model for the simulated REPL's landscape (``sim_repl --landscape``): tactics ``t0`` .. ``t{k-1}`` at
    every goal, each scored by a function of (seed, goal, tactic); a call takes ``a + b * batch`` seconds."""

    def candidates(self, request: TacticRequest) -> list[Candidate]:
        return [Candidate(f"t{i}", self.logprob(request.goal, i), 1) for i in range(self.k)]

    def logprob(self, goal: str, index: int) -> float:
        digest = hashlib.sha256(f"{self.seed}|{goal}|{index}".encode()).digest()
        return -3.0 * int.from_bytes(digest[:7], "big") / 2**56
