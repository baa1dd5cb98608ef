"""Gap statistics of sketch-and-decompose runs, for `prover report`: how far the sketches got."""

from __future__ import annotations

from collections import Counter
from typing import Any

SKETCH_STATUSES: tuple[str, ...] = ("proved", "rejected", "gap open", "not elaborated", "refused")


def _dicts(value: Any) -> list[dict[str, Any]]:
    """The objects of a record's list (records are validated loosely: anything else is ignored)."""
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def sketch_stats(records: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Sketches tried and how each ended, gaps closed of those Lean reported; None for a run without sketches."""
    sketches = [s for record in records for s in _dicts(record.get("sketches"))]
    if not sketches:
        return None
    gaps = [g for s in sketches for g in _dicts(s.get("gaps"))]
    statuses = Counter(str(g.get("status")) for g in gaps)
    closed = [g for g in gaps if g.get("status") == "closed"]
    seconds = [g["seconds"] for g in closed if isinstance(g.get("seconds"), int | float)]
    return {
        "sketches": len(sketches),
        "sketch_status": dict(Counter(str(s.get("status")) for s in sketches)),
        "gaps": len(gaps),
        "gaps_closed": len(closed),
        "gaps_open": statuses.get("open", 0),
        "gaps_not_tried": statuses.get("not tried", 0),
        "mean_seconds_per_closed_gap": sum(seconds) / len(seconds) if seconds else None,
    }


def sketch_markdown(names: list[str], stats: list[dict[str, Any] | None]) -> list[str]:
    """The report's section on sketches and gaps, one column per run; nothing when no run has sketches."""
    if all(s is None for s in stats):
        return []
    lines = ["## Sketches and gaps", "", "| | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]

    def row(label: str, cell: Any) -> None:
        lines.append(f"| {label} | " + " | ".join("" if s is None else cell(s) for s in stats) + " |")

    row("sketches tried", lambda s: str(s["sketches"]))
    for status in SKETCH_STATUSES:
        row(f"sketches {status}", lambda s, status=status: str(s["sketch_status"].get(status, 0)))
    row("gaps closed / total", lambda s: f"{s['gaps_closed']}/{s['gaps']}")
    row("gaps left open", lambda s: str(s["gaps_open"]))
    row("gaps not tried (after an open one)", lambda s: str(s["gaps_not_tried"]))
    row(
        "mean seconds per closed gap",
        lambda s: "" if s["mean_seconds_per_closed_gap"] is None else f"{s['mean_seconds_per_closed_gap']:.2f}",
    )
    lines.append("")
    return lines
