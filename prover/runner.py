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

from prover import __version__
from prover.attempt import prove_attempt
from prover.benchmarks import Benchmark, load_benchmark
from prover.config import ConfigError, ProveConfig
from prover.envs import ENVIRONMENTS, EnvProvider, build_env, sandbox_state
from prover.models import GENERATORS, PROMPTS, build_generator
from prover.results import MANIFEST, SUMMARY, ResultsFile, required_level, summarize, write_json
from search import TacticGenerator, Theorem

logger = logging.getLogger(__name__)

PACKAGES = ("torch", "transformers", "vllm", "ray", "lean-dojo", "grpcio")

# What a record depends on: resuming a run directory with any of these changed is refused.
# (Which theorems run, how many at once and where the processes live may change freely.)
RESULT_FIELDS: dict[str, tuple[str, ...] | None] = {
    "search": None,  # all of it
    "generator": (
        "name",
        "model",
        "prompt",
        "samples",
        "decoding",
        "temperature",
        "top_p",
        "max_new_tokens",
        "tactics",
        "api",
    ),
    "env": ("name", "axioms"),
    "run": ("benchmark", "strategy", "attempts", "seed", "draft"),
}


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


def result_fingerprint(config_dict: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The part of a configuration the records depend on."""
    out: dict[str, Any] = {}
    for section, fields in RESULT_FIELDS.items():
        values = config_dict.get(section, {})
        out[section] = dict(values) if fields is None else {f: values.get(f) for f in fields}
    return json.loads(json.dumps(out))  # tuples and lists compare alike


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
    ) -> None:
        self.config = config
        self.report = report
        self._env = env
        self._generator = generator
        self.on_start = on_start
        self.on_result = on_result
        self.run_dir = Path(config.run.out) if config.run.out else default_run_dir()

    def _check_names(self) -> None:
        """Unknown names fail here, before any data or model loads."""
        GENERATORS.get(self.config.generator.name)
        PROMPTS.get(self.config.generator.prompt)
        ENVIRONMENTS.get(self.config.env.name)

    def _check_resume(self, benchmark: Benchmark) -> None:
        path = self.run_dir / MANIFEST
        if not path.exists():
            return
        previous = json.loads(path.read_text())
        before = result_fingerprint(previous.get("config", {}))
        now = result_fingerprint(self.config.to_dict())
        changed = [
            f"{section}.{key}: {before[section].get(key)!r} -> {now[section].get(key)!r}"
            for section in now
            for key in sorted(set(now[section]) | set(before.get(section, {})))
            if before.get(section, {}).get(key) != now[section].get(key)
        ]
        if previous.get("benchmark", {}).get("sha256") not in (None, benchmark.sha256):
            changed.append("the benchmark file's contents changed")
        if changed:
            raise ConfigError(
                f"{self.run_dir} holds results of a different configuration ({'; '.join(changed)}). "
                "Use another --out, or the same settings to resume."
            )

    async def run(self) -> dict[str, Any]:
        cfg = self.config
        self._check_names()
        language = "isabelle" if cfg.env.name == "isabelle" else "lean4"
        benchmark = load_benchmark(
            cfg.run.benchmark, names=cfg.run.names, limit=cfg.run.limit, shard=cfg.run.shard, language=language
        )
        if not benchmark.theorems:
            raise ConfigError(f"{cfg.run.benchmark}: no theorem selected (check --names, --limit, the split)")
        self._check_resume(benchmark)
        todo_env = self._env if self._env is not None or cfg.run.ray else build_env(cfg.env, cfg.search)
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
        versions = {**package_versions(), **getattr(todo_env, "versions", {})}
        write_json(self.run_dir / MANIFEST, self._manifest(benchmark, versions))
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
        elif todo_env is not None and self._env is None:
            await todo_env.close()
        summary = summarize(results.records, required_level(self._manifest_config()))
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
        cfg = self.config
        try:
            generator = self._generator or build_generator(cfg.generator, benchmark.theorems[0].language)
            drafter = None
            if cfg.run.strategy == "dsp":
                from prover.dsp import with_prompt

                drafter = with_prompt(generator, "dsp-draft")
            limit = asyncio.Semaphore(max(1, cfg.run.concurrency))

            async def one(theorem: Theorem, attempt: int) -> None:
                async with limit:
                    line = await prove_attempt(cfg, env, generator, theorem, attempt, self._graphs_dir(), drafter)
                finished(line)

            await asyncio.gather(*(one(t, a) for t, a in todo))
        finally:
            if self._env is None:
                await env.close()

    def _manifest_config(self) -> dict[str, Any]:
        return {"config": self.config.to_dict()}

    def _manifest(self, benchmark: Benchmark, versions: dict[str, Any]) -> dict[str, Any]:
        cfg = self.config
        return {
            "config": cfg.to_dict(),
            "benchmark": {"name": benchmark.name, "path": benchmark.path, "sha256": benchmark.sha256},
            "theorems": len(benchmark.theorems),
            "versions": versions,
            "sandbox": sandbox_state(cfg.env),
            "model": {"id": cfg.generator.model, "revision": _model_revision(cfg.generator.model)},
            "started": datetime.now(UTC).isoformat(timespec="seconds"),
        }


def _model_revision(model: str | None) -> str | None:
    """The commit of a local Hugging Face snapshot, when the model path names one."""
    if not model:
        return None
    path = Path(model)
    if path.parent.name == "snapshots":
        return path.name
    return None
