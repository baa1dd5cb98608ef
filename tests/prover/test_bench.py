"""The performance harness runs in its small configuration and reports well-formed figures.

No timing thresholds here: the figures are measured, not asserted (see docs/performance.md).
"""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest

from prover.bench import BenchConfig, run_bench
from prover.bench.extraction import extraction_throughput
from prover.bench.one_theorem import OneTheoremConfig, one_theorem


def finite(value) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


async def test_small_bench_has_every_figure():
    pytest.importorskip("torch", reason="the batching figure needs the hf extra")
    result = await run_bench(BenchConfig.small())
    assert finite(result["search_overhead_us"]) and result["search_overhead_us"] > 0
    assert [row["nodes"] for row in result["search_overhead"]] == [201, 2001]
    assert all(finite(row["bytes_per_node"]) for row in result["search_overhead"])
    assert [row["workers"] for row in result["pipeline"]] == [4, 8]
    for row in result["pipeline"]:
        assert finite(row["utilization"]) and row["utilization"] > 0
        assert finite(row["speedup_vs_sequential"]) and row["speedup_vs_sequential"] > 0
    assert finite(result["batching_speedup"]) and result["batching_speedup"] > 0
    assert finite(result["header_reuse_speedup"]) and result["header_reuse_speedup"] > 0
    assert result["machine"]["cores"] >= 1 and result["machine"]["python"]
    verification = result["verification"]
    assert verification["repl_requests_per_proof"] == 2  # the check and its audit: one more than the check alone
    assert verification["kernel_requests_per_proof"] == 2  # the kernel level adds processes, not REPL requests
    assert finite(verification["kernel_vs_repl"]) and finite(verification["screen_s_per_proof"])
    assert finite(result["extraction_steps_per_s"]) and result["extraction_steps_per_s"] > 0
    assert set(result["search_workers_speedup"]) == {"1", "4", "8"}
    assert result["extraction"]["graphs"] == 100
    checks = result["whole_proof_checks"]["rows"]
    assert [row["workers"] for row in checks] == [1, 2, 4]
    for row in checks:
        assert row["checks"] == 2 * row["workers"] and row["verified"] == row["workers"]
        assert all(finite(row[k]) and row[k] > 0 for k in ("checks_per_s_per_process", "utilization", "scaling"))


def test_extraction_throughput_reads_every_step_and_pair_of_the_synthetic_graphs():
    figure = extraction_throughput(graphs=12, depth=3, siblings=2)
    assert figure["steps"] == 12 * 3  # every step of every proof path, and nothing off it
    assert figure["pairs"] == 12 * 3 * 2  # each failed tactic at each state of a proof path
    for key in ("sft_steps_per_s", "dpo_pairs_per_s", "sft_graphs_per_s"):
        assert finite(figure[key]) and figure[key] > 0


async def test_whole_proof_checks_spread_over_every_process_of_the_pool():
    from prover.bench.checks import check_throughput

    rows = await check_throughput((1, 2, 4), samples=2, per_process=1, costs={"check": 0.01, "audit": 0.001})
    # One theorem per process, each with its own process: the busiest one serves 1/W of the requests.
    assert [row["busiest_process_share"] for row in rows] == [1.0, 0.5, 0.25]
    assert [row["checks"] for row in rows] == [2, 4, 8]


async def test_one_theorem_on_1_4_8_processes_is_one_search_timed_side_by_side():
    rows = await one_theorem(OneTheoremConfig.small())
    assert [row["search_workers"] for row in rows] == [1, 4, 8]
    # The same search at every K: the order of expansions does not depend on the processes.
    assert len({(row["expansions"], row["env_calls"], tuple(row["proof"])) for row in rows}) == 1
    assert rows[0]["expansions"] > 1
    for row in rows:
        assert finite(row["seconds"]) and finite(row["speedup"]) and row["speedup"] > 0
    assert rows[0]["pickles"] == rows[0]["unpickles"] == 0  # one process never hands a state over


def test_bench_json_from_the_command_line():
    done = subprocess.run(
        [sys.executable, "-m", "prover.cli", "bench", "--small", "--json"], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    figures = {"search_overhead_us", "pipeline", "batching_speedup", "header_reuse_speedup", "extraction_steps_per_s"}
    assert figures | {"machine"} <= set(result)
    assert all(
        {"workers", "checks_per_s_per_process", "utilization"} <= set(r) for r in result["whole_proof_checks"]["rows"]
    )
    assert {"search_overhead_us", "pipeline", "batching_speedup", "header_reuse_speedup", "machine"} <= set(result)
    assert [row["search_workers"] for row in result["one_theorem"]] == [1, 4, 8]
    assert all({"workers", "utilization", "speedup_vs_sequential"} <= set(row) for row in result["pipeline"])
