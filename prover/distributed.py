"""Ray: prover actors own environment pools, a model actor batches requests from all of them.

Each prover actor runs many searches at once on its own event loop (an async
actor); with a model-backed generator, every actor's requests go to one model
actor (on a GPU when the cluster has one) whose batching wrapper merges them.
Records stream back to the driver as attempts finish.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from prover.attempt import attempt_seed, prove_attempt, record
from prover.config import ProveConfig
from search import Candidate, SearchResult, Status, TacticRequest, Theorem

logger = logging.getLogger(__name__)

INSTALL_HINT = "Ray is not installed: pip install 'llemma-prover[ray]'"
ACTOR_START_TIMEOUT = 300  # loading a model on an actor takes a while, but not forever


def import_ray() -> Any:
    try:
        import ray
    except ImportError as error:
        raise ImportError(f"{INSTALL_HINT} ({error})") from None
    return ray


class ModelActor:
    """Owns the model; concurrent `propose` calls from all prover actors are batched."""

    def __init__(self, config: ProveConfig, language: str) -> None:
        from prover.models import build_generator

        self.generator = build_generator(config.generator, language)

    async def propose(self, requests: list[TacticRequest]) -> list[list[Candidate]]:
        return await self.generator.propose(requests)


class RemoteGenerator:
    """A `TacticGenerator` that forwards to the model actor."""

    def __init__(self, handle: Any) -> None:
        self.handle = handle

    async def propose(self, requests: Sequence[TacticRequest]) -> list[list[Candidate]]:
        return await self.handle.propose.remote(list(requests))


class ProverActor:
    """Owns one environment pool and runs searches on it."""

    def __init__(self, config: ProveConfig, model: Any, language: str, graphs_dir: str | None) -> None:
        from prover.envs import build_env
        from prover.models import build_generator

        self.config = config
        self.env = build_env(config.env, config.search)
        self.generator = RemoteGenerator(model) if model is not None else build_generator(config.generator, language)
        self.graphs_dir = Path(graphs_dir) if graphs_dir else None

    async def prove(self, theorem: Theorem, attempt: int) -> dict[str, Any]:
        return await prove_attempt(self.config, self.env, self.generator, theorem, attempt, self.graphs_dir)

    async def close(self) -> None:
        await self.env.close()


def _connect(ray: Any, address: str) -> None:
    if ray.is_initialized():
        return  # a caller (a notebook, a test) already started or joined a cluster
    ray.init(address=None if address == "local" else address, log_to_driver=False)


async def run_on_ray(
    config: ProveConfig,
    todo: list[tuple[Theorem, int]],
    finished: Callable[[dict[str, Any]], None],
    graphs_dir: Path | None,
) -> None:
    """Run every attempt on the cluster at ``config.run.ray``; call ``finished`` as each returns."""
    ray = import_ray()
    _connect(ray, config.run.ray or "auto")
    language = todo[0][0].language
    resources = ray.cluster_resources()
    cpus = int(resources.get("CPU", 1))
    model = None
    if config.generator.name != "portfolio":
        on_gpu = resources.get("GPU", 0) >= 1
        # On a GPU the model needs no CPU slot of its own; on a CPU-only cluster it takes one.
        model = ray.remote(num_gpus=1 if on_gpu else 0, num_cpus=0 if on_gpu else 1)(ModelActor).remote(
            config, language
        )
        cpus -= 0 if on_gpu else 1
    # One prover actor per pool process (each owns a pool of one), as many as the cluster can place.
    actors_count = max(1, min(config.env.workers, cpus))
    if actors_count < config.env.workers:
        logger.warning("the Ray cluster has room for %d prover actors, not %d", actors_count, config.env.workers)
    per_actor_env = dataclasses.replace(config.env, workers=1)
    actor_config = dataclasses.replace(config, env=per_actor_env)
    per_actor = max(1, math.ceil(config.run.concurrency / actors_count))
    actor_class = ray.remote(num_cpus=1, max_concurrency=per_actor)(ProverActor)
    actors = [
        actor_class.remote(actor_config, model, language, str(graphs_dir) if graphs_dir else None)
        for _ in range(actors_count)
    ]
    placed = [a.__ray_ready__.remote() for a in actors] + ([model.__ray_ready__.remote()] if model else [])
    ready, _ = await asyncio.to_thread(ray.wait, placed, num_returns=len(placed), timeout=ACTOR_START_TIMEOUT)
    if len(ready) < len(placed):
        for handle in [*actors, *([model] if model else [])]:
            ray.kill(handle)
        raise RuntimeError(
            f"Ray could not start {len(placed)} actors within {ACTOR_START_TIMEOUT} s "
            f"(cluster resources: {resources}); lower --workers or add nodes."
        )

    async def one(index: int, theorem: Theorem, attempt: int) -> None:
        actor = actors[index % len(actors)]
        try:
            line = await actor.prove.remote(theorem, attempt)
        except Exception as error:  # the actor died (crash, out of memory): record it and go on
            logger.error("%s: prover actor failed: %s", theorem.name, error)
            reason = f"prover actor failed: {type(error).__name__}: {str(error).splitlines()[0][:300]}"
            seed = attempt_seed(config, theorem.name, attempt)
            line = record(theorem, attempt, seed, SearchResult(theorem.name, Status.ERROR, reason=reason))
        finished(line)

    try:
        await asyncio.gather(*(one(i, t, a) for i, (t, a) in enumerate(todo)))
    finally:
        await asyncio.gather(*(_close(actor) for actor in actors), return_exceptions=True)
        for actor in actors:
            ray.kill(actor)
        if model is not None:
            ray.kill(model)


async def _close(actor: Any) -> None:
    await asyncio.wait_for(actor.close.remote(), timeout=60)
