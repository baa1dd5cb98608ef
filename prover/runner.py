"""`prover prove`: many searches at once over a benchmark, each result appended as it finishes.

Locally, one event loop runs ``run.concurrency`` searches over a pool of prover
processes with one (batching) generator. With ``--ray``, prover actors own the
environments and a model actor serves batched requests from all of them; the
records are the same either way.
"""

from __future__ import annotations

import asyncio
import json
import logging
import platform
import time
from collections.abc import Callable
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from prover import __version__, resume
from prover.attempt import check_strategy, error_record, prove_attempt
from prover.benchmarks import Benchmark, load_benchmark
from prover.config import ConfigError, ProveConfig
from prover.envs import ENVIRONMENTS, EnvProvider, build_env, sandbox_state
from prover.models import GENERATORS, PROMPTS, build_generator
from prover.results import MANIFEST, SUMMARY, ResultsFile, RunLock, required_level, summarize, write_json
from search import TacticGenerator, Theorem

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


class Runner:
    """Runs every (theorem, attempt) not yet in the run directory."""

    def __init__(
        self,
        config: ProveConfig,
        *,
        env: EnvProvider | None = None,
        generator: TacticGenerator | None = None,
        on_start: Callable[[int, int], None] | None = None,
        on_result: Callable[[dict[str, Any]], None] | None = None,
        report: bool = True,
        manifest_extra: dict[str, Any] | None = None,
    ) -> None:
        self.config = config
        self.report = report
        self.manifest_extra = dict(manifest_extra or {})
        """More entries for the manifest (a sweep names the grid point the run is)."""
        self._env = env
        self._generator = generator
        self.on_start = on_start
        self.on_result = on_result
        self.run_dir = Path(config.run.out) if config.run.out else default_run_dir()

    def check_names(self) -> None:
        """Unknown names fail here, before any data or model loads."""
        GENERATORS.get(self.config.generator.name)
        PROMPTS.get(self.config.generator.prompt)
        ENVIRONMENTS.get(self.config.env.name)
        check_strategy(self.config)

    def _check_resume(self, benchmark: Benchmark, now: dict[str, Any]) -> tuple[dict[str, Any] | None, list[str]]:
        """The previous manifest and what this run changes; refused unless nothing or ``force_resume``."""
        path = self.run_dir / MANIFEST
        if not path.exists():
            return None, []
        try:
            previous = json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as error:
            raise ConfigError(f"{path} is not a readable manifest ({error}); use another --out") from None
        changed = resume.differences(previous, now, benchmark.sha256)
        if changed and not self.config.run.force_resume:
            raise ConfigError(
                f"{self.run_dir} holds results of a different configuration ({'; '.join(changed)}). "
                "Use another --out, or the same settings to resume (--force-resume to mix them, noted in "
                "the manifest)."
            )
        if changed:
            logger.warning("resuming %s with different settings (forced): %s", self.run_dir, "; ".join(changed))
        return previous, changed

    async def run(self) -> dict[str, Any]:
        cfg = self.config
        self.check_names()
        language = "isabelle" if cfg.env.name == "isabelle" else "lean4"
        benchmark = load_benchmark(
            cfg.run.benchmark, names=cfg.run.names, limit=cfg.run.limit, shard=cfg.run.shard, language=language
        )
        if not benchmark.theorems:
            raise ConfigError(f"{cfg.run.benchmark}: no theorem selected (check --names, --limit, the split)")
        todo_env = self._env if self._env is not None or cfg.run.ray else build_env(cfg.env, cfg.search)
        try:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            with RunLock(self.run_dir):  # one run writes to a directory at a time
                return await self._run_locked(benchmark, todo_env)
        finally:
            if todo_env is not None and self._env is None:
                await todo_env.close()

    async def _run_locked(self, benchmark: Benchmark, todo_env: EnvProvider | None) -> dict[str, Any]:
        cfg = self.config
        versions = {**package_versions(), **getattr(todo_env, "versions", {})}
        now = resume.settings(cfg.to_dict(), versions)
        previous, changed = self._check_resume(benchmark, now)
        results = ResultsFile(self.run_dir)
        if results.skipped:
            logger.warning(
                "%s: %d invalid lines are ignored and their attempts run again", results.path, len(results.skipped)
            )
        done = results.done()
        todo = [
            (theorem, attempt)
            for theorem in benchmark.theorems
            for attempt in range(cfg.run.attempts)
            if (theorem.name, attempt) not in done
        ]
        if done:
            logger.info("resuming %s: %d attempts done, %d to run", self.run_dir, len(done), len(todo))
        manifest = self._manifest(benchmark, versions)
        manifest["history"] = resume.history(previous, now, changed)
        write_json(self.run_dir / MANIFEST, manifest)
        if self.on_start is not None:
            self.on_start(len(done), len(todo))

        def finished(line: dict[str, Any]) -> None:
            results.append(line)
            if self.on_result is not None:
                self.on_result(line)

        started = time.monotonic()
        if todo:
            if cfg.run.ray:
                from prover.distributed import run_on_ray

                await run_on_ray(cfg, todo, finished, self._graphs_dir())
            else:
                assert todo_env is not None
                await self._run_local(todo_env, benchmark, todo, finished)
        summary = summarize(results.records, required_level({"config": self.config.to_dict()}))
        summary["wall_time"] = time.monotonic() - started
        summary["run_dir"] = str(self.run_dir)
        write_json(self.run_dir / SUMMARY, summary)
        if self.report:
            from prover.report import write_report

            write_report([self.run_dir])
        return summary

    def _graphs_dir(self) -> Path | None:
        return self.run_dir / "graphs" if self.config.run.keep_graphs else None

    async def _run_local(
        self,
        env: EnvProvider,
        benchmark: Benchmark,
        todo: list[tuple[Theorem, int]],
        finished: Callable[[dict[str, Any]], None],
    ) -> None:
        """Every attempt on this event loop; each ends in exactly one record, or none when the run is stopped.

        An exception in one attempt is that attempt's `error` record. When the run itself stops (it
        is cancelled, or a record cannot be written), the attempts in flight are cancelled and
        awaited before the environment closes, so none of them is recorded as finished.
        """
        cfg = self.config
        generator = self._generator or build_generator(cfg.generator, benchmark.theorems[0].language)
        drafter = gap_generator = None
        if cfg.run.strategy == "dsp":
            from prover.dsp import with_prompt

            drafter = with_prompt(generator, "dsp-draft")
        elif cfg.run.strategy == "sketch":
            from prover.dsp import with_prompt
            from prover.sketch import build_gap_generator, draft_prompt

            drafter = with_prompt(generator, draft_prompt(cfg)) if cfg.run.draft else None
            gap_generator = build_gap_generator(cfg, generator)  # once per run: a gap model loads once
        limit = asyncio.Semaphore(max(1, cfg.run.concurrency))

        async def one(theorem: Theorem, attempt: int) -> None:
            async with limit:
                try:
                    line = await prove_attempt(
                        cfg, env, generator, theorem, attempt, self._graphs_dir(), drafter, gap_generator
                    )
                except Exception as error:  # this attempt's failure, not the run's
                    logger.exception("%s: attempt %d failed", theorem.name, attempt)
                    line = error_record(cfg, theorem, attempt, error)
            finished(line)

        try:
            async with asyncio.TaskGroup() as group:
                for theorem, attempt in todo:
                    group.create_task(one(theorem, attempt))
        except BaseExceptionGroup as failures:
            if len(failures.exceptions) == 1:  # the run's own error, as the caller knows it
                raise failures.exceptions[0] from None
            raise

    def _manifest(self, benchmark: Benchmark, versions: dict[str, Any]) -> dict[str, Any]:
        cfg = self.config
        return {
            "config": cfg.to_dict(),
            "benchmark": {"name": benchmark.name, "path": benchmark.path, "sha256": benchmark.sha256},
            "theorems": len(benchmark.theorems),
            "versions": versions,
            "sandbox": sandbox_state(cfg.env),
            "model": {"id": cfg.generator.model, "revision": resume.model_revision(cfg.generator.model)},
            "started": datetime.now(UTC).isoformat(timespec="seconds"),
            **self.manifest_extra,
        }
