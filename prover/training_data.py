"""Verified proofs read back from run directories: the raw material of expert iteration.

Only an attempt whose record counts as proved at the level its run required (the manifest's
``env.verify``) and names the level its proof passed (``verification.level``) is read. Its steps
come from the search graph the run kept (``--keep-graphs``), followed from the root along the
record's verified proof: a graph that does not hold that exact path gives no steps. Statements
and headers come from the run's benchmark, which must still have the checksum the manifest
recorded.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prover.attempt import graph_file
from prover.benchmarks import BenchmarkError, load_benchmark
from prover.results import MANIFEST, RESULTS, counts_as_proved, read_records, record_level, required_level
from search import Theorem

REFUSED_PREFIX = "refused before the prover"
"""Failed edges whose text never reached the prover (see search.best_first): not Lean's answer."""


class ExtractionError(ValueError):
    """A run directory that cannot give training data; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class Step:
    """One step of a verified proof: the state, the tactic taken there, the tactics before it,
    and the tactics that failed at the same state with the prover's error."""

    state: str
    tactic: str
    before: tuple[str, ...]
    failures: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class ProvedAttempt:
    """One verified proof of one theorem, with where it came from."""

    run: str
    theorem: Theorem
    attempt: int
    level: str
    proof: tuple[str, ...] | str
    steps: tuple[Step, ...] | None
    """The proof's steps from the search graph; None when the attempt has none (no graph kept,
    or a whole-proof attempt)."""


@dataclass(slots=True)
class RunSource:
    """A run directory opened for extraction: its records, theorems and required level."""

    path: Path
    label: str
    required: str | None
    theorems: dict[str, Theorem]
    records: list[dict[str, Any]]
    has_graphs: bool
    strategy: str
    skipped: Counter[str] = field(default_factory=Counter)
    """Proved attempts left out, by reason."""

    @property
    def graphs_dir(self) -> Path:
        return self.path / "graphs"


def _manifest(path: Path) -> dict[str, Any]:
    for name in (MANIFEST, RESULTS):
        if not (path / name).is_file():
            raise ExtractionError(f"{path} has no {name}: not a run directory of `prover prove`")
    try:
        manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as error:
        raise ExtractionError(f"{path / MANIFEST} is not readable JSON ({error})") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("config"), dict):
        raise ExtractionError(f"{path / MANIFEST} holds no run configuration")
    return manifest


def run_theorems(path: Path, manifest: dict[str, Any], override: str | None = None) -> dict[str, Theorem]:
    """The run's theorems by id, from its benchmark file checked against the manifest's checksum."""
    config = manifest["config"]
    spec = config.get("run", {}).get("benchmark")
    recorded = manifest.get("benchmark") or {}
    language = "isabelle" if config.get("env", {}).get("name") == "isabelle" else "lean4"
    candidates = [override] if override else [c for c in (spec, recorded.get("path")) if c]
    problems = []
    for candidate in dict.fromkeys(candidates):
        try:
            benchmark = load_benchmark(candidate, language=language)
        except (BenchmarkError, OSError) as error:
            problems.append(f"{candidate}: {error}")
            continue
        if recorded.get("sha256") not in (None, benchmark.sha256):
            raise ExtractionError(
                f"{path}: the benchmark {candidate} changed since the run (its checksum differs from the "
                "manifest's); its statements are not the ones proved. Pass the file the run used with --benchmark."
            )
        return {t.name: t for t in benchmark.theorems}
    raise ExtractionError(
        f"{path}: cannot load the run's benchmark ({'; '.join(problems) or 'none recorded'}). "
        "Pass the file the run used with --benchmark PATH."
    )


def open_run(path: str | Path, benchmark: str | None = None) -> RunSource:
    """A run directory, read-only (a run may still be writing to it)."""
    path = Path(path)
    manifest = _manifest(path)
    records = read_records(path / RESULTS).records
    return RunSource(
        path=path,
        label=str(path),
        required=required_level(manifest),
        theorems=run_theorems(path, manifest, benchmark),
        records=records,
        has_graphs=(path / "graphs").is_dir(),
        strategy=str(manifest["config"].get("run", {}).get("strategy", "best-first")),
    )


def proof_steps(graph: dict[str, Any], proof: tuple[str, ...]) -> tuple[Step, ...] | str:
    """The steps of ``proof`` in a graph written by `search.graph.write_graph` (node-link JSON),
    or why the graph does not hold that proof as a path from its root ending in a closing edge."""
    goals = {node["id"]: node.get("goal", "") for node in graph["nodes"]}
    edges: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    for edge in graph["edges"]:
        edges[edge["source"]].append(edge)
    node = graph.get("graph", {}).get("root", 0)
    steps = []
    for depth, tactic in enumerate(proof):
        last = depth == len(proof) - 1
        wanted = "proved" if last else "goals"
        taken = next((e for e in edges[node] if e["tactic"] == tactic and e["kind"] == wanted), None)
        if taken is None or node not in goals:
            return f"no {wanted!r} edge {tactic!r} at depth {depth}"
        failures = tuple(
            (e["tactic"], e.get("message") or "")
            for e in edges[node]
            if e["kind"] == "failed" and not (e.get("message") or "").startswith(REFUSED_PREFIX)
        )
        steps.append(Step(goals[node], tactic, proof[:depth], failures))
        node = taken["target"]
    return tuple(steps)


def _read_graph(path: Path) -> dict[str, Any] | str:
    try:
        data = json.loads(path.read_bytes())
    except FileNotFoundError:
        return "no graph file for the proved attempt"
    except (OSError, ValueError) as error:
        return f"unreadable graph ({type(error).__name__})"
    if not isinstance(data, dict) or not isinstance(data.get("nodes"), list) or not isinstance(data.get("edges"), list):
        return "unreadable graph (not node-link JSON)"
    return data


def _proof(record: dict[str, Any]) -> tuple[str, ...] | str | None:
    proof = record.get("proof")
    if isinstance(proof, str) and proof.strip():
        return proof
    if isinstance(proof, list) and proof and all(isinstance(t, str) for t in proof):
        return tuple(proof)
    return None


def proved_attempts(source: RunSource, *, steps: bool) -> Iterator[ProvedAttempt]:
    """Every verified proof of a run, at its required level; with ``steps``, only those whose
    graph holds the proof (the others are counted in ``source.skipped``)."""
    for record in source.records:
        if not counts_as_proved(record, source.required):
            continue
        level = record_level(record)
        theorem = source.theorems.get(record["name"])
        proof = _proof(record)
        why = None
        if not level:
            why = "no verification level in the record"
        elif theorem is None:
            why = "theorem not in the run's benchmark"
        elif proof is None:
            why = "no proof text in the record"
        if why is not None:
            source.skipped[why] += 1
            continue
        assert theorem is not None and proof is not None
        found: tuple[Step, ...] | None = None
        if steps:
            found_or_why = _steps_of(source, record, proof)
            if isinstance(found_or_why, str):
                source.skipped[found_or_why] += 1
                continue
            found = found_or_why
        yield ProvedAttempt(source.label, theorem, int(record.get("attempt", 0)), level, proof, found)


def _steps_of(source: RunSource, record: dict[str, Any], proof: tuple[str, ...] | str) -> tuple[Step, ...] | str:
    if isinstance(proof, str):
        return "a whole proof (no search steps)"
    if not source.has_graphs:
        return "the run kept no graphs"
    try:
        path = graph_file(source.graphs_dir, record["name"], int(record.get("attempt", 0)))
    except ValueError:
        return "no graph file for the proved attempt"
    graph = _read_graph(path)
    if isinstance(graph, str):
        return graph
    try:
        found = proof_steps(graph, proof)
    except (KeyError, TypeError, AttributeError):
        return "unreadable graph (not node-link JSON)"
    return found if isinstance(found, tuple) else "the graph does not hold the verified proof"
