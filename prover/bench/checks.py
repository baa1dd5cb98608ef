"""Whole-proof verification throughput: checks per second per REPL process, and how it scales with the pool.

pass@32 and more is bound by verification: every sampled proof is a check (the theorem with the
proof, then the axiom and type audit: two REPL requests). This measurement runs the code a whole-proof
run runs per theorem (`prover.attempt.prove_attempt`: the provider's session, the whole-proof search,
the REPL verifier) over a pool of W simulated REPL processes (``prover.bench.sim_repl``, a check
costing ``check`` seconds and its audit ``audit``), with twice as many theorems in flight as processes,
and compares the checks per second with the bound W / (check + audit).
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from prover.bench.simulated import SimulatedGenerator
from prover.config import ProveConfig, merge

HEADER = "import Mathlib\n\n"


async def _one_pool(workers: int, samples: int, per_process: int, costs: dict[str, float]) -> dict[str, Any]:
    from lean_env.process import ReplSettings
    from lean_env.repl_env import LeanReplProvider, ReplPool
    from prover.attempt import prove_attempt
    from prover.benchmarks import load_benchmark

    command = (sys.executable, "-m", "prover.bench.sim_repl", "--import-delay", "0")
    command += ("--check-delay", str(costs["check"]), "--audit-delay", str(costs["audit"]))
    rows = [
        {"name": f"c{i}", "header": HEADER, "formal_statement": f"theorem c{i} : True := by\n"}
        for i in range(workers * per_process)
    ]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "checks.jsonl"
        path.write_text("".join(json.dumps(row) + "\n" for row in rows))
        benchmark = load_benchmark(str(path))
    config = merge(ProveConfig(), {"run": {"strategy": "whole-proof"}, "generator": {"samples": samples}}, "bench")
    generator = SimulatedGenerator(samples, a=0.0, b=0.0)  # every sample at once: only verification costs
    provider = LeanReplProvider(ReplPool(ReplSettings(command=command), workers))
    limit = asyncio.Semaphore(2 * workers)
    served = [0] * workers  # REPL requests per process: how evenly the pool shares the checks
    for process in provider.pool.processes:
        process.request = _counted(process.request, served, process.index)  # type: ignore[method-assign]

    async def attempt(theorem: Any) -> dict[str, Any]:
        async with limit:
            return await prove_attempt(config, provider, generator, theorem, 0)

    try:
        # Every process started with the header loaded: the import is the header-reuse figure's concern.
        await asyncio.gather(*(process.header_env(HEADER) for process in provider.pool.processes))
        served[:] = [0] * workers
        started = time.perf_counter()
        records = await asyncio.gather(*(attempt(theorem) for theorem in benchmark.theorems))
        elapsed = time.perf_counter() - started
    finally:
        await provider.close()
    checks = sum(record["stats"]["env_calls"] for record in records)
    rate = checks / elapsed
    bound = workers / (costs["check"] + costs["audit"])
    return {
        "workers": workers,
        "checks": checks,
        "verified": sum(record["verified"] for record in records),
        "checks_per_s": rate,
        "checks_per_s_per_process": rate / workers,
        "bound_checks_per_s": bound,
        "utilization": rate / bound,
        "busiest_process_share": max(served) / max(1, sum(served)),
    }


def _counted(send: Any, served: list[int], index: int) -> Any:
    async def request(*args: Any, **kwargs: Any) -> Any:
        served[index] += 1
        return await send(*args, **kwargs)

    return request


async def check_throughput(
    workers: tuple[int, ...], samples: int, per_process: int, costs: dict[str, float]
) -> list[dict[str, Any]]:
    """One row per pool size: checks per second, per process, against the bound; scaling against one process."""
    rows = [await _one_pool(w, samples, per_process, costs) for w in workers]
    single = next((row for row in rows if row["workers"] == 1), rows[0])
    for row in rows:
        row["scaling"] = row["checks_per_s"] / single["checks_per_s"]
        row["scaling_per_process"] = row["scaling"] / (row["workers"] / single["workers"])
    return rows
