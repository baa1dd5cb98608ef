"""Whole-proof strategy: sample complete proofs and verify each (pass@k from every attempt)."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from search.protocols import ProofEnv, TacticGenerator
from search.tactics import (
    DEFAULT_MAX_PROOF_CHARS,
    GIVE_UP_WORDS,
    ForbiddenWords,
    normalize_tactic,
    printable,
    score_problem,
    text_problem,
)
from search.types import Attempt, SearchResult, SearchStats, Status, TacticRequest, Theorem, request_seed

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class WholeProofConfig:
    """Settings of the whole-proof strategy (the generator's sample count sets n)."""

    timeout: float = 600.0
    """Wall-clock seconds per theorem for sampling and verifying."""
    stop_at_first: bool = False
    """Stop verifying at the first proof that passes; off by default so pass@k sees every sample."""
    forbidden: tuple[str, ...] = ()
    max_proof_chars: int = DEFAULT_MAX_PROOF_CHARS
    """A longer sampled proof is a dropped attempt, never sent to the prover."""
    max_candidates: int | None = None
    """Sampled proofs checked per theorem, whatever the generator returns (the runner sets ``--samples``)."""


class WholeProofSearch:
    """Samples complete proofs of a theorem in one generator call and checks each whole.

    ``seed`` seeds that call (see `request_seed`); None leaves it unseeded.
    """

    def __init__(
        self, env: ProofEnv, generator: TacticGenerator, config: WholeProofConfig | None = None, seed: int | None = None
    ) -> None:
        self.env = env
        self.generator = generator
        self.config = config or WholeProofConfig()
        self.seed = seed
        self._forbidden = ForbiddenWords(GIVE_UP_WORDS + tuple(self.config.forbidden))

    async def search(self, theorem: Theorem) -> SearchResult:
        stats = SearchStats()
        started = time.monotonic()
        attempts: list[Attempt] = []
        status, reason = Status.FAILED, "no sampled proof passed verification"
        try:
            async with asyncio.timeout(self.config.timeout):
                await self._sample_and_check(theorem, stats, attempts)
        except TimeoutError:
            status, reason = Status.BUDGET, f"time limit of {self.config.timeout:g} s"
        except Exception as error:
            logger.exception("whole-proof attempt on %s failed", theorem.name)
            status, reason = Status.ERROR, f"{type(error).__name__}: {error}"
        stats.wall_time = time.monotonic() - started
        stats.time_search = max(0.0, stats.wall_time - stats.time_model - stats.time_env)
        proved = next((a for a in attempts if a.verified), None)
        if proved is not None:
            status, reason = Status.PROVED, ""
        return SearchResult(
            name=theorem.name,
            status=status,
            proof=None if proved is None else proved.proof,
            verified=proved is not None,
            verdict=None if proved is None else proved.verdict,
            stats=stats,
            reason=reason,
            attempts=attempts,
        )

    async def _sample_and_check(self, theorem: Theorem, stats: SearchStats, attempts: list[Attempt]) -> None:
        began = time.perf_counter()
        request = TacticRequest(theorem.statement, theorem, seed=request_seed(self.seed, 0))
        (candidates,) = await self.generator.propose([request])
        stats.time_model += time.perf_counter() - began
        stats.model_calls += 1
        stats.tokens += sum(c.num_tokens for c in candidates if score_problem(0.0, c.num_tokens) is None)
        if self.config.max_candidates is not None:
            candidates = candidates[: self.config.max_candidates]
        checkable: list[tuple[int, str]] = []
        for index, candidate in enumerate(candidates):
            problem = text_problem(candidate.tactic, self.config.max_proof_chars)
            if problem is not None:  # model text is data: recorded, never sent
                attempts.append(Attempt(printable(candidate.tactic), False, f"dropped: {problem}"))
                continue
            proof = normalize_tactic(candidate.tactic)
            forbidden = self._forbidden.reason(proof)
            if not proof or forbidden is not None:
                attempts.append(Attempt(proof, False, f"dropped: uses {forbidden}" if forbidden else "empty"))
            else:
                checkable.append((index, proof))
        began = time.perf_counter()
        stats.env_calls += len(checkable)
        try:
            if self.env.concurrent_apply and not self.config.stop_at_first:
                verdicts = await asyncio.gather(*(self.env.verify(theorem, proof) for _, proof in checkable))
                attempts.extend(Attempt(p, v.ok, v.message, v) for (_, p), v in zip(checkable, verdicts))
                return
            for _, proof in checkable:
                verdict = await self.env.verify(theorem, proof)
                attempts.append(Attempt(proof, verdict.ok, verdict.message, verdict))
                if verdict.ok and self.config.stop_at_first:
                    return
        finally:
            stats.time_env += time.perf_counter() - began
