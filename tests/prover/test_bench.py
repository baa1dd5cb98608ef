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
    assert set(result["search_workers_speedup"]) == {"1", "4", "8"}


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
    assert {"search_overhead_us", "pipeline", "batching_speedup", "header_reuse_speedup", "machine"} <= set(result)
    assert [row["search_workers"] for row in result["one_theorem"]] == [1, 4, 8]
    assert all({"workers", "utilization", "speedup_vs_sequential"} <= set(row) for row in result["pipeline"])
