"""The run directory: results appended one JSON line per attempt, a manifest and a summary."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

RESULTS = "results.jsonl"
MANIFEST = "manifest.json"
SUMMARY = "summary.json"


class ResultsFile:
    """Appends records durably; on opening, a half-written last line (a killed run) is cut off."""

    def __init__(self, run_dir: Path) -> None:
        self.path = run_dir / RESULTS
        self.records: list[dict[str, Any]] = list(self._read_and_repair())

    def _read_and_repair(self) -> Iterable[dict[str, Any]]:
        if not self.path.exists():
            return []
        data = self.path.read_bytes()
        records, good_end = [], 0
        for line in data.splitlines(keepends=True):
            if not line.endswith(b"\n"):
                break  # the last write never finished
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                break
            good_end += len(line)
        if good_end < len(data):
            logger.warning("%s: dropping %d bytes of an unfinished record", self.path, len(data) - good_end)
            with self.path.open("r+b") as handle:
                handle.truncate(good_end)
        return records

    def done(self) -> set[tuple[str, int]]:
        return {(r["name"], int(r.get("attempt", 0))) for r in self.records}

    def append(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, ensure_ascii=False) + "\n"
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())
        self.records.append(record)


def write_json(path: Path, data: Any) -> None:
    """Write through a temporary file so a reader never sees half a file."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    os.replace(tmp, path)


# Verification levels that include a weaker one: a kernel-checked proof also passed the repl level.
LEVELS_INCLUDED: dict[str, tuple[str, ...]] = {"kernel": ("repl", "kernel")}


def record_level(record: dict[str, Any]) -> str:
    """The verification level a record's proof passed ("" for records without one)."""
    verification = record.get("verification")
    return str(verification.get("level") or "") if isinstance(verification, dict) else ""


def counts_as_proved(record: dict[str, Any], required_level: str | None = None) -> bool:
    """A verified proof, at the run's required level when it asked for one (``kernel``)."""
    if record.get("status") != "proved" or record.get("verified") is not True:
        return False
    return required_level != "kernel" or record_level(record) == "kernel"


def required_level(manifest: dict[str, Any]) -> str | None:
    """The verification level a run asked for, from its manifest's configuration."""
    env = manifest.get("config", {}).get("env", {})
    return env.get("verify") if env.get("name") in ("lean-repl", "leandojo") else None


def level_rates(records: list[dict[str, Any]], total: int) -> dict[str, dict[str, Any]]:
    """Theorems proved at each verification level (a kernel proof counts at the repl level too)."""
    by_level: dict[str, set[str]] = {}
    for record in records:
        if counts_as_proved(record):
            level = record_level(record) or "unknown"
            for name in LEVELS_INCLUDED.get(level, (level,)):
                by_level.setdefault(name, set()).add(record["name"])
    return {
        level: {"proved": len(names), "pass_rate": len(names) / total if total else 0.0}
        for level, names in sorted(by_level.items())
    }


def summarize(records: list[dict[str, Any]], required: str | None = None) -> dict[str, Any]:
    """Totals over theorems: proved when any attempt has a verified proof at the ``required`` level."""
    by_name: dict[str, dict[str, Any]] = {}
    for record in records:
        entry = by_name.setdefault(record["name"], {"split": record.get("split"), "proved": False})
        entry["proved"] = entry["proved"] or counts_as_proved(record, required)
    statuses: dict[str, int] = {}
    for record in records:
        statuses[record["status"]] = statuses.get(record["status"], 0) + 1
    splits: dict[str, dict[str, Any]] = {}
    for entry in by_name.values():
        split = splits.setdefault(entry["split"] or "all", {"total": 0, "proved": 0})
        split["total"] += 1
        split["proved"] += int(entry["proved"])
    for split in splits.values():
        split["pass_rate"] = split["proved"] / split["total"] if split["total"] else 0.0
    total = len(by_name)
    proved = sum(int(e["proved"]) for e in by_name.values())
    return {
        "total": total,
        "proved": proved,
        "pass_rate": proved / total if total else 0.0,
        "attempts": len(records),
        "statuses": statuses,
        "splits": splits,
        "required_level": required,
        "levels": level_rates(records, total),
    }
