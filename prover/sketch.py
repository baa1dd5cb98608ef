"""Sketch and decompose (Lean 4, `--strategy sketch`): draft-sketch-prove with a proof search per gap.

The model writes a sketch: a proof whose hard steps are ``have name : P := by sorry`` (from the
formal statement, with the informal proof when the benchmark has one, or after drafting one with
``--draft``). The sketch is screened (``lean_env.sketch``) and elaborated in the REPL, which
reports each gap's goal and proof state (``lean_env.sketch_env``); each gap is searched from its
proof state by the best-first search with its own budget (``--gap-expansions``,
``--gap-timeout``); the tactics that closed the gaps are put in place of their ``sorry`` and the
assembled proof, which holds no ``sorry``, is checked whole by the run's verifier. The first sketch
whose assembled proof passes proves the theorem; a sketch with a gap nothing closed fails naming it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import logging
import time
from dataclasses import dataclass

from lean_env.repl_env import LeanReplEnv
from lean_env.sketch import SketchPlan, assemble, plan_sketch
from lean_env.sketch_env import Elaboration, GapEnv, OpenGap, SketchRejected, elaborate
from prover.config import ConfigError, ProveConfig
from prover.models import PROMPTS, PortfolioGenerator, build_generator
from prover.models.sketch_prompts import DRAFT_PROMPTS
from search import (
    BestFirstSearch,
    GapRecord,
    SearchConfig,
    SearchResult,
    SearchStats,
    SketchRecord,
    Status,
    TacticGenerator,
    TacticRequest,
    Theorem,
    Verdict,
    request_seed,
)
from search.tactics import DEFAULT_MAX_PROOF_CHARS, printable, score_problem, text_problem

logger = logging.getLogger(__name__)

MAX_REASON_CHARS = 2000


class GapSearchError(RuntimeError):
    """A gap's search ended in an error of the prover or the model: the attempt is an error, not a failure."""


def check_config(config: ProveConfig) -> None:
    """Refuse, before anything loads, a sketch run that cannot work (ConfigError naming the fix)."""
    if config.run.strategy != "sketch":
        return
    if config.env.name != "lean-repl":
        raise ConfigError("--strategy sketch needs the Lean REPL: --env lean-repl (it reads the sketch's sorries)")
    if config.generator.name == "portfolio":
        raise ConfigError(
            "--strategy sketch needs a model to write sketches: --generator hf|vllm|openai --model ID "
            "--prompt lean-dsp (or lean-sketch-chat with --api chat); the portfolio closes gaps (--gap-generator)"
        )
    gap = config.sketch
    if config.run.ray and (config.run.draft or gap.gap_generator == "same"):
        raise ConfigError(
            "under --ray the model actor serves the sketch prompt only: --draft and --gap-generator same need a "
            "local run (or close gaps with --gap-generator portfolio|openai)"
        )
    if gap.gap_generator in ("hf", "vllm", "openai") and not gap.gap_model:
        raise ConfigError(f"--gap-generator {gap.gap_generator} needs --gap-model (the model that closes gaps)")
    PROMPTS.get(gap.gap_prompt)  # an unknown name fails here, with the closest one
    if config.run.draft:
        PROMPTS.get(draft_prompt(config))


def draft_prompt(config: ProveConfig) -> str:
    """The prompt that drafts informal proofs under ``--draft``."""
    return config.sketch.draft_prompt or DRAFT_PROMPTS.get(config.generator.prompt, "lean-dsp-draft")


def build_gap_generator(config: ProveConfig, generator: TacticGenerator) -> TacticGenerator:
    """What proposes tactics in the gaps: the portfolio, the sketch model behind a tactic prompt, or another model."""
    from prover.dsp import with_prompt

    gap = config.sketch
    if gap.gap_generator == "portfolio":
        return PortfolioGenerator.for_language("lean4", gap.gap_tactics)
    if gap.gap_generator == "same":
        twin = with_prompt(generator, gap.gap_prompt, samples=gap.gap_samples)
        if twin is None:
            raise ConfigError(
                "--gap-generator same needs a model generator running in this process (hf, vllm, openai; "
                "not under --ray): use --gap-generator portfolio or openai"
            )
        return twin
    settings = dataclasses.replace(
        config.generator,
        name=gap.gap_generator,
        model=gap.gap_model,
        prompt=gap.gap_prompt,
        samples=gap.gap_samples,
        decoding=gap.gap_decoding,
        temperature=gap.gap_temperature,
        endpoint=gap.gap_endpoint or config.generator.endpoint,
        api="completions",
        tactics=gap.gap_tactics,
    )
    return build_generator(settings, "lean4")


@dataclass(frozen=True, slots=True)
class SketchSettings:
    """Settings of one sketch-and-decompose attempt."""

    gap_search: SearchConfig
    timeout: float = 600.0
    """Wall-clock seconds for the whole attempt: drafting, sketching, every gap and the check."""
    draft: bool = False
    max_sketches: int | None = None
    """Sketches tried per attempt, whatever the generator returns."""
    max_chars: int = DEFAULT_MAX_PROOF_CHARS

    @classmethod
    def from_config(cls, config: ProveConfig) -> SketchSettings:
        search, gap = config.search, config.sketch
        model_gaps = gap.gap_generator != "portfolio"
        gap_search = dataclasses.replace(
            search,
            max_expansions=gap.gap_expansions,
            timeout=gap.gap_timeout,
            keep_graph=False,
            max_candidates=gap.gap_samples if model_gaps else None,
        )
        return cls(
            gap_search=gap_search,
            timeout=search.timeout,
            draft=config.run.draft,
            max_sketches=config.generator.samples,
            max_chars=search.max_tactic_chars or DEFAULT_MAX_PROOF_CHARS,
        )


def gap_seed(seed: int | None, sketch: int, gap: int) -> int | None:
    """The seed of one gap's search, from the attempt's seed."""
    if seed is None:
        return None
    digest = hashlib.sha256(f"{seed}:sketch {sketch}:gap {gap}".encode()).digest()
    return int.from_bytes(digest[:4], "big") >> 1


class SketchAndDecompose:
    """Sketches from the model, gaps closed by search, the assembled proof checked whole."""

    def __init__(
        self,
        env: LeanReplEnv,
        generator: TacticGenerator,
        drafter: TacticGenerator | None,
        gap_generator: TacticGenerator,
        settings: SketchSettings,
        seed: int | None = None,
    ) -> None:
        self.env = env
        self.generator = generator
        self.drafter = drafter
        self.gap_generator = gap_generator
        self.settings = settings
        self.seed = seed

    async def search(self, theorem: Theorem) -> SearchResult:
        stats = SearchStats()
        sketches: list[SketchRecord] = []
        started = time.monotonic()
        result = SearchResult(theorem.name, Status.FAILED, reason="the model wrote no sketch")
        try:
            async with asyncio.timeout(self.settings.timeout):
                result = await self._run(theorem, stats, sketches)
        except TimeoutError:
            result = SearchResult(theorem.name, Status.BUDGET, reason=f"time limit of {self.settings.timeout:g} s")
            if sketches:
                result.reason += "; " + _failures(sketches)
        except Exception as error:  # the prover or the model failed: this attempt is an error
            logger.exception("sketch and decompose on %s failed", theorem.name)
            result = SearchResult(theorem.name, Status.ERROR, reason=f"{type(error).__name__}: {error}")
        stats.wall_time = time.monotonic() - started
        stats.time_search = max(0.0, stats.wall_time - stats.time_model - stats.time_env)
        result.stats = stats
        result.sketches = sketches
        return result

    async def _run(self, theorem: Theorem, stats: SearchStats, sketches: list[SketchRecord]) -> SearchResult:
        if not isinstance(self.env, LeanReplEnv):
            raise TypeError("--strategy sketch needs the Lean REPL environment (--env lean-repl)")
        began = time.perf_counter()
        stats.env_calls += 1
        await self.env.start(theorem)  # the statement elaborates alone, and the verifier learns its type
        stats.time_env += time.perf_counter() - began
        target = theorem
        if self.settings.draft:
            if self.drafter is None:
                raise ConfigError("--draft needs a model generator whose prompt can be changed (hf, vllm, openai)")
            written = await self._generate(self.drafter, theorem, stats, 1)
            drafts = [d for d in written if text_problem(d, self.settings.max_chars) is None]
            if not drafts:
                return SearchResult(theorem.name, Status.FAILED, reason="the model drafted no informal proof")
            target = dataclasses.replace(theorem, informal_proof=drafts[0])
        written = await self._generate(self.generator, target, stats, 0)
        for number, text in enumerate(written[: self.settings.max_sketches]):
            record, verdict = await self._try(theorem, number, text, stats)
            sketches.append(record)
            if verdict is not None and verdict.ok:
                return SearchResult(theorem.name, Status.PROVED, proof=record.proof, verified=True, verdict=verdict)
        reason = _failures(sketches) if sketches else "the model wrote no sketch"
        return SearchResult(theorem.name, Status.FAILED, reason=reason)

    async def _generate(self, generator: TacticGenerator, theorem: Theorem, stats: SearchStats, call: int) -> list[str]:
        began = time.perf_counter()
        request = TacticRequest(theorem.statement, theorem, seed=request_seed(self.seed, call))
        (candidates,) = await generator.propose([request])
        stats.time_model += time.perf_counter() - began
        stats.model_calls += 1
        stats.tokens += sum(c.num_tokens for c in candidates if score_problem(0.0, c.num_tokens) is None)
        return [c.tactic for c in candidates if not isinstance(c.tactic, str) or c.tactic.strip()]

    async def _try(
        self, theorem: Theorem, number: int, text: str, stats: SearchStats
    ) -> tuple[SketchRecord, Verdict | None]:
        """One sketch, as far as it gets: screened, elaborated, each gap searched, assembled and checked."""
        problem = text_problem(text, self.settings.max_chars)
        if problem is not None:  # model text is data: recorded, never sent
            return SketchRecord(printable(text), "refused", f"sketch {number + 1}: {problem}"), None
        plan = plan_sketch(theorem, text)
        if isinstance(plan, Verdict):
            return SketchRecord(text, "refused", f"sketch {number + 1}: {plan.message}"), None
        began = time.perf_counter()
        stats.env_calls += 1
        try:
            assert self.env.process is not None
            elaboration = await elaborate(self.env.process, plan)
        except SketchRejected as error:
            return SketchRecord(plan.body, "not elaborated", f"sketch {number + 1}: {error}"), None
        finally:
            stats.time_env += time.perf_counter() - began
        gaps, proofs = await self._close_gaps(theorem, number, plan, elaboration, stats)
        open_gap = next((g for g in gaps if g.status == "open"), None)
        if open_gap is not None:
            message = f"sketch {number + 1}: gap {open_gap.index + 1} ({open_gap.name}, line {open_gap.line}) "
            message += f"not closed: {open_gap.reason}"
            return SketchRecord(plan.body, "gap open", message, gaps), None
        proof = assemble(plan, proofs)
        began = time.perf_counter()
        stats.env_calls += 1
        try:
            verdict = await self.env.verify(theorem, proof)
        finally:
            stats.time_env += time.perf_counter() - began
        if verdict.ok:
            return SketchRecord(plan.body, "proved", f"{len(gaps)} gap(s) closed", gaps, proof), verdict
        message = f"sketch {number + 1}: the assembled proof was rejected by verification: {verdict.message}"
        return SketchRecord(plan.body, "rejected", message, gaps, proof), verdict

    async def _close_gaps(
        self, theorem: Theorem, number: int, plan: SketchPlan, elaboration: Elaboration, stats: SearchStats
    ) -> tuple[tuple[GapRecord, ...], dict[int, list[str]]]:
        """Search the gaps in order; after the first one left open the others are not tried."""
        records: list[GapRecord] = []
        proofs: dict[int, list[str]] = {}
        for gap in elaboration.gaps:
            site = gap.site
            if any(r.status == "open" for r in records):
                records.append(GapRecord(site.index, site.name, site.line, gap.goal, "not tried"))
                continue
            result = await self._search_gap(theorem, number, plan, elaboration, gap, stats)
            closed = result.status is Status.PROVED and isinstance(result.proof, list)
            if closed:
                proofs[site.index] = list(result.proof or [])
            records.append(
                GapRecord(
                    site.index,
                    site.name,
                    site.line,
                    gap.goal,
                    "closed" if closed else "open",
                    tuple(proofs.get(site.index, ())),
                    result.stats.wall_time,
                    result.stats.expansions,
                    "" if closed else result.reason or result.status.value,
                )
            )
        return tuple(records), proofs

    async def _search_gap(
        self,
        theorem: Theorem,
        number: int,
        plan: SketchPlan,
        elaboration: Elaboration,
        gap: OpenGap,
        stats: SearchStats,
    ) -> SearchResult:
        env = GapEnv(self.env, plan, elaboration, gap)
        search = BestFirstSearch(
            env, self.gap_generator, self.settings.gap_search, seed=gap_seed(self.seed, number, gap.site.index)
        )
        try:
            result = await search.search(theorem)
        finally:
            await env.close()
        spent = result.stats
        for name in ("expansions", "env_calls", "model_calls", "tokens", "nodes", "time_model", "time_env"):
            setattr(stats, name, getattr(stats, name) + getattr(spent, name))
        if result.status is Status.ERROR:
            raise GapSearchError(f"gap {gap.site.index + 1} ({gap.site.name}): {result.reason}")
        return result


def _failures(sketches: list[SketchRecord]) -> str:
    text = "; ".join(s.message for s in sketches if s.message)
    return text if len(text) <= MAX_REASON_CHARS else text[:MAX_REASON_CHARS] + "…"
