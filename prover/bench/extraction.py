"""Throughput of `prover data extract` on a synthetic run of many kept search graphs.

The run directory is written with the runner's own pieces (records from `prover.attempt.record`,
graphs from `search.graph`, file names from `graph_file`); only the searches are made up: each
graph has a proof path of ``depth`` steps with ``siblings`` failed tactics at every state and a
dead branch beside it.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any

from prover.attempt import graph_file, record
from prover.results import MANIFEST, ResultsFile, write_json
from prover.training_export import ExtractOptions, extract
from search import Candidate, Goals, SearchResult, Status, Theorem, Verdict
from search.graph import to_networkx, write_graph
from search.tree import EdgeKind, Node


def synthetic_graph(index: int, depth: int, siblings: int) -> tuple[Node, list[Node], list[str]]:
    """A search tree whose proof is ``depth`` tactics long; (root, all nodes, the proof)."""
    root = Node(Goals(f"x{index} : ℕ\n⊢ x{index} + 0 = x{index}"), 0, 0.0, 0.0, None)
    nodes, proof, node = [root], [], root
    for level in range(depth):
        for s in range(siblings):
            node.add_edge(Candidate(f"bad{s}", -1.0 - s, 2), EdgeKind.FAILED, None, f"tactic 'bad{s}' failed")
        dead = Node(Goals(f"{node.goals.text}\n-- dead {level}"), level + 1, -3.0, -3.0, None)
        node.add_edge(Candidate(f"detour{level}", -3.0, 2), EdgeKind.GOALS, dead)
        nodes.append(dead)
        tactic = f"step{level} x{index}"
        proof.append(tactic)
        if level == depth - 1:
            node.add_edge(Candidate(tactic, -0.5, 3), EdgeKind.PROVED, None)
            break
        child = Node(Goals(f"x{index} : ℕ\n⊢ goal {level + 1}"), level + 1, -0.5, -0.5, None)
        edge = node.add_edge(Candidate(tactic, -0.5, 3), EdgeKind.GOALS, child)
        child.parent = edge
        nodes.append(child)
        node = child
    return root, nodes, proof


def write_synthetic_run(folder: Path, graphs: int, depth: int, siblings: int) -> Path:
    """A run directory of ``graphs`` proved theorems, each with its kept graph."""
    run = folder / "run"
    (run / "graphs").mkdir(parents=True)
    benchmark = folder / "theorems.jsonl"
    theorems = [
        Theorem(f"syn{i}", f"theorem syn{i} (x{i} : ℕ) : x{i} + 0 = x{i} := by\n", split="valid") for i in range(graphs)
    ]
    benchmark.write_text(
        "".join(
            json.dumps({"name": t.name, "split": t.split, "formal_statement": t.statement}) + "\n" for t in theorems
        )
    )
    from prover.benchmarks import load_benchmark

    loaded = load_benchmark(str(benchmark))
    write_json(
        run / MANIFEST,
        {
            "config": {"run": {"benchmark": str(benchmark)}, "env": {"name": "lean-repl", "verify": "repl"}},
            "benchmark": {"name": str(benchmark), "path": str(benchmark), "sha256": loaded.sha256},
        },
    )
    results = ResultsFile(run)
    verdict = Verdict(True, "axioms: propext", "synthetic", "repl")
    for index, theorem in enumerate(theorems):
        root, nodes, proof = synthetic_graph(index, depth, siblings)
        write_graph(to_networkx(root, nodes), graph_file(run / "graphs", theorem.name, 0))
        result = SearchResult(theorem.name, Status.PROVED, proof=proof, verified=True, verdict=verdict)
        results.append(record(theorem, 0, 0, result))
    return run


def extraction_throughput(graphs: int = 1_000, depth: int = 6, siblings: int = 4) -> dict[str, Any]:
    """Steps per second of `sft` extraction and pairs per second of `dpo`, from ``graphs`` kept graphs."""
    with tempfile.TemporaryDirectory() as tmp:
        run = write_synthetic_run(Path(tmp), graphs, depth, siblings)
        out: dict[str, Any] = {"graphs": graphs, "depth": depth, "failed_per_state": siblings}
        for fmt, unit in (("sft", "steps"), ("dpo", "pairs")):
            started = time.perf_counter()
            result = extract([run], ExtractOptions(fmt, "llemma", frozenset({"test"})))
            seconds = time.perf_counter() - started
            out[unit] = result.examples
            out[f"{fmt}_{unit}_per_s"] = result.examples / seconds
            out[f"{fmt}_graphs_per_s"] = graphs / seconds
    return out
