"""The run directory: results appended one JSON line per attempt, a manifest, a summary and a lock.

Readers (``read_records``: `prover report`, resume, summaries) open results.jsonl read-only and
validate every line against one schema (``ResultRecord``), naming the lines they skip; only the
runner's ``ResultsFile`` writes it, and the only repair it makes is cutting a torn last line.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, ValidationError

from prover.config import ConfigError

logger = logging.getLogger(__name__)

RESULTS = "results.jsonl"
MANIFEST = "manifest.json"
SUMMARY = "summary.json"
LOCK = "run.lock"


class ResultRecord(BaseModel):
    """One line of results.jsonl, as every reader accepts it (fields beyond these are kept)."""

    model_config = ConfigDict(extra="allow")

    name: str = Field(min_length=1)
    attempt: StrictInt = Field(default=0, ge=0)
    status: Literal["proved", "failed", "budget", "error"]
    verified: StrictBool = False  # the string "false" is not a verified proof
    split: str | None = None
    proof: list[str] | str | None = None
    reason: str = ""
    error: str | None = None
    stats: dict[str, float | None] = Field(default_factory=dict)


@dataclass(slots=True)
class Records:
    """The valid records of a results file, and the lines that were not, with the reason."""

    records: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[tuple[int, str]] = field(default_factory=list)
    torn_at: int | None = None
    """Byte offset of a last line the runner never finished writing (no newline), if any."""

    def describe_skipped(self) -> str:
        return ", ".join(f"line {number} ({why})" for number, why in self.skipped)


def read_records(path: Path) -> Records:
    """Every valid record of ``path``, read-only; invalid lines are skipped and named, never removed."""
    out = Records()
    if not path.exists():
        return out
    data = path.read_bytes()
    offset = 0
    for number, line in enumerate(data.splitlines(keepends=True), 1):
        start, offset = offset, offset + len(line)
        if not line.endswith(b"\n"):
            out.torn_at = start  # the last write never finished
            out.skipped.append((number, "unfinished last line"))
            break
        if not line.strip():
            continue
        why = _invalid(line)
        if isinstance(why, str):
            out.skipped.append((number, why))
        else:
            out.records.append(why)
    if out.skipped:
        logger.warning("%s: skipped %s", path, out.describe_skipped())
    out.records = _latest(out.records)
    return out


def _latest(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One record per (theorem, attempt): the last written (an `error` attempt run again by a resume)."""
    latest: dict[tuple[str, int], dict[str, Any]] = {}
    for record in records:
        latest[(record["name"], int(record.get("attempt", 0)))] = record
    return list(latest.values())


def _invalid(line: bytes) -> str | dict[str, Any]:
    """The record a line holds, or why it holds none."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        return "not valid UTF-8"
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        return f"not JSON: {error.msg}"
    if not isinstance(data, dict):
        return f"not a JSON object but a {type(data).__name__}"
    try:
        ResultRecord.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "record"
        return f"{where}: {first['msg']}"
    return data


def is_proved(record: dict[str, Any]) -> bool:
    """A validated record's theorem was proved and the proof passed the whole-proof check."""
    return record.get("status") == "proved" and record.get("verified") is True


class ResultsFile:
    """The runner's appender; on opening, a torn last line (a killed run) is cut off, nothing else."""

    def __init__(self, run_dir: Path) -> None:
        self.path = run_dir / RESULTS
        read = read_records(self.path)
        if read.torn_at is not None:
            size = self.path.stat().st_size
            logger.warning("%s: dropping %d bytes of an unfinished record", self.path, size - read.torn_at)
            with self.path.open("r+b") as handle:
                handle.truncate(read.torn_at)
        self.records: list[dict[str, Any]] = read.records
        self.skipped = [s for s in read.skipped if s[1] != "unfinished last line"]

    def done(self) -> set[tuple[str, int]]:
        """Attempts a resume skips: all but those that ended in `error` (the prover or model failed)."""
        return {(r["name"], int(r.get("attempt", 0))) for r in self.records if r.get("status") != "error"}

    def append(self, record: dict[str, Any]) -> None:
        # ASCII only: every character escaped, so a lone surrogate in model text still makes valid UTF-8.
        line = json.dumps(_finite(record), ensure_ascii=True, allow_nan=False) + "\n"
        with self.path.open("a", encoding="ascii") as handle:
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())
        key = (record["name"], int(record.get("attempt", 0)))
        self.records = [r for r in self.records if (r["name"], int(r.get("attempt", 0))) != key]
        self.records.append(record)


def _finite(value: Any) -> Any:
    """``value`` with NaN and infinities as None: JSON has no such numbers."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def write_json(path: Path, data: Any) -> None:
    """Write through a temporary file so a reader never sees half a file."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(_finite(data), indent=2, ensure_ascii=True) + "\n", encoding="ascii")
    os.replace(tmp, path)


class RunLocked(ConfigError):
    """Another run holds the run directory."""


class RunLock:
    """An exclusive lock (flock) on a run directory, held while a run writes to it.

    The lock file holds the owner's pid for the message a second run gets; the lock itself dies
    with the process that took it, so a killed run never leaves a stale lock behind.
    """

    def __init__(self, run_dir: Path) -> None:
        self.path = run_dir / LOCK
        self._handle: Any = None

    def acquire(self) -> None:
        handle = self.path.open("a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            owner = handle.read().strip() or "unknown"
            handle.close()
            raise RunLocked(
                f"{self.path.parent} is in use by another run (pid {owner}); wait for it to finish, "
                "or use another --out"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._handle = handle

    def release(self) -> None:
        if self._handle is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._handle, fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


# Verification levels that include a weaker one: a kernel-checked proof also passed the repl level.
LEVELS_INCLUDED: dict[str, tuple[str, ...]] = {"kernel": ("repl", "kernel")}


def record_level(record: dict[str, Any]) -> str:
    """The verification level a record's proof passed ("" for records without one)."""
    verification = record.get("verification")
    return str(verification.get("level") or "") if isinstance(verification, dict) else ""


def counts_as_proved(record: dict[str, Any], required_level: str | None = None) -> bool:
    """A verified proof, at the run's required level when it asked for one (``kernel``)."""
    if not is_proved(record):
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
