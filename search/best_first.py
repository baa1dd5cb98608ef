"""Best-first proof search over a DAG of proof states (transposition table on goal text)."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from search.protocols import ProofEnv, TacticGenerator, search_workers
from search.tactics import (
    DEFAULT_MAX_TACTIC_CHARS,
    GIVE_UP_WORDS,
    ForbiddenWords,
    normalize_tactic,
    printable,
    score_problem,
    text_problem,
)
from search.tree import Edge, EdgeKind, Node, NodeStatus, propagate_dead, propagate_proved
from search.types import (
    Candidate,
    Failed,
    GaveUp,
    Goals,
    Outcome,
    Proved,
    SearchResult,
    SearchStats,
    Status,
    TacticRequest,
    Theorem,
    TimedOut,
    request_seed,
)

logger = logging.getLogger(__name__)

Scoring = Literal["cumulative", "avg-logprob", "length-normalized"]
SCORINGS: tuple[str, ...] = ("cumulative", "avg-logprob", "length-normalized")


@dataclass(frozen=True, slots=True)
class SearchConfig:
    """Settings of one best-first search; ``None`` budgets are unbounded."""

    scoring: Scoring = "cumulative"
    """cumulative: sum of candidate log-probabilities (ReProver); avg-logprob: per-token
    average of each step, summed (Llemma); length-normalized: sum / depth**alpha (BFS-Prover)."""
    alpha: float = 2.0
    """Exponent of the depth normalisation of ``length-normalized`` scoring."""
    max_expansions: int | None = 100
    timeout: float = 600.0
    """Wall-clock seconds per theorem for the search (verification comes after)."""
    tactic_timeout: float = 10.0
    """Seconds one tactic may run in the environment."""
    max_env_calls: int | None = None
    max_depth: int | None = 64
    forbidden: tuple[str, ...] = ()
    """Words that drop a candidate, on top of sorry / admit / oops."""
    keep_graph: bool = False
    max_tactic_chars: int | None = None
    """Longer model text is a failed edge, never sent to the prover (None: 4096 for tactics, 65536 for
    whole proofs)."""
    max_candidates: int | None = None
    """Candidates tried per expansion, whatever the generator returns (the runner sets ``--samples``)."""

    def __post_init__(self) -> None:
        if self.scoring not in SCORINGS:
            raise ValueError(f"Unknown scoring {self.scoring!r}; choose one of {', '.join(SCORINGS)}.")
        if self.timeout <= 0 or self.tactic_timeout <= 0:
            raise ValueError("timeout and tactic_timeout must be positive seconds")
        for name in ("max_tactic_chars", "max_candidates"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be at least 1, not {value}")


class _BudgetExhausted(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class BestFirstSearch:
    """Expands the most promising open proof state until a verified proof or a budget ends it.

    ``seed`` seeds the generation of every expansion (see `request_seed`); None leaves it unseeded.
    """

    def __init__(
        self, env: ProofEnv, generator: TacticGenerator, config: SearchConfig | None = None, seed: int | None = None
    ) -> None:
        self.env = env
        self.generator = generator
        self.config = config or SearchConfig()
        self.seed = seed
        self._forbidden = ForbiddenWords(GIVE_UP_WORDS + tuple(self.config.forbidden))

    async def search(self, theorem: Theorem) -> SearchResult:
        workers = search_workers(self.env)
        if workers > 1:
            from search.parallel import ParallelRun

            return await ParallelRun(self, theorem, workers).execute()
        return await SearchRun(self, theorem).execute()


class SearchRun:
    """The state of one search on one theorem."""

    def __init__(self, owner: BestFirstSearch, theorem: Theorem) -> None:
        self.env = owner.env
        self.generator = owner.generator
        self.config = owner.config
        self.seed = owner.seed
        self.forbidden = owner._forbidden
        self.theorem = theorem
        self.stats = SearchStats()
        self.nodes: dict[str, Node] = {}
        self.root: Node | None = None
        self._heap: list[tuple[float, int, Node]] = []
        self._counter = itertools.count()
        self._depth_pruned = False
        self._rejected: list[str] = []
        self._verifying: Edge | None = None
        self._started = 0.0

    async def execute(self) -> SearchResult:
        self._started = time.monotonic()
        result: SearchResult
        try:
            async with asyncio.timeout(self.config.timeout):
                result = await self._loop()
        except TimeoutError:
            result = self._finish(Status.BUDGET, reason=f"time limit of {self.config.timeout:g} s")
            if self._verifying is not None:
                # The proof was found within the budget; its check may finish after it.
                try:
                    result = await self._verify(self._verifying) or result
                except Exception as error:
                    logger.exception("verification of %s failed", self.theorem.name)
                    result.reason += f"; the proof found could not be verified: {error}"
        except _BudgetExhausted as budget:
            result = self._finish(Status.BUDGET, reason=budget.reason)
        except Exception as error:  # an environment or model failure ends this theorem only
            logger.exception("search of %s failed", self.theorem.name)
            result = self._finish(Status.ERROR, reason=f"{type(error).__name__}: {error}")
        return result

    # -- the loop ------------------------------------------------------------------------

    async def _loop(self) -> SearchResult:
        root_goals = await self._env_call(self.env.start(self.theorem))
        self.root = self._add_node(root_goals, depth=0, score=0.0, parent=None)
        while self._heap:
            node = self._pop()
            if node is None:
                break
            self._check_budget()
            result = await self._expand(node)
            if result is not None:
                return result
        return self._exhausted()

    def _pop(self) -> Node | None:
        while self._heap:
            neg_priority, _, node = heapq.heappop(self._heap)
            if node.status is NodeStatus.OPEN and not node.expanded and -neg_priority == node.priority:
                return node
        return None

    def _check_budget(self) -> None:
        cfg = self.config
        if cfg.max_expansions is not None and self.stats.expansions >= cfg.max_expansions:
            raise _BudgetExhausted(f"expansion budget of {cfg.max_expansions}")
        if cfg.max_env_calls is not None and self.stats.env_calls >= cfg.max_env_calls:
            raise _BudgetExhausted(f"environment-call budget of {cfg.max_env_calls}")

    async def _expand(self, node: Node) -> SearchResult | None:
        """Expand one node; return the result once a proof passes verification."""
        request = self._begin(node)
        candidates, refused = await self._propose(request)
        candidates = self._admit(node, candidates, refused)
        timeout = self.config.tactic_timeout
        if self.env.concurrent_apply:
            self.stats.env_calls += len(candidates)
            calls = (self.env.apply(node.goals, c.tactic, timeout) for c in candidates)
            outcomes = await self._env_call(asyncio.gather(*calls))
            edges = [self._record(node, c, o) for c, o in zip(candidates, outcomes)]
            for edge in edges:
                if edge.kind is EdgeKind.PROVED and (result := await self._verify(edge)) is not None:
                    return result
        else:
            # One state machine at a time: a verified proof ends the expansion early.
            for candidate in candidates:
                self.stats.env_calls += 1
                outcome = await self._env_call(self.env.apply(node.goals, candidate.tactic, timeout))
                if (result := await self._settle(node, candidate, outcome)) is not None:
                    return result
        self._close(node)
        return None

    def _begin(self, node: Node) -> TacticRequest:
        """Count the expansion of ``node`` and say what the generator is asked for it."""
        self.stats.expansions += 1
        node.expanded = True
        seed = request_seed(self.seed, self.stats.expansions)
        return TacticRequest(node.goals.text, self.theorem, node.tactic_path(), seed=seed)

    def _admit(self, node: Node, candidates: list[Candidate], refused: list[tuple[Candidate, str]]) -> list[Candidate]:
        """Record the refused candidates as failed edges; the candidates the env-call budget lets through."""
        for candidate, reason in refused:  # model text that must not reach the prover: a failed edge
            node.add_edge(candidate, EdgeKind.FAILED, None, f"refused before the prover: {reason}")
        budget = self.config.max_env_calls
        if budget is not None:
            candidates = candidates[: max(0, budget - self.stats.env_calls)]
        return candidates

    async def _settle(self, node: Node, candidate: Candidate, outcome: Outcome) -> SearchResult | None:
        """Record one outcome; the result when it closes the proof and the proof passes verification."""
        edge = self._record(node, candidate, outcome)
        if edge.kind is EdgeKind.PROVED:
            return await self._verify(edge)
        return None

    def _close(self, node: Node) -> None:
        """After an expansion: a node whose every edge is a dead end is dead, and so may be its ancestors."""
        if node.is_dead():
            propagate_dead(node)

    async def _propose(self, request: TacticRequest) -> tuple[list[Candidate], list[tuple[Candidate, str]]]:
        started = time.perf_counter()
        (proposed,) = await self.generator.propose([request])
        self._count_proposal(proposed, time.perf_counter() - started)
        return self._filter(proposed)

    def _count_proposal(self, proposed: Sequence[Candidate], seconds: float) -> None:
        self.stats.time_model += seconds
        self.stats.model_calls += 1
        self.stats.tokens += sum(c.num_tokens for c in proposed if score_problem(0.0, c.num_tokens) is None)

    def _filter(self, proposed: Sequence[Candidate]) -> tuple[list[Candidate], list[tuple[Candidate, str]]]:
        """The candidates to try and those refused with the reason, at most ``max_candidates`` in all.

        Empty, duplicate and forbidden candidates are dropped, as are candidates whose score is
        not a finite number (they could never be ranked); text that cannot be sent to a prover
        (too long, not valid Unicode, not text) is refused. The generator's order is kept.
        """
        limit = self.config.max_tactic_chars or DEFAULT_MAX_TACTIC_CHARS
        cap = self.config.max_candidates
        seen: set[str] = set()
        kept: list[Candidate] = []
        refused: list[tuple[Candidate, str]] = []
        for candidate in proposed:
            if cap is not None and len(kept) + len(refused) >= cap:
                break
            problem = score_problem(candidate.logprob, candidate.num_tokens)
            if problem is not None:
                logger.warning("%s: dropped a candidate: %s", self.theorem.name, problem)
                continue
            problem = text_problem(candidate.tactic, limit)
            if problem is not None:
                shown = Candidate(printable(candidate.tactic), candidate.logprob, candidate.num_tokens)
                refused.append((shown, problem))
                continue
            tactic = normalize_tactic(candidate.tactic)
            if not tactic or tactic in seen or self.forbidden.reason(tactic) is not None:
                continue
            seen.add(tactic)
            kept.append(Candidate(tactic, candidate.logprob, candidate.num_tokens))
        return kept, refused

    async def _env_call(self, awaitable):  # type: ignore[no-untyped-def]
        started = time.perf_counter()
        try:
            return await awaitable
        finally:
            self.stats.time_env += time.perf_counter() - started

    # -- bookkeeping ---------------------------------------------------------------------

    def _step_score(self, candidate: Candidate) -> float:
        if self.config.scoring == "avg-logprob":
            return candidate.logprob / max(1, candidate.num_tokens)
        return candidate.logprob

    def _priority(self, score: float, depth: int) -> float:
        if self.config.scoring == "length-normalized" and depth > 0:
            return score / depth**self.config.alpha
        return score

    def _add_node(self, goals: Goals, depth: int, score: float, parent: Edge | None) -> Node:
        node = Node(goals, depth, score, self._priority(score, depth), parent)
        self.nodes[goals.text] = node
        self.stats.nodes += 1
        self._push(node)
        return node

    def _push(self, node: Node) -> None:
        if self.config.max_depth is not None and node.depth >= self.config.max_depth:
            self._depth_pruned = True
            return
        heapq.heappush(self._heap, (-node.priority, next(self._counter), node))

    def _record(self, node: Node, candidate: Candidate, outcome: Outcome) -> Edge:
        score = node.score + self._step_score(candidate)
        if isinstance(outcome, Goals):
            child = self.nodes.get(outcome.text)
            if child is node:
                return node.add_edge(candidate, EdgeKind.FAILED, None, "no progress: the state is unchanged")
            if child is None:
                edge = node.add_edge(candidate, EdgeKind.GOALS, None)
                edge.dst = self._add_node(outcome, node.depth + 1, score, edge)
                edge.dst.parents.append(edge)
                return edge
            edge = node.add_edge(candidate, EdgeKind.GOALS, child)
            child.parents.append(edge)
            # A better path to a state not yet expanded re-ranks it; an unexpanded state has
            # no descendants, so moving its parent pointer cannot create a cycle.
            priority = self._priority(score, node.depth + 1)
            if not child.expanded and child.status is NodeStatus.OPEN and priority > child.priority:
                child.score, child.depth, child.priority, child.parent = score, node.depth + 1, priority, edge
                # The state of the new path, not the first one: the tactics applied to this node, the
                # tactics the model is shown and the proof sent to the check must all follow one path.
                child.goals = outcome
                self._push(child)
            return edge
        if isinstance(outcome, Proved):
            return node.add_edge(candidate, EdgeKind.PROVED, None)
        if isinstance(outcome, TimedOut):
            return node.add_edge(candidate, EdgeKind.TIMED_OUT, None, f"timed out after {outcome.seconds:g} s")
        if isinstance(outcome, GaveUp):
            return node.add_edge(candidate, EdgeKind.GAVE_UP, None, outcome.reason)
        if isinstance(outcome, Failed):
            return node.add_edge(candidate, EdgeKind.FAILED, None, outcome.message)
        raise TypeError(f"environment returned {outcome!r}, which is not an Outcome")

    async def _verify(self, edge: Edge) -> SearchResult | None:
        """Check the proof ending in ``edge`` whole; a rejected proof becomes an error edge."""
        proof = [*edge.src.tactic_path(), edge.tactic]
        self._verifying = edge
        verdict = await self._env_call(self.env.verify(self.theorem, proof))
        self._verifying = None
        if verdict.ok:
            propagate_proved(edge)
            return self._finish(Status.PROVED, proof=proof, verdict=verdict)
        logger.warning("%s: a proof was rejected by verification: %s", self.theorem.name, verdict.message)
        edge.kind = EdgeKind.UNVERIFIED
        edge.message = verdict.message
        self._rejected.append(verdict.message)
        return None

    def _exhausted(self) -> SearchResult:
        if self._depth_pruned:
            return self._finish(Status.BUDGET, reason=f"depth limit of {self.config.max_depth}")
        reason = "search space exhausted"
        if self._rejected:
            reason += f"; {len(self._rejected)} proof(s) rejected by verification: {self._rejected[-1]}"
        return self._finish(Status.FAILED, reason=reason)

    def _finish(self, status: Status, *, proof=None, verdict=None, reason: str = "") -> SearchResult:  # type: ignore[no-untyped-def]
        self.stats.wall_time = time.monotonic() - self._started
        # Everything that is neither the model nor the environment is the search's own cost.
        self.stats.time_search = max(0.0, self.stats.wall_time - self.stats.time_model - self.stats.time_env)
        graph = None
        if self.config.keep_graph and self.root is not None:
            from search.graph import to_networkx

            graph = to_networkx(self.root, self.nodes.values())
        return SearchResult(
            name=self.theorem.name,
            status=status,
            proof=proof,
            verified=verdict is not None and verdict.ok,
            verdict=verdict,
            stats=self.stats,
            reason=reason,
            graph=graph,
        )
