"""One proof attempt on one theorem, as a results.jsonl record: the unit both runners execute."""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from pathlib import Path
from typing import Any

from prover.config import ProveConfig
from prover.envs import EnvProvider
from search import (
    BestFirstSearch,
    SearchResult,
    Status,
    TacticGenerator,
    Theorem,
    WholeProofConfig,
    WholeProofSearch,
)

logger = logging.getLogger(__name__)


def attempt_seed(config: ProveConfig, name: str, attempt: int) -> int:
    """A seed per (run seed, theorem, attempt), the same on every machine."""
    digest = hashlib.sha256(f"{config.run.seed}:{name}:{attempt}".encode()).digest()
    return int.from_bytes(digest[:4], "big")


def strategy(config: ProveConfig, env: Any, generator: TacticGenerator, drafter: TacticGenerator | None = None) -> Any:
    """The search the configuration names, over one environment."""
    if config.run.strategy == "dsp":
        from prover.dsp import DraftSketchProve, DSPConfig

        return DraftSketchProve(
            env, generator, drafter, DSPConfig(draft=config.run.draft, timeout=config.search.timeout)
        )
    if config.run.strategy == "whole-proof":
        whole = WholeProofConfig(timeout=config.search.timeout, forbidden=config.search.forbidden)
        return WholeProofSearch(env, generator, whole)
    search = config.search
    if config.run.keep_graphs and not search.keep_graph:
        search = dataclasses.replace(search, keep_graph=True)
    return BestFirstSearch(env, generator, search)


def record(theorem: Theorem, attempt: int, seed: int, result: SearchResult) -> dict[str, Any]:
    """One line of results.jsonl."""
    data = result.to_dict()
    return {
        "name": theorem.name,
        "split": theorem.split,
        "attempt": attempt,
        "seed": seed,
        "status": data["status"],
        "proof": data["proof"],
        "verified": data["verified"],
        "stats": data["stats"],
        "error": data["reason"] if result.status is Status.ERROR else None,
        "reason": data["reason"],
        "verification": data["verification"],
        "attempts": data["attempts"],
    }


async def prove_attempt(
    config: ProveConfig,
    provider: EnvProvider,
    generator: TacticGenerator,
    theorem: Theorem,
    attempt: int,
    graphs_dir: Path | None = None,
    drafter: TacticGenerator | None = None,
) -> dict[str, Any]:
    """Search one theorem once; any failure of the environment becomes an `error` record."""
    seed = attempt_seed(config, theorem.name, attempt)
    try:
        async with provider.session() as env:
            result = await strategy(config, env, generator, drafter).search(theorem)
    except Exception as error:  # one theorem's failure never ends the run
        logger.exception("%s: the environment failed", theorem.name)
        result = SearchResult(theorem.name, Status.ERROR, reason=f"{type(error).__name__}: {error}")
    required = config.env.verify if config.env.name in ("lean-repl", "leandojo") else None
    if result.verified and required == "kernel" and (result.verdict is None or result.verdict.level != "kernel"):
        # A run that asked for the kernel never reports a proof checked at a lower level as proved.
        level = result.verdict.level if result.verdict else "none"
        result.status, result.verified = Status.FAILED, False
        result.reason = f"the proof was verified at level {level!r} only; this run requires 'kernel'"
    if result.graph is not None and graphs_dir is not None:
        from search.graph import write_graph

        graphs_dir.mkdir(parents=True, exist_ok=True)
        write_graph(result.graph, graphs_dir / f"{theorem.name}.{attempt}.json")
    return record(theorem, attempt, seed, result)
