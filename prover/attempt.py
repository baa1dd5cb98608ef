"""One proof attempt on one theorem, as a results.jsonl record: the unit both runners execute."""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import re
from pathlib import Path
from typing import Any

from prover.config import ProveConfig
from prover.envs import EnvProvider
from search import (
    BestFirstSearch,
    SearchConfig,
    SearchResult,
    Status,
    TacticGenerator,
    Theorem,
    WholeProofConfig,
    WholeProofSearch,
)
from search.tactics import DEFAULT_MAX_PROOF_CHARS

logger = logging.getLogger(__name__)


def attempt_seed(config: ProveConfig, name: str, attempt: int) -> int:
    """A seed per (run seed, theorem, attempt), the same on every machine."""
    digest = hashlib.sha256(f"{config.run.seed}:{name}:{attempt}".encode()).digest()
    return int.from_bytes(digest[:4], "big")


def strategy(
    config: ProveConfig,
    env: Any,
    generator: TacticGenerator,
    drafter: TacticGenerator | None = None,
    seed: int | None = None,
) -> Any:
    """The search the configuration names, over one environment; ``seed`` seeds its generations."""
    if config.run.strategy == "dsp":
        from prover.dsp import DraftSketchProve, DSPConfig

        return DraftSketchProve(
            env, generator, drafter, DSPConfig(draft=config.run.draft, timeout=config.search.timeout)
        )
    search = search_config(config)
    if config.run.strategy == "whole-proof":
        whole = WholeProofConfig(
            timeout=search.timeout,
            forbidden=search.forbidden,
            max_proof_chars=search.max_tactic_chars or DEFAULT_MAX_PROOF_CHARS,
            max_candidates=search.max_candidates,
        )
        return WholeProofSearch(env, generator, whole, seed=seed)
    return BestFirstSearch(env, generator, search, seed=seed)


def search_config(config: ProveConfig) -> SearchConfig:
    """The search settings of a run: graphs kept when the run keeps them, candidates capped at ``--samples``.

    The portfolio generator is exempt from the cap: its list is the user's own choice of tactics.
    """
    search = config.search
    if config.run.keep_graphs and not search.keep_graph:
        search = dataclasses.replace(search, keep_graph=True)
    if search.max_candidates is None and config.generator.name != "portfolio":
        search = dataclasses.replace(search, max_candidates=config.generator.samples)
    return search


_SAFE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}")


def graph_file(graphs_dir: Path, name: str, attempt: int) -> Path:
    """Where the graph of one attempt goes: a safe form of the theorem id, always inside ``graphs_dir``.

    A name that is not a plain file name (``../x``, ``a/b``, control characters, very long) becomes
    its safe characters plus a digest of the whole name, so two names never share a file.
    """
    stem = name
    if not _SAFE_NAME.fullmatch(name) or ".." in name:
        digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:12]
        stem = f"{re.sub(r'[^A-Za-z0-9_-]+', '_', name)[:80]}-{digest}"
    path = graphs_dir / f"{stem}.{attempt}.json"
    if path.resolve().parent != graphs_dir.resolve():
        raise ValueError(f"graph file {path} of {name!r} would leave {graphs_dir}")
    return path


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
    """Search one theorem once; any failure of the environment becomes an `error` record.

    Cancellation (a shutdown) is not a failure: it propagates, and the attempt has no record.
    """
    seed = attempt_seed(config, theorem.name, attempt)
    try:
        async with provider.session() as env:
            result = await strategy(config, env, generator, drafter, seed).search(theorem)
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

        try:
            graphs_dir.mkdir(parents=True, exist_ok=True)
            write_graph(result.graph, graph_file(graphs_dir, theorem.name, attempt))
        except (OSError, ValueError) as error:  # the graph is a by-product: the record still counts
            logger.error("%s: the search graph could not be written: %s", theorem.name, error)
    return record(theorem, attempt, seed, result)


def error_record(config: ProveConfig, theorem: Theorem, attempt: int, error: BaseException) -> dict[str, Any]:
    """The record of an attempt that failed outside the search (the run goes on)."""
    reason = f"{type(error).__name__}: {error}"
    return record(
        theorem,
        attempt,
        attempt_seed(config, theorem.name, attempt),
        SearchResult(theorem.name, Status.ERROR, reason=reason),
    )
