"""`prover bench`: the performance harness. Every figure is a ratio measured side by side in one run."""

from __future__ import annotations

import asyncio
import json
import os
import platform
import sys
import tempfile
import time
import tracemalloc
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prover.bench.checks import check_throughput
from prover.bench.extraction import extraction_throughput
from prover.bench.one_theorem import OneTheoremConfig, handoff, one_theorem
from prover.bench.simulated import InstantEnv, Latency, SimulatedEnv, SimulatedGenerator, SimulatedPool
from prover.config import ProveConfig, merge
from prover.models import BatchingGenerator
from search import BestFirstSearch, SearchConfig, TacticRequest, Theorem


@dataclass(frozen=True, slots=True)
class BenchConfig:
    """Sizes of each measurement; ``small()`` is the configuration the tests run."""

    overhead_sizes: tuple[int, ...] = (1_000, 10_000, 100_000)
    candidates: int = 8
    workers: tuple[int, ...] = (8, 32, 128)
    duration: float = 5.0
    latency: Latency = field(default_factory=Latency)
    generator_a: float = 0.02
    generator_b: float = 0.001
    batching_searches: int = 32
    batching_rounds: int = 3
    header_theorems: int = 8
    import_delay: float = 0.5
    verify_proofs: int = 10
    check_costs: dict[str, float] = field(
        default_factory=lambda: {"check": 0.2, "audit": 0.01, "compile": 2.0, "replay": 1.0}
    )
    """Simulated seconds: elaborating a proof, the audit, compiling a file with Mathlib, the kernel replay."""
    extraction_graphs: int = 1_000
    """Kept search graphs of the synthetic run that `prover data extract` reads."""
    check_workers: tuple[int, ...] = (1, 2, 4, 8)
    """REPL processes in the whole-proof check throughput measurement."""
    check_samples: int = 4
    check_theorems_per_process: int = 2
    whole_proof_costs: dict[str, float] = field(default_factory=lambda: {"check": 1.0, "audit": 0.05})
    """Simulated seconds of one whole-proof check and of its audit (a long chain-of-thought proof on Mathlib)."""
    one_theorem: OneTheoremConfig = field(default_factory=OneTheoremConfig)
    """One theorem on K = 1, 4, 8 REPL processes (``--search-workers``)."""
    lean_project: str | None = None
    gpu: bool = False

    @classmethod
    def small(cls) -> BenchConfig:
        return cls(
            overhead_sizes=(200, 2_000),
            workers=(4, 8),
            duration=0.6,
            batching_searches=4,
            batching_rounds=1,
            header_theorems=3,
            import_delay=0.1,
            verify_proofs=2,
            check_costs={"check": 0.02, "audit": 0.002, "compile": 0.05, "replay": 0.02},
            extraction_graphs=100,
            check_workers=(1, 2, 4),
            check_samples=2,
            check_theorems_per_process=1,
            whole_proof_costs={"check": 0.05, "audit": 0.005},
            one_theorem=OneTheoremConfig.small(),
        )


# -- 1. search bookkeeping ----------------------------------------------------------------------


async def search_overhead(config: BenchConfig) -> list[dict[str, float]]:
    """Microseconds per expansion spent in the search itself, and bytes per node, by tree size."""
    rows = []
    theorem = Theorem("bench", "theorem bench : True := by")
    for nodes in config.overhead_sizes:
        budget = SearchConfig(max_expansions=max(1, nodes // config.candidates), max_depth=None, timeout=3600)

        def search(budget: SearchConfig = budget) -> BestFirstSearch:
            return BestFirstSearch(InstantEnv(), SimulatedGenerator(config.candidates, a=0.0, b=0.0), budget)

        stats = (await search().search(theorem)).stats  # timed without tracing: tracing slows Python down
        tracemalloc.start()
        traced = (await search().search(theorem)).stats
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        rows.append(
            {
                "nodes": stats.nodes,
                "expansions": stats.expansions,
                "search_us_per_expansion": 1e6 * stats.time_search / stats.expansions,
                "search_us_per_node": 1e6 * stats.time_search / stats.nodes,
                "total_us_per_expansion": 1e6 * stats.wall_time / stats.expansions,
                "bytes_per_node": peak / max(1, traced.nodes),
            }
        )
    return rows


# -- 2. pipeline ------------------------------------------------------------------------------


class _SimulatedProvider:
    language = "lean4"

    def __init__(self, pool: SimulatedPool, concurrent: bool) -> None:
        self.pool = pool
        self.concurrent = concurrent

    @asynccontextmanager
    async def session(self):  # type: ignore[no-untyped-def]
        yield SimulatedEnv(self.pool, concurrent=self.concurrent)

    async def close(self) -> None:
        return None


async def _run_pipeline(
    config: BenchConfig, workers: int, searches: int, *, batched: bool, out: Path, duration: float
) -> tuple[float, SimulatedGenerator]:
    """Steady-state tactics per second through the real runner, run for ``duration`` seconds.

    The first and last fifth of the run are left out: the start (every search waits for its
    first model call) and the end (tactics in flight are cut off) are not the steady state.
    """
    from prover.runner import Runner

    out.mkdir(parents=True, exist_ok=True)
    bench = out / "theorems.jsonl"
    bench.write_text(
        "".join(
            json.dumps({"name": f"sim{i}", "formal_statement": f"theorem sim{i} : True := by\n"}) + "\n"
            for i in range(searches)
        )
    )
    pool = SimulatedPool(workers, config.latency, seed=workers)
    simulated = SimulatedGenerator(config.candidates, config.generator_a, config.generator_b)
    generator = BatchingGenerator(simulated, window=0.002, max_batch=max(1, searches)) if batched else simulated
    run = merge(
        ProveConfig(),
        {
            "run": {
                "benchmark": str(bench),
                "out": str(out / ("batched" if batched else "sequential")),
                "concurrency": searches,
            },
            "search": {"timeout": duration, "max_expansions": None, "max_depth": None},
        },
        "bench",
    )
    started = time.perf_counter()
    await Runner(run, env=_SimulatedProvider(pool, concurrent=batched), generator=generator, report=False).run()
    margin = duration / 5
    return pool.rate(started + margin, started + duration - margin), simulated


async def pipeline(config: BenchConfig) -> tuple[list[dict[str, float]], float]:
    """Utilisation of the bound at each W, and speed-up over a sequential per-search prover."""
    mean = config.latency.mean
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        # The sequential prover finishes few tactics per second: a longer run gives it a fair sample.
        sequential, _ = await _run_pipeline(
            config, 1, 1, batched=False, out=Path(tmp) / "seq", duration=3 * config.duration
        )
        for workers in config.workers:
            # One search per worker: an expansion waits for its slowest candidate and for the model,
            # so a search keeps only a few tactics in flight on average.
            searches = max(8, 2 * workers)
            folder = Path(tmp) / f"w{workers}"
            throughput, simulated = await _run_pipeline(
                config, workers, searches, batched=True, out=folder, duration=config.duration
            )
            gen_capacity = config.candidates * searches / (config.generator_a + config.generator_b * searches)
            bound = min(workers / mean, gen_capacity)
            rows.append(
                {
                    "workers": workers,
                    "searches": searches,
                    "tactics_per_s": throughput,
                    "bound_tactics_per_s": bound,
                    "utilization": throughput / bound,
                    "speedup_vs_sequential": throughput / sequential,
                    "mean_batch": simulated.requests / max(1, simulated.calls),
                }
            )
    return rows, sequential


# -- 3. batching with a real model --------------------------------------------------------------


async def batching(config: BenchConfig) -> dict[str, float]:
    """Tactics per second for concurrent searches: one shared batched call vs one call per request."""
    from prover.bench.tiny import tiny_model_and_tokenizer
    from prover.models.hf import HFGenerator
    from prover.models.prompts import PROMPTS

    model, tokenizer = tiny_model_and_tokenizer()
    hf = HFGenerator(model, tokenizer, PROMPTS.get("reprover"), samples=4, decoding="sample", max_new_tokens=8)
    theorem = Theorem("bench", "theorem bench : True := by")

    async def measure(generator: Any) -> float:
        produced = 0

        async def search(i: int) -> None:
            nonlocal produced
            for r in range(config.batching_rounds):
                (candidates,) = await generator.propose(
                    [TacticRequest(f"x{i} : ℕ\n⊢ x{i} + {r} = {r} + x{i}", theorem)]
                )
                produced += len(candidates)

        started = time.perf_counter()
        await asyncio.gather(*(search(i) for i in range(config.batching_searches)))
        return produced / (time.perf_counter() - started)

    await measure(BatchingGenerator(hf, max_batch=1))  # warm-up
    one_by_one = await measure(BatchingGenerator(hf, max_batch=1))
    batched = await measure(BatchingGenerator(hf, window=0.005, max_batch=config.batching_searches))
    return {"tactics_per_s_batched": batched, "tactics_per_s_one_by_one": one_by_one, "speedup": batched / one_by_one}


# -- 4. header reuse ----------------------------------------------------------------------------


async def header_reuse(config: BenchConfig) -> dict[str, Any]:
    """Cost of starting theorems with the header env reused, and with a fresh process each time."""
    from lean_env.process import ReplSettings, default_repl_command
    from lean_env.repl_env import LeanReplEnv, ReplPool

    if config.lean_project:
        project = Path(config.lean_project)
        settings = ReplSettings(command=default_repl_command(project), cwd=str(project))
        header, source = "import Mathlib\n\n", "real Lean REPL"
    else:
        command = (sys.executable, "-m", "prover.bench.sim_repl", "--import-delay", str(config.import_delay))
        settings = ReplSettings(command=command)
        header, source = "import Mathlib\n\n", f"simulated REPL, import cost {config.import_delay:g} s"
    theorems = [Theorem(f"h{i}", f"theorem h{i} : True := by\n", header=header) for i in range(config.header_theorems)]

    async def start_all(reuse: bool) -> float:
        started = time.perf_counter()
        pool = ReplPool(settings, 1)
        try:
            for theorem in theorems:
                if not reuse:
                    await pool.close()
                    pool = ReplPool(settings, 1)
                env = LeanReplEnv(pool)
                await env.start(theorem)
                await env.close()
        finally:
            await pool.close()
        return (time.perf_counter() - started) / len(theorems)

    with_reuse = await start_all(True)
    without = await start_all(False)
    return {
        "source": source,
        "start_s_with_reuse": with_reuse,
        "start_s_without_reuse": without,
        "speedup": without / with_reuse,
    }


# -- 5. the cost of verification per proof, by level ---------------------------------------------


async def verification_cost(config: BenchConfig) -> dict[str, Any]:
    """Seconds and REPL round trips per found proof at the screen, repl and kernel levels (simulated costs)."""
    from lean_env.kernel import KernelChecker, KernelSettings
    from lean_env.process import ReplSettings
    from lean_env.repl_env import ReplPool
    from lean_env.verifier import ReplVerifier
    from lean_env.verify import plan_check

    costs = config.check_costs
    command = (sys.executable, "-m", "prover.bench.sim_repl", "--import-delay", "0")
    command += ("--check-delay", str(costs["check"]), "--audit-delay", str(costs["audit"]))
    pool = ReplPool(ReplSettings(command=command), 1)
    requests = 0
    process = pool.processes[0]
    send = process.request

    async def counted(*args: Any, **kwargs: Any) -> Any:
        nonlocal requests
        requests += 1
        return await send(*args, **kwargs)

    process.request = counted  # type: ignore[method-assign]
    sim = (sys.executable, "-m", "prover.bench.sim_kernel")
    kernel = KernelChecker(
        KernelSettings(
            lean_command=(*sim, "lean", str(costs["compile"])),
            checker_command=(*sim, "check", str(costs["replay"]), "{target}", "{submission}"),
        )
    )
    theorems = [Theorem(f"v{i}", f"theorem v{i} : True := by\n") for i in range(config.verify_proofs)]
    out: dict[str, Any] = {"costs_s": costs, "proofs": len(theorems)}
    try:
        await process.header_env("")
        started = time.perf_counter()
        for theorem in theorems:
            plan_check(theorem, ["trivial"])
        out["screen_s_per_proof"] = (time.perf_counter() - started) / len(theorems)
        for level in ("repl", "kernel"):
            verifier = ReplVerifier(pool.pick, level=level, kernel=kernel)  # type: ignore[arg-type]
            for theorem in theorems:  # the statement's type, printed once per theorem (at the search's start)
                await verifier.expected_type(process, theorem)
            requests = 0
            started = time.perf_counter()
            for theorem in theorems:
                verdict = await verifier.verify(theorem, ["trivial"])
                assert verdict.ok, verdict
            out[f"{level}_s_per_proof"] = (time.perf_counter() - started) / len(theorems)
            out[f"{level}_requests_per_proof"] = requests / len(theorems)
    finally:
        kernel.close()
        await pool.close()
    out["repl_vs_check_alone"] = out["repl_s_per_proof"] / costs["check"] if costs["check"] else None
    out["kernel_vs_repl"] = out["kernel_s_per_proof"] / out["repl_s_per_proof"]
    return out


# -- 7. a 7B-shaped model on a GPU --------------------------------------------------------------


def gpu_generation(beams: int = 32, prompt_tokens: int = 512, new_tokens: int = 64) -> dict[str, Any]:
    """Beam search on a Llama-7B-shaped model with random bf16 weights (no download)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    if not torch.cuda.is_available():
        return {"skipped": "no CUDA GPU visible"}
    config = LlamaConfig(
        hidden_size=4096,
        intermediate_size=11008,
        num_hidden_layers=32,
        num_attention_heads=32,
        num_key_value_heads=32,
        vocab_size=32000,
        max_position_embeddings=4096,
    )
    torch.manual_seed(0)
    with torch.device("cuda"):
        model = LlamaForCausalLM(config).to(torch.bfloat16).eval()
    prompt = torch.randint(3, 32000, (1, prompt_tokens), device="cuda")
    options = {
        "max_new_tokens": new_tokens,
        "min_new_tokens": new_tokens,
        "num_beams": beams,
        "num_return_sequences": beams,
        "do_sample": False,
        "pad_token_id": 0,
        "eos_token_id": None,
    }
    with torch.inference_mode():
        model.generate(prompt, **{**options, "max_new_tokens": 4, "min_new_tokens": 4})  # warm-up
        torch.cuda.synchronize()
        started = time.perf_counter()
        calls = 3
        for _ in range(calls):
            model.generate(prompt, **options)
        torch.cuda.synchronize()
    seconds = (time.perf_counter() - started) / calls
    return {
        "device": torch.cuda.get_device_name(0),
        "beams": beams,
        "prompt_tokens": prompt_tokens,
        "new_tokens": new_tokens,
        "seconds_per_expansion": seconds,
        "expansions_per_s": 1 / seconds,
        "tokens_per_s": beams * new_tokens / seconds,
    }


# -- the whole harness --------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    try:
        import torch

        torch_version: str | None = torch.__version__
    except ImportError:
        torch_version = None
    return {
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "torch": torch_version,
        "platform": platform.platform(),
    }


async def run_bench(config: BenchConfig) -> dict[str, Any]:
    overhead = await search_overhead(config)
    pipeline_rows, sequential = await pipeline(config)
    try:
        batch = await batching(config)
    except ImportError as error:
        batch = {"skipped": str(error)}
    header = await header_reuse(config)
    verification = await verification_cost(config)
    extraction = extraction_throughput(config.extraction_graphs)
    checks = await check_throughput(
        config.check_workers, config.check_samples, config.check_theorems_per_process, config.whole_proof_costs
    )
    many = await one_theorem(config.one_theorem)
    moves = await handoff(config.one_theorem)
    result: dict[str, Any] = {
        "search_overhead_us": overhead[-1]["search_us_per_expansion"],
        "search_overhead": overhead,
        "pipeline": pipeline_rows,
        "sequential_tactics_per_s": sequential,
        "batching_speedup": batch.get("speedup"),
        "batching": batch,
        "header_reuse_speedup": header["speedup"],
        "header_reuse": header,
        "verification": verification,
        "extraction_steps_per_s": extraction["sft_steps_per_s"],
        "extraction": extraction,
        "whole_proof_checks": {"costs_s": config.whole_proof_costs, "rows": checks},
        "one_theorem": many,
        "search_workers_speedup": {str(row["search_workers"]): row["speedup"] for row in many},
        "handoff": moves,
        "machine": machine(),
    }
    if config.gpu:
        result["gpu"] = gpu_generation()
    return result
