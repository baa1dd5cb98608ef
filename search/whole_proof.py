"""Whole-proof strategy: sample complete proofs, verify each, and repair the failed ones with the prover's messages.

Round 0 samples the proofs in one generator call. Each sample opens a conversation; with
``repair_rounds`` R, a proof that fails goes back to the model with the check's messages (its
answer, then the feedback, in the conversation format the prompt defines) for up to R further
rounds, one new answer per conversation per round, until some proof passes. Every answer is an
`Attempt` of the record with its ``round`` and ``sample``: pass@k is read from the same records.
"""

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
from search.types import (
    Attempt,
    Candidate,
    Repair,
    SearchResult,
    SearchStats,
    Status,
    TacticRequest,
    Theorem,
    Verdict,
    request_seed,
)

logger = logging.getLogger(__name__)

MAX_REASONING_CHARS = 1 << 18
"""A record keeps this much of a model's reasoning per answer (32k tokens are about 130k characters)."""
REPAIR_SEED_STRIDE = 1 << 20
"""Repair generations are seeded from (round x stride + sample): distinct from round 0's seed and each other."""


@dataclass(frozen=True, slots=True)
class WholeProofConfig:
    """Settings of the whole-proof strategy (the generator's sample count sets n)."""

    timeout: float = 600.0
    """Wall-clock seconds per theorem for sampling, verifying and repairing."""
    stop_at_first: bool = False
    """Stop verifying at the first proof that passes; off by default so pass@k sees every sample."""
    forbidden: tuple[str, ...] = ()
    max_proof_chars: int = DEFAULT_MAX_PROOF_CHARS
    """A longer sampled proof is a dropped attempt, never sent to the prover."""
    max_candidates: int | None = None
    """Sampled proofs checked per theorem, whatever the generator returns (the runner sets ``--samples``)."""
    repair_rounds: int = 0
    """Rounds of error-feedback repair after the first sample (0: none)."""

    def __post_init__(self) -> None:
        if self.repair_rounds < 0:
            raise ValueError(f"repair_rounds must be 0 or more, not {self.repair_rounds}")


# One answer to check: its conversation (the first-round sample), the candidate, the turns before it.
Turn = tuple[int, Candidate, tuple[Repair, ...]]
# A conversation to continue: its sample and its failed turns so far.
Open = tuple[int, tuple[Repair, ...]]


class WholeProofSearch:
    """Samples complete proofs of a theorem, checks each whole, and repairs failures when asked to.

    ``seed`` seeds the generations (see `request_seed`); None leaves them unseeded.
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
                await self._rounds(theorem, stats, attempts)
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

    async def _rounds(self, theorem: Theorem, stats: SearchStats, attempts: list[Attempt]) -> None:
        began = time.perf_counter()
        request = TacticRequest(theorem.statement, theorem, seed=request_seed(self.seed, 0))
        (candidates,) = await self.generator.propose([request])
        stats.time_model += time.perf_counter() - began
        stats.model_calls += 1
        stats.tokens += _tokens(candidates)
        if self.config.max_candidates is not None:
            candidates = candidates[: self.config.max_candidates]
        turns: list[Turn] = [(sample, candidate, ()) for sample, candidate in enumerate(candidates)]
        failed = await self._check(theorem, stats, attempts, 0, turns)
        for round_ in range(1, self.config.repair_rounds + 1):
            if not failed or any(a.verified for a in attempts):
                return
            turns = await self._repair(theorem, stats, attempts, round_, failed)
            failed = await self._check(theorem, stats, attempts, round_, turns)

    async def _repair(
        self, theorem: Theorem, stats: SearchStats, attempts: list[Attempt], round_: int, failed: list[Open]
    ) -> list[Turn]:
        """One new answer per failed conversation; a generation that fails costs only its conversation."""
        requests = [
            TacticRequest(
                theorem.statement,
                theorem,
                seed=request_seed(self.seed, round_ * REPAIR_SEED_STRIDE + sample),
                samples=1,
                repairs=history,
            )
            for sample, history in failed
        ]
        began = time.perf_counter()
        # One call per conversation: a batching generator joins them into one model call, and a
        # request the model refuses (over its context length) fails alone.
        answers = await asyncio.gather(*(self.generator.propose([r]) for r in requests), return_exceptions=True)
        stats.time_model += time.perf_counter() - began
        stats.model_calls += len(requests)
        turns: list[Turn] = []
        for (sample, history), answer in zip(failed, answers):
            if isinstance(answer, BaseException):
                if not isinstance(answer, Exception):
                    raise answer  # cancelled: the search stops
                message = f"the repair generation failed: {type(answer).__name__}: {answer}"
                attempts.append(Attempt("", False, printable(message), round=round_, sample=sample))
                continue
            candidates = answer[0] if answer else []
            stats.tokens += _tokens(candidates)
            if not candidates:
                attempts.append(Attempt("", False, "the model gave no answer", round=round_, sample=sample))
                continue
            turns.append((sample, candidates[0], history))
        return turns

    async def _check(
        self, theorem: Theorem, stats: SearchStats, attempts: list[Attempt], round_: int, turns: list[Turn]
    ) -> list[Open]:
        """Verify one round's answers (recorded in sample order); the conversations that failed and can go on."""
        done: dict[int, Attempt] = {}
        failed: list[Open] = []
        checkable: list[Turn] = []
        for turn in turns:
            sample, candidate, history = turn
            reasoning = printable(candidate.reasoning, MAX_REASONING_CHARS)
            problem = text_problem(candidate.tactic, self.config.max_proof_chars)
            if problem is not None:  # model text is data: recorded, never sent, never repeated to the model
                shown = printable(candidate.tactic)
                done[sample] = Attempt(shown, False, f"dropped: {problem}", None, round_, sample, reasoning)
                continue
            forbidden = self._forbidden.reason(normalize_tactic(candidate.tactic))
            if not candidate.tactic.strip() or forbidden is not None:
                message = f"dropped: uses {forbidden}" if forbidden else "empty"
                done[sample] = Attempt(candidate.tactic, False, message, None, round_, sample, reasoning)
                failed.append((sample, (*history, _repair(candidate, round_, Verdict(False, message)))))
            else:
                checkable.append(turn)
        began = time.perf_counter()
        stats.env_calls += len(checkable)
        try:
            if self.env.concurrent_apply and not self.config.stop_at_first:
                verdicts = await asyncio.gather(*(self.env.verify(theorem, c.tactic) for _, c, _ in checkable))
            else:
                verdicts = []
                for _, candidate, _ in checkable:
                    verdicts.append(await self.env.verify(theorem, candidate.tactic))
                    if verdicts[-1].ok and self.config.stop_at_first:
                        break
        finally:
            stats.time_env += time.perf_counter() - began
        for (sample, candidate, history), verdict in zip(checkable, verdicts):
            reasoning = printable(candidate.reasoning, MAX_REASONING_CHARS)
            done[sample] = Attempt(candidate.tactic, verdict.ok, verdict.message, verdict, round_, sample, reasoning)
            if not verdict.ok:
                failed.append((sample, (*history, _repair(candidate, round_, verdict))))
        attempts.extend(done[sample] for sample in sorted(done))
        return sorted(failed, key=lambda item: item[0])


def _repair(candidate: Candidate, round_: int, verdict: Verdict) -> Repair:
    return Repair(candidate.answer, candidate.tactic, round_, verdict.message, verdict.diagnostics)


def _tokens(candidates: list[Candidate]) -> int:
    return sum(c.num_tokens for c in candidates if score_problem(0.0, c.num_tokens) is None)
