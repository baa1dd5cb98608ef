"""A proof environment and a generator defined by transition tables, for search tests."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from search import Candidate, Failed, Goals, Outcome, Proved, TacticRequest, Theorem, TimedOut, Verdict

PROVED = "PROVED"


class ScriptedEnv:
    """``table[state][tactic]`` is the next state's text, ``PROVED``, or an Outcome to return."""

    def __init__(
        self,
        table: dict[str, dict[str, str | Outcome]],
        root: str = "s0",
        *,
        concurrent: bool = True,
        delay: float = 0.0,
        rejected_proofs: Sequence[Sequence[str]] = (),
        search_workers: int = 1,
    ) -> None:
        self.table = table
        self.root = root
        self.concurrent_apply = concurrent
        self.search_workers = search_workers
        self.delay = delay
        self.rejected = {tuple(p) for p in rejected_proofs}
        self.applied: list[tuple[str, str]] = []
        self.verified: list[list[str]] = []
        self.in_flight = 0
        self.max_in_flight = 0

    async def start(self, theorem: Theorem) -> Goals:
        return Goals(self.root, 1, handle=self.root)

    async def apply(self, goals: Goals, tactic: str, timeout: float) -> Outcome:
        self.applied.append((goals.text, tactic))
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.delay:
                try:
                    async with asyncio.timeout(timeout):
                        await asyncio.sleep(self.delay)
                except TimeoutError:
                    return TimedOut(timeout)
            return self._step(goals.text, tactic)
        finally:
            self.in_flight -= 1

    def _step(self, state: str, tactic: str) -> Outcome:
        result = self.table.get(state, {}).get(tactic)
        if result is None:
            return Failed(f"unknown tactic {tactic!r} at {state!r}")
        if result == PROVED:
            return Proved()
        if isinstance(result, str):
            return Goals(result, 1, handle=result)
        return result

    async def verify(self, theorem: Theorem, proof: Sequence[str] | str) -> Verdict:
        steps = [proof] if isinstance(proof, str) else list(proof)
        self.verified.append(steps)
        if tuple(steps) in self.rejected:
            return Verdict(False, "rejected by the scripted verifier", "scripted")
        state = self.root
        for index, tactic in enumerate(steps):
            outcome = self._step(state, tactic)
            if isinstance(outcome, Proved):
                ok = index == len(steps) - 1
                return Verdict(ok, "" if ok else "steps after the proof closed", "scripted")
            if not isinstance(outcome, Goals):
                return Verdict(False, f"step {index} fails", "scripted")
            state = outcome.text
        return Verdict(False, "goals remain", "scripted")

    async def close(self) -> None:
        return None


class ScriptedGenerator:
    """``table[goal]`` lists (tactic, logprob, num_tokens) candidates; records the goals and seeds asked."""

    def __init__(self, table: dict[str, list[tuple[str, float, int]]]) -> None:
        self.table = table
        self.asked: list[str] = []
        self.seeds: list[int | None] = []
        self.calls = 0

    async def propose(self, requests: Sequence[TacticRequest]) -> list[list[Candidate]]:
        self.calls += 1
        out = []
        for request in requests:
            self.asked.append(request.goal)
            self.seeds.append(request.seed)
            out.append([Candidate(t, lp, n) for t, lp, n in self.table.get(request.goal, [])])
        return out


THEOREM = Theorem(name="t", statement="theorem t : True := by")
