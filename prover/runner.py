"""`prover prove`: many searches at once over a benchmark, each result appended as it finishes."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import platform
import time
from collections.abc import Callable
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from prover import __version__
from prover.benchmarks import Benchmark, load_benchmark
from prover.config import ConfigError, ProveConfig
from prover.envs import ENVIRONMENTS, EnvProvider, build_env
from prover.models import GENERATORS, PROMPTS, build_generator
from prover.results import MANIFEST, SUMMARY, ResultsFile, summarize, write_json
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

PACKAGES = ("torch", "transformers", "vllm", "ray", "lean-dojo", "grpcio")


def package_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {"llemma-prover": __version__, "python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def default_run_dir() -> Path:
    return Path("runs") / datetime.now(UTC).strftime("%Y%m%d-%H%M%S")


def _manifest(config: ProveConfig, benchmark: Benchmark, env_versions: dict[str, Any]) -> dict[str, Any]:
    return {
        "config": config.to_dict(),
        "benchmark": {"name": benchmark.name, "path": benchmark.path, "sha256": benchmark.sha256},
        "theorems": len(benchmark.theorems),
        "versions": {**package_versions(), **env_versions},
        "model": config.generator.model,
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def record(theorem: Theorem, attempt: int, result: SearchResult) -> dict[str, Any]:
    """One line of results.jsonl."""
    data = result.to_dict()
    return {
        "name": theorem.name,
        "split": theorem.split,
        "attempt": attempt,
        "status": data["status"],
        "proof": data["proof"],
        "verified": data["verified"],
        "stats": data["stats"],
        "error": data["reason"] if result.status is Status.ERROR else None,
        "reason": data["reason"],
        "verification": data["verification"],
        "attempts": data["attempts"],
    }


class Runner:
    """Runs every (theorem, attempt) not yet in the run directory, ``concurrency`` at a time."""

    def __init__(
        self,
        config: ProveConfig,
        *,
        env: EnvProvider | None = None,
        generator: TacticGenerator | None = None,
        on_result: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.config = config
        self._env = env
        self._generator = generator
        self.on_result = on_result
        self.run_dir = Path(config.run.out) if config.run.out else default_run_dir()

    async def run(self) -> dict[str, Any]:
        cfg = self.config
        # Unknown names fail here, before any data or model loads.
        GENERATORS.get(cfg.generator.name)
        PROMPTS.get(cfg.generator.prompt)
        ENVIRONMENTS.get(cfg.env.name)
        benchmark = load_benchmark(cfg.run.benchmark, names=cfg.run.names, limit=cfg.run.limit, shard=cfg.run.shard)
        if not benchmark.theorems:
            raise ConfigError(f"{cfg.run.benchmark}: no theorem selected (check --names, --limit, the split)")
        env = self._env or build_env(cfg.env, cfg.search)  # a missing prover stops the run here
        self.run_dir.mkdir(parents=True, exist_ok=True)
        results = ResultsFile(self.run_dir)
        done = results.done()
        todo = [
            (theorem, attempt)
            for theorem in benchmark.theorems
            for attempt in range(cfg.run.attempts)
            if (theorem.name, attempt) not in done
        ]
        if done:
            logger.info("resuming %s: %d attempts done, %d to run", self.run_dir, len(done), len(todo))
        language = benchmark.theorems[0].language
        generator = self._generator or build_generator(cfg.generator, language)
        write_json(self.run_dir / MANIFEST, _manifest(cfg, benchmark, getattr(env, "versions", {})))
        limit = asyncio.Semaphore(max(1, cfg.run.concurrency))
        started = time.monotonic()
        try:
            await asyncio.gather(*(self._one(env, generator, t, a, limit, results) for t, a in todo))
        finally:
            if self._env is None:
                await env.close()
        summary = summarize(results.records)
        summary["wall_time"] = time.monotonic() - started
        summary["run_dir"] = str(self.run_dir)
        write_json(self.run_dir / SUMMARY, summary)
        return summary

    def _strategy(self, env: Any, generator: TacticGenerator) -> BestFirstSearch | WholeProofSearch:
        cfg = self.config
        if cfg.run.strategy == "whole-proof":
            whole = WholeProofConfig(timeout=cfg.search.timeout, forbidden=cfg.search.forbidden)
            return WholeProofSearch(env, generator, whole)
        search = cfg.search
        if cfg.run.keep_graphs and not search.keep_graph:
            search = dataclasses.replace(search, keep_graph=True)
        return BestFirstSearch(env, generator, search)

    async def _one(
        self,
        provider: EnvProvider,
        generator: TacticGenerator,
        theorem: Theorem,
        attempt: int,
        limit: asyncio.Semaphore,
        results: ResultsFile,
    ) -> None:
        async with limit:
            try:
                async with provider.session() as env:
                    result = await self._strategy(env, generator).search(theorem)
            except Exception as error:  # one theorem's failure never ends the run
                logger.exception("%s: the environment failed", theorem.name)
                result = SearchResult(theorem.name, Status.ERROR, reason=f"{type(error).__name__}: {error}")
            if result.graph is not None:
                from search.graph import write_graph

                graphs = self.run_dir / "graphs"
                graphs.mkdir(exist_ok=True)
                write_graph(result.graph, graphs / f"{theorem.name}.{attempt}.json")
            line = record(theorem, attempt, result)
            results.append(line)
            if self.on_result is not None:
                self.on_result(line)
