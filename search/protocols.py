"""The two contracts a search is written against: an environment and a generator."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from search.types import Candidate, Goals, Outcome, TacticRequest, Theorem, Verdict


@runtime_checkable
class ProofEnv(Protocol):
    """A prover that checks tactics, serving one theorem at a time.

    ``concurrent_apply`` says whether several ``apply`` calls may be in flight
    at once (a pool of processes can; a single stateful process cannot). An environment
    that gives one theorem several prover processes also says how many, as an optional
    ``search_workers`` attribute (read with `search_workers`), and may take the search's
    hint ``will_expand(goals)`` that a state will be expanded soon (its tactics will want
    the state on several processes).
    """

    concurrent_apply: bool

    async def start(self, theorem: Theorem) -> Goals:
        """Enter the theorem and return its initial proof state."""
        ...

    async def apply(self, goals: Goals, tactic: str, timeout: float) -> Outcome:
        """Run one tactic on a state, giving up after ``timeout`` seconds."""
        ...

    async def verify(self, theorem: Theorem, proof: Sequence[str] | str) -> Verdict:
        """Check a whole proof from scratch; only an ``ok`` verdict makes a proof count."""
        ...

    async def close(self) -> None:
        """Release what the environment holds for the current theorem."""
        ...


@runtime_checkable
class TacticGenerator(Protocol):
    """A model (or a fixed list) proposing candidate tactics, many requests per call."""

    async def propose(self, requests: Sequence[TacticRequest]) -> list[list[Candidate]]:
        """Return, for each request in order, its candidates best first."""
        ...


def search_workers(env: object) -> int:
    """How many prover processes ``env`` gives one search: its optional ``search_workers``, else 1.

    With more than one, ``apply`` calls run that many at a time on different processes, and the
    best-first search keeps them busy by expanding ahead of its turn (see ``search.parallel``).
    """
    workers = getattr(env, "search_workers", 1)
    return workers if isinstance(workers, int) and not isinstance(workers, bool) and workers > 1 else 1
