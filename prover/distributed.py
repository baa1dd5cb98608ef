"""Ray: prover actors own environment pools, a model actor batches requests from all of them.

Each prover actor runs many searches at once on its own event loop (an async
actor); with a model-backed generator, every actor's requests go to one model
actor (on a GPU when the cluster has one) whose batching wrapper merges them.
Records stream back to the driver as attempts finish. Attempts are handed to an
actor as it frees a slot, so a prover actor that dies costs only the attempts it
was running; a new actor, with a prover process of its own, takes its place.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import math
from collections import deque
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


def actor_share(config: ProveConfig, slot: int, actors: int) -> ProveConfig:
    """The configuration of prover actor ``slot`` of ``actors``: ``search_workers`` REPL processes, its own
    PISA addresses."""
    addresses = config.env.pisa_address[slot::actors]
    env = dataclasses.replace(config.env, workers=config.env.search_workers, pisa_address=addresses)
    return dataclasses.replace(config, env=env)


class ProverActor:
    """Owns one environment pool and runs searches on it."""

    def __init__(self, config: ProveConfig, model: Any, language: str, graphs_dir: str | None) -> None:
        from prover.envs import build_env
        from prover.models import build_generator

        self.config = config
        self.env = build_env(config.env, config.search)
        self.generator = RemoteGenerator(model) if model is not None else build_generator(config.generator, language)
        self.graphs_dir = Path(graphs_dir) if graphs_dir else None
        self.gap_generator = None
        if config.run.strategy == "sketch":
            from prover.sketch import build_gap_generator

            self.gap_generator = build_gap_generator(config, self.generator)

    async def prove(self, theorem: Theorem, attempt: int) -> dict[str, Any]:
        return await prove_attempt(
            self.config, self.env, self.generator, theorem, attempt, self.graphs_dir, gap_generator=self.gap_generator
        )

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
    # One prover actor per search_workers pool processes (each owns a pool of that many, one CPU each), as
    # many as the cluster can place: a search then has the processes of its actor.
    size = config.env.search_workers
    wanted = max(1, config.env.workers // size)
    actors_count = max(1, min(wanted, cpus // size))
    if actors_count < wanted:
        logger.warning("the Ray cluster has room for %d prover actors, not %d", actors_count, wanted)
    addresses = config.env.pisa_address
    if addresses:  # a PISA server holds one Isabelle: every address belongs to exactly one actor
        actors_count = min(actors_count, len(addresses))
    per_actor = max(1, math.ceil(config.run.concurrency / actors_count))
    actor_class = ray.remote(num_cpus=size, max_concurrency=per_actor)(ProverActor)

    def arguments(slot: int) -> tuple[Any, ...]:
        actor_config = actor_share(config, slot, actors_count)
        return (actor_config, model, language, str(graphs_dir) if graphs_dir else None)

    actors: list[Any] = [actor_class.remote(*arguments(slot)) for slot in range(actors_count)]
    if not await _ready([*actors, *([model] if model else [])]):
        for handle in [*actors, *([model] if model else [])]:
            ray.kill(handle)
        raise RuntimeError(
            f"Ray could not start {len(actors) + (model is not None)} actors within {ACTOR_START_TIMEOUT} s "
            f"(cluster resources: {resources}); lower --workers or add nodes."
        )
    waiting = deque(todo)
    replacing = [asyncio.Lock() for _ in actors]

    async def replace(slot: int, dead: Any) -> None:
        """A new actor (with its own prover process) in place of a dead one; None in the slot if none starts."""
        async with replacing[slot]:
            if actors[slot] is not dead:  # another attempt on the same actor replaced it already
                return
            ray.kill(dead)
            fresh = actor_class.remote(*arguments(slot))
            if await _ready([fresh]):
                logger.warning("prover actor %d died; a new one took its place", slot)
                actors[slot] = fresh
                return
            ray.kill(fresh)
            actors[slot] = None
            logger.error("prover actor %d died and no new one started within %d s", slot, ACTOR_START_TIMEOUT)

    async def serve(slot: int) -> None:
        """Prove waiting attempts on one actor slot, one at a time, until none is left."""
        while waiting and actors[slot] is not None:
            async with replacing[slot]:  # never send work to an actor being replaced
                actor = actors[slot]
            if actor is None or not waiting:
                return
            theorem, attempt = waiting.popleft()
            try:
                line = await actor.prove.remote(theorem, attempt)
            except Exception as error:  # the actor died (crash, out of memory, killed): this attempt is lost
                logger.error("%s: prover actor failed: %s", theorem.name, error)
                reason = f"prover actor failed: {type(error).__name__}: {str(error).splitlines()[0][:300]}"
                seed = attempt_seed(config, theorem.name, attempt)
                finished(record(theorem, attempt, seed, SearchResult(theorem.name, Status.ERROR, reason=reason)))
                if isinstance(error, ray.exceptions.RayActorError):
                    await replace(slot, actor)
                continue
            finished(line)

    try:
        await asyncio.gather(*(serve(slot) for slot in range(len(actors)) for _ in range(per_actor)))
        if waiting:
            raise RuntimeError(
                f"every prover actor died and none could be replaced; {len(waiting)} attempts did not run "
                "(run the same command again to resume them)"
            )
    finally:
        live = [actor for actor in actors if actor is not None]
        await asyncio.gather(*(_close(actor) for actor in live), return_exceptions=True)
        for actor in live:
            ray.kill(actor)
        if model is not None:
            ray.kill(model)


async def _ready(handles: list[Any]) -> bool:
    """Whether every actor finished starting within the time allowed (a failed start is not ready)."""
    try:
        await asyncio.wait_for(asyncio.gather(*(h.__ray_ready__.remote() for h in handles)), ACTOR_START_TIMEOUT)
    except Exception as error:  # a timeout, or an actor whose constructor failed
        logger.error("prover actors did not start: %s", error)
        return False
    return True


async def _close(actor: Any) -> None:
    await asyncio.wait_for(actor.close.remote(), timeout=60)
