"""Bench: one theorem that needs many expansions, proved on K = 1, 4, 8 REPL processes side by side.

The theorem is the simulated REPL's landscape (``prover.bench.sim_repl --landscape``): every tactic's
result and latency are functions of the goal and the tactic, so each K meets the same search and the
same tactic costs, pickling and unpickling cost what the stand-in is told, and the model call what the
simulated generator is told. The pools are started and their header loaded before the clock starts
(a run pays that once per process, not per theorem).
"""

from __future__ import annotations

import sys
import tempfile
import time
from dataclasses import dataclass
from typing import Any

from prover.bench.simulated import LandscapeGenerator
from prover.models import BatchingGenerator
from search import BestFirstSearch, SearchConfig, Status, Theorem


@dataclass(frozen=True, slots=True)
class OneTheoremConfig:
    """The landscape, the costs and the K to compare; ``small()`` is what the tests run."""

    search_workers: tuple[int, ...] = (1, 4, 8)
    landscape: int = 2
    candidates: int = 8
    step_median: float = 0.03
    step_sigma: float = 1.0
    step_cap: float = 1.0
    fail_rate: float = 0.3
    proof_rate: float = 0.004
    proof_depth: int = 3
    pickle_delay: float = 0.005
    unpickle_delay: float = 0.005
    generator_a: float = 0.02
    generator_b: float = 0.001

    @classmethod
    def small(cls) -> OneTheoremConfig:
        return cls(step_median=0.002, step_cap=0.02, proof_rate=0.03, pickle_delay=0.001, unpickle_delay=0.001)

    def repl_command(self) -> tuple[str, ...]:
        return (
            *(sys.executable, "-m", "prover.bench.sim_repl", "--import-delay", "0"),
            *("--landscape", str(self.landscape), "--step-median", str(self.step_median)),
            *("--step-sigma", str(self.step_sigma), "--step-cap", str(self.step_cap)),
            *("--fail-rate", str(self.fail_rate), "--proof-rate", str(self.proof_rate)),
            *("--proof-depth", str(self.proof_depth), "--pickle-delay", str(self.pickle_delay)),
            *("--unpickle-delay", str(self.unpickle_delay)),
        )


async def _prove(config: OneTheoremConfig, workers: int) -> dict[str, Any]:
    from lean_env.process import ReplSettings
    from lean_env.repl_env import LeanReplEnv, ReplPool

    theorem = Theorem("hard", "theorem hard : True := by\n", header="import Mathlib\n\n")
    pool = ReplPool(ReplSettings(command=config.repl_command()), workers)
    generator = BatchingGenerator(
        LandscapeGenerator(config.candidates, config.generator_a, config.generator_b, config.landscape),
        window=0.002,
        max_batch=64,
    )
    search = SearchConfig(max_expansions=None, max_depth=None, timeout=3600)
    try:
        for process in pool.processes:  # started, with the header loaded: a run pays that once per process
            await process.header_env(theorem.header)
        env = LeanReplEnv(pool, search_workers=workers)
        started = time.perf_counter()
        result = await BestFirstSearch(env, generator, search).search(theorem)
        seconds = time.perf_counter() - started
        await env.close()
    finally:
        await pool.close()
    if result.status is not Status.PROVED:
        raise RuntimeError(f"the simulated theorem was not proved with {workers} processes: {result.reason}")
    stats = result.stats
    return {
        "search_workers": workers,
        "seconds": seconds,
        "expansions": stats.expansions,
        "env_calls": stats.env_calls,
        "proof": result.proof,
        "unused_env_calls": stats.unused_env_calls,
        "unused_model_calls": stats.unused_model_calls,
        "model_calls": generator.calls,
        "pickles": pool.handoff.pickles,
        "unpickles": pool.handoff.unpickles,
        "pickle_s": pool.handoff.pickle if pool.handoff.pickles else None,
        "unpickle_s": pool.handoff.unpickle if pool.handoff.unpickles else None,
    }


async def handoff(config: OneTheoremConfig, depths: tuple[int, ...] = (1, 2, 4, 8)) -> list[dict[str, Any]]:
    """Seconds to bring a state ``depth`` tactics deep to a process that lacks it, on the simulated REPL:
    by replaying its path (the theorem started, then each tactic) and by a pickle in the process holding
    it plus an unpickle. What `lean_env.states` weighs, measured here on the stand-in."""
    from lean_env.process import ReplProcess, ReplSettings
    from lean_env.protocol import Command, PickleProofState, ProofStep, UnpickleProofState
    from lean_env.states import goals_of
    from lean_env.verify import target_command

    theorem = Theorem("deep", "theorem deep : True := by\n", header="import Mathlib\n\n")
    settings = ReplSettings(command=config.repl_command())
    holder, fresh = ReplProcess(settings, 0), ReplProcess(settings, 1)
    rows = []
    try:
        with tempfile.TemporaryDirectory() as folder:
            here, _ = await holder.header_env(theorem.header)
            there, _ = await fresh.header_env(theorem.header)
            start = await holder.request(Command(cmd=target_command(theorem), env=here), 60)
            state, path = start.sorries[0].proof_state, []  # type: ignore[union-attr]
            while len(path) < max(depths):
                for tactic in (f"t{i}" for i in range(config.candidates)):
                    shown = goals_of(await holder.request(ProofStep(tactic=tactic, proof_state=state), 60))
                    if shown is not None:
                        state, path = shown[1], [*path, tactic]
                        break
                if len(path) not in depths:
                    continue
                started = time.perf_counter()
                reply = await fresh.request(Command(cmd=target_command(theorem), env=there), 60)
                replayed = reply.sorries[0].proof_state  # type: ignore[union-attr]
                for tactic in path:
                    replayed = (await fresh.request(ProofStep(tactic=tactic, proof_state=replayed), 60)).proof_state  # type: ignore[union-attr]
                replay = time.perf_counter() - started
                file = f"{folder}/{len(path)}.olean"
                started = time.perf_counter()
                await holder.request(PickleProofState(pickle_to=file, proof_state=state), 60)
                await fresh.request(UnpickleProofState(unpickle_proof_state_from=file, env=there), 60)
                rows.append({"depth": len(path), "replay_s": replay, "pickle_s": time.perf_counter() - started})
    finally:
        await holder.close()
        await fresh.close()
    return rows


async def one_theorem(config: OneTheoremConfig) -> list[dict[str, Any]]:
    """Seconds to prove the landscape's theorem at each K, and the speed-up over K = 1 measured in the same run."""
    rows = [await _prove(config, workers) for workers in config.search_workers]
    base = next((row["seconds"] for row in rows if row["search_workers"] == 1), rows[0]["seconds"])
    for row in rows:
        row["speedup"] = base / row["seconds"]
        row["speedup_per_worker"] = row["speedup"] / row["search_workers"]
    return rows
