"""Draft, sketch, prove: informal proof (given or drafted), formal sketch, gaps filled by automation."""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import logging
import time
from dataclasses import dataclass
from typing import Any

from prover.models import BatchingGenerator, PortfolioGenerator
from prover.models.prompts import PROMPTS
from search import Attempt, SearchResult, SearchStats, Status, TacticGenerator, TacticRequest, Theorem, Verdict

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DSPConfig:
    """Settings of one draft-sketch-prove attempt."""

    draft: bool = False
    """Draft the informal proof with the model even when the problem has one."""
    use_hammer: bool = True
    hammer_timeout: float = 60.0
    timeout: float = 600.0
    """Seconds for the whole problem (drafting, sketching, checking); past them the record is `budget`."""


METHOD = "isabelle sketch check (DSP)"


def with_prompt(generator: TacticGenerator, prompt: str) -> TacticGenerator | None:
    """The same model behind another prompt format (weights shared), or None for a model-less generator."""
    if isinstance(generator, PortfolioGenerator):
        return None
    if isinstance(generator, BatchingGenerator):
        inner = with_prompt(generator.inner, prompt)
        if inner is None:
            return None
        return BatchingGenerator(
            inner, window=generator.window, max_batch=generator.max_batch, concurrency=generator.concurrency
        )
    if not hasattr(generator, "prompt"):
        return None
    twin = copy.copy(generator)
    twin.prompt = PROMPTS.get(prompt)  # type: ignore[attr-defined]
    return twin


class DraftSketchProve:
    """The informal-to-formal strategy: one or more sketches, the first that checks wins."""

    def __init__(
        self, env: Any, generator: TacticGenerator, drafter: TacticGenerator | None, config: DSPConfig
    ) -> None:
        self.env = env
        self.generator = generator
        self.drafter = drafter
        self.config = config

    async def search(self, theorem: Theorem) -> SearchResult:
        stats = SearchStats()
        started = time.monotonic()
        attempts: list[Attempt] = []
        deadline = asyncio.timeout(self.config.timeout)
        try:
            async with deadline:
                result = await self._run(theorem, stats, attempts)
        except Exception as error:
            if isinstance(error, TimeoutError) and deadline.expired():
                result = await self._out_of_time(theorem)
            else:
                logger.exception("draft-sketch-prove on %s failed", theorem.name)
                result = SearchResult(theorem.name, Status.ERROR, reason=f"{type(error).__name__}: {error}")
        stats.wall_time = time.monotonic() - started
        stats.time_search = max(0.0, stats.wall_time - stats.time_model - stats.time_env)
        result.stats = stats
        result.attempts = attempts
        return result

    async def _out_of_time(self, theorem: Theorem) -> SearchResult:
        """The problem's time ran out, maybe mid-step: Isabelle ignores that, so a server of ours restarts."""
        abandon = getattr(self.env, "abandon", None)
        if abandon is not None:
            await abandon()
        reason = f"the problem's time ({self.config.timeout:g} s) ran out"
        return SearchResult(theorem.name, Status.BUDGET, reason=reason)

    async def _generate(self, generator: TacticGenerator, theorem: Theorem, stats: SearchStats) -> list[str]:
        began = time.perf_counter()
        (candidates,) = await generator.propose([TacticRequest(theorem.statement, theorem)])
        stats.time_model += time.perf_counter() - began
        stats.model_calls += 1
        stats.tokens += sum(c.num_tokens for c in candidates)
        return [c.tactic for c in candidates if c.tactic.strip()]

    async def _run(self, theorem: Theorem, stats: SearchStats, attempts: list[Attempt]) -> SearchResult:
        if self.config.draft or not theorem.informal_proof:
            if self.drafter is None:
                return SearchResult(
                    theorem.name,
                    Status.ERROR,
                    reason="no informal proof, and no model to draft one (choose --generator)",
                )
            drafts = await self._generate(self.drafter, theorem, stats)
            if not drafts:
                return SearchResult(theorem.name, Status.FAILED, reason="the model drafted no informal proof")
            theorem = dataclasses.replace(theorem, informal_proof=drafts[0])
        sketches = await self._generate(self.generator, theorem, stats)
        last = None
        for proof in sketches:
            sketch = f"{theorem.statement}\n{proof}"
            began = time.perf_counter()
            stats.env_calls += 1
            checked = last = await self.env.check_sketch(sketch, theorem, self.config)
            stats.time_env += time.perf_counter() - began
            gaps = "; ".join(
                f"gap {g.index}: {'closed by ' + g.closed_by if g.closed_by else 'not closed'}" for g in checked.gaps
            )
            attempts.append(Attempt(sketch, checked.success, "; ".join(filter(None, [checked.error, gaps]))))
            replayed = checked.verdict
            if checked.success and replayed is not None and replayed.ok:  # only the replay makes it a proof
                message = f"{len(checked.gaps)} gap(s) filled; {replayed.message}"
                verdict = Verdict(True, message, f"{METHOD}; {replayed.method}", replayed.level)
                result = SearchResult(theorem.name, Status.PROVED, proof=checked.proof, verified=True, verdict=verdict)
                result.reason = "; ".join(f"gap {g.index}: {g.closed_by}" for g in checked.gaps)
                return result
        reasons = " | ".join(a.message for a in attempts) or "the model wrote no sketch"
        refused = None if last is None else Verdict(False, last.error, METHOD, last.level)
        return SearchResult(theorem.name, Status.FAILED, reason=reasons[:2000], verdict=refused)
