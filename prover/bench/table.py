"""The harness's figures as terminal tables."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table


def print_tables(result: dict[str, Any]) -> None:
    console = Console()
    overhead = Table(title="1. Search bookkeeping (environment and model excluded)")
    columns = ("nodes", "expansions", "search µs / expansion", "µs / node", "total µs / expansion", "bytes / node")
    for column in columns:
        overhead.add_column(column, justify="right")
    for row in result["search_overhead"]:
        overhead.add_row(
            f"{row['nodes']:,}",
            f"{row['expansions']:,}",
            f"{row['search_us_per_expansion']:.1f}",
            f"{row['search_us_per_node']:.1f}",
            f"{row['total_us_per_expansion']:.1f}",
            f"{row['bytes_per_node']:.0f}",
        )
    console.print(overhead)

    pipeline = Table(title=f"2. Pipeline (sequential baseline {result['sequential_tactics_per_s']:.1f} tactics/s)")
    for column in ("W", "searches", "tactics/s", "bound", "utilisation", "speed-up", "× W", "mean batch"):
        pipeline.add_column(column, justify="right")
    for row in result["pipeline"]:
        pipeline.add_row(
            str(row["workers"]),
            str(row["searches"]),
            f"{row['tactics_per_s']:.0f}",
            f"{row['bound_tactics_per_s']:.0f}",
            f"{row['utilization']:.2f}",
            f"{row['speedup_vs_sequential']:.1f}",
            f"{row['speedup_vs_sequential'] / row['workers']:.2f}",
            f"{row['mean_batch']:.1f}",
        )
    console.print(pipeline)

    batching = result["batching"]
    if "skipped" in batching:
        console.print(f"3. Batching: skipped ({batching['skipped']})")
    else:
        console.print(
            f"3. Batching, tiny hf model on the CPU: {batching['tactics_per_s_batched']:.0f} tactics/s batched, "
            f"{batching['tactics_per_s_one_by_one']:.0f} one request per call: "
            f"{batching['speedup']:.1f}x"
        )
    header = result["header_reuse"]
    console.print(
        f"4. Header reuse ({header['source']}): {header['start_s_with_reuse'] * 1000:.0f} ms per theorem "
        f"with reuse, {header['start_s_without_reuse'] * 1000:.0f} ms without: {header['speedup']:.1f}x"
    )
    verification = result["verification"]
    costs = verification["costs_s"]
    console.print(
        f"5. Verification per proof (simulated: check {costs['check']:g} s, audit {costs['audit']:g} s, "
        f"compile {costs['compile']:g} s, replay {costs['replay']:g} s): "
        f"screen {verification['screen_s_per_proof'] * 1e6:.0f} µs; "
        f"repl {verification['repl_s_per_proof']:.3f} s ({verification['repl_requests_per_proof']:.0f} requests, "
        f"{verification['repl_vs_check_alone']:.2f}x the check alone); "
        f"kernel {verification['kernel_s_per_proof']:.3f} s ({verification['kernel_vs_repl']:.1f}x repl)"
    )
    checks = result["whole_proof_checks"]
    costs = checks["costs_s"]
    table = Table(
        title=f"6. Whole-proof checks (simulated: check {costs['check']:g} s + audit {costs['audit']:g} s, 2 requests)"
    )
    for column in ("W", "checks", "checks/s", "per process", "bound", "utilisation", "scaling", "× W"):
        table.add_column(column, justify="right")
    for row in checks["rows"]:
        table.add_row(
            str(row["workers"]),
            str(row["checks"]),
            f"{row['checks_per_s']:.2f}",
            f"{row['checks_per_s_per_process']:.2f}",
            f"{row['bound_checks_per_s']:.2f}",
            f"{row['utilization']:.2f}",
            f"{row['scaling']:.2f}",
            f"{row['scaling_per_process']:.2f}",
        )
    console.print(table)
    extraction = result["extraction"]
    console.print(
        f"7. Training-data extraction ({extraction['graphs']:,} kept graphs, proofs of {extraction['depth']} steps, "
        f"{extraction['failed_per_state']} failed tactics per state): "
        f"sft {extraction['sft_steps_per_s']:,.0f} steps/s, dpo {extraction['dpo_pairs_per_s']:,.0f} pairs/s "
        f"({extraction['sft_graphs_per_s']:,.0f} graphs/s)"
    )
    many = Table(title="8. One theorem on K REPL processes (--search-workers K; simulated latencies and handoffs)")
    for column in ("K", "seconds", "expansions", "speed-up", "× K", "unused tactics", "pickles", "unpickles"):
        many.add_column(column, justify="right")
    for row in result["one_theorem"]:
        many.add_row(
            str(row["search_workers"]),
            f"{row['seconds']:.2f}",
            str(row["expansions"]),
            f"{row['speedup']:.2f}",
            f"{row['speedup_per_worker']:.2f}",
            str(row["unused_env_calls"]),
            str(row["pickles"]),
            str(row["unpickles"]),
        )
    console.print(many)
    moves = ", ".join(
        f"{row['depth']} deep: replay {row['replay_s'] * 1000:.0f} ms, pickle {row['pickle_s'] * 1000:.0f} ms"
        for row in result["handoff"]
    )
    console.print(f"   Moving a state to another process (simulated REPL): {moves}")
    if "gpu" in result:
        gpu = result["gpu"]
        if "skipped" in gpu:
            console.print(f"9. GPU: skipped ({gpu['skipped']})")
        else:
            console.print(
                f"9. GPU ({gpu['device']}): {gpu['tokens_per_s']:.0f} tokens/s, "
                f"{gpu['expansions_per_s']:.2f} expansions/s at {gpu['beams']} beams"
            )
    machine = result["machine"]
    console.print(f"machine: {machine['cores']} cores, Python {machine['python']}, torch {machine['torch']}")
