"""`prover sweep`: every point of a configuration grid as a run of its own, resumable as a whole.

A sweep directory holds ``sweep.json`` (the base configuration, the grid and each point's state)
and one run directory per grid point, named by the point (``samples=4,max_expansions=50``),
each with the manifest and results of `prover prove`. Re-running the same command skips the
points whose runs are complete with the same settings and resumes the others through the
`Runner`'s own resume; the base configuration must match the sweep's.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import itertools
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from prover import resume
from prover.benchmarks import load_benchmark
from prover.config import SECTIONS, ConfigError, ProveConfig, merge
from prover.results import (
    MANIFEST,
    RESULTS,
    RunLock,
    done_attempts,
    read_records,
    required_level,
    summarize,
    write_json,
)

SWEEP_FILE = "sweep.json"
FIXED: dict[tuple[str, str], str] = {
    ("run", "out"): "each point's run directory is SWEEP_DIR/<point>",
    ("run", "ray"): "use `prover sweep --ray`",
    ("run", "force_resume"): "use `prover sweep --force-resume`",
}
_SAFE = re.compile(r"[A-Za-z0-9_.-]{1,40}")


@dataclass(frozen=True, slots=True)
class Axis:
    """One key of the grid and its values (typed by the configuration field)."""

    section: str
    field: str
    values: tuple[Any, ...]
    label: str
    """The key as point names show it: the field, or ``section.field`` where two axes share a field."""


@dataclass(frozen=True, slots=True)
class Point:
    """One configuration of the grid."""

    name: str
    settings: tuple[tuple[str, Any], ...]
    """(``section.field``, value) for each axis."""
    config: ProveConfig


def resolve_key(key: str) -> tuple[str, str]:
    """``section.field``, or a field name that only one section has (dashes read as underscores)."""
    key = key.strip().replace("-", "_")
    fields = {s: [f.name for f in dataclasses.fields(cls)] for s, cls in SECTIONS.items()}
    known = [f"{s}.{f}" for s, names in fields.items() for f in names]
    if "." in key:
        section, field = key.split(".", 1)
        found = [(section, field)] if field in fields.get(section, ()) else []
    else:
        found = [(s, key) for s, names in fields.items() if key in names]
    if len(found) > 1:
        raise ConfigError(f"grid key {key!r} is ambiguous: use one of {', '.join(f'{s}.{f}' for s, f in found)}")
    if not found:
        close = difflib.get_close_matches(key, known + [k.split(".", 1)[1] for k in known], n=1)
        hint = f" Did you mean: {close[0]}?" if close else ""
        raise ConfigError(f"unknown grid key {key!r}.{hint} Use section.field, e.g. search.max_expansions.")
    if found[0] in FIXED:
        raise ConfigError(f"{'.'.join(found[0])} cannot be a grid key: {FIXED[found[0]]}")
    return found[0]


def parse_grid(items: Sequence[str], base: ProveConfig) -> list[Axis]:
    """``key=v1,v2,...`` items as axes; values are YAML scalars or lists, checked against the field."""
    if not items:
        raise ConfigError("a sweep needs at least one --grid key=v1,v2,...")
    parsed = []
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not text.strip():
            raise ConfigError(f"--grid {item!r}: expected key=v1,v2,... (e.g. samples=4,8)")
        section, field = resolve_key(key)
        try:
            values = yaml.safe_load(f"[{text}]")
        except yaml.YAMLError as error:
            raise ConfigError(f"--grid {item!r}: the values are not YAML ({error}); quote values with commas") from None
        typed = [getattr(merge(base, {section: {field: v}}, f"--grid {key}"), section) for v in values]
        typed_values = tuple(getattr(t, field) for t in typed)
        if len(set(map(_canonical, typed_values))) != len(typed_values):
            raise ConfigError(f"--grid {item!r} repeats a value")
        if any((a.section, a.field) == (section, field) for a in parsed):
            raise ConfigError(f"--grid names {section}.{field} twice")
        parsed.append(Axis(section, field, typed_values, field))
    shared = {a.field for a in parsed if sum(b.field == a.field for b in parsed) > 1}
    return [dataclasses.replace(a, label=f"{a.section}.{a.field}") if a.field in shared else a for a in parsed]


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _slug(value: Any) -> str:
    """A file-name form of a value: the value itself where it is plain, else a cleaned form plus a digest."""
    parts = list(value) if isinstance(value, tuple | list) else [value]
    shown = [json.dumps(p) if isinstance(p, bool) or p is None else str(p) for p in parts]
    if shown and all(_SAFE.fullmatch(s) for s in shown):
        return "+".join(shown)
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "_", "+".join(shown))[:40]
    return f"{cleaned}-{hashlib.sha256(_canonical(value).encode()).hexdigest()[:8]}"


def point_name(axes: Sequence[Axis], values: Sequence[Any]) -> str:
    """The run directory name of a grid point, e.g. ``samples=4,max_expansions=50``."""
    name = ",".join(f"{axis.label}={_slug(value)}" for axis, value in zip(axes, values))
    if len(name) > 200 or name.startswith("."):
        digest = hashlib.sha256(name.encode()).hexdigest()[:12]
        name = f"{name[:180].lstrip('.')}-{digest}"
    return name


def grid_points(base: ProveConfig, axes: Sequence[Axis], out: Path) -> list[Point]:
    """Every combination of the axes' values, each configured to write to its own run directory."""
    points = []
    for values in itertools.product(*(axis.values for axis in axes)):
        overrides: dict[str, dict[str, Any]] = {}
        for axis, value in zip(axes, values):
            overrides.setdefault(axis.section, {})[axis.field] = value
        name = point_name(axes, values)
        overrides.setdefault("run", {})["out"] = str(out / name)
        config = merge(base, overrides, f"grid point {name}")
        settings = tuple((f"{a.section}.{a.field}", v) for a, v in zip(axes, values))
        points.append(Point(name, settings, config))
    return points


def default_sweep_dir(source: str, base: ProveConfig, axes: Sequence[Axis]) -> Path:
    """``runs/sweep-<config>-<digest of the configuration and grid>``: the same command finds the same folder."""
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(source).stem)[:40] or "config"
    grid = [(a.section, a.field, [_canonical(v) for v in a.values]) for a in axes]
    digest = hashlib.sha256(_canonical([resume.result_fingerprint(base.to_dict()), grid]).encode()).hexdigest()
    return Path("runs") / f"sweep-{stem}-{digest[:8]}"


def point_finished(config: ProveConfig) -> bool:
    """Whether a point's run directory holds every attempt of its theorems, under the same settings."""
    run_dir = Path(config.run.out or "")
    try:
        manifest = json.loads((run_dir / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    language = "isabelle" if config.env.name == "isabelle" else "lean4"
    benchmark = load_benchmark(
        config.run.benchmark,
        names=config.run.names,
        limit=config.run.limit,
        shard=config.run.shard,
        language=language,
    )
    now = resume.settings(config.to_dict(), manifest.get("versions") or {})
    if resume.differences(manifest, now, benchmark.sha256):
        return False  # the Runner refuses it, naming each difference
    done = done_attempts(read_records(run_dir / RESULTS).records)
    return all((t.name, a) in done for t in benchmark.theorems for a in range(config.run.attempts))


class Sweep:
    """Runs the points of a grid one after another through the `Runner` (locally or on Ray)."""

    def __init__(
        self,
        base: ProveConfig,
        axes: Sequence[Axis],
        out: Path,
        *,
        source: str,
        on_point: Callable[[Point, dict[str, Any], bool], None] | None = None,
    ) -> None:
        self.base = base
        self.axes = list(axes)
        self.out = out
        self.source = source
        self.on_point = on_point
        self.points = grid_points(base, self.axes, out)

    def check(self) -> None:
        """Every point's names resolve before anything runs."""
        from prover.runner import Runner

        for point in self.points:
            Runner(point.config).check_names()

    def _state(self) -> dict[str, Any]:
        path = self.out / SWEEP_FILE
        now = resume.settings(self.base.to_dict(), {})
        if not path.exists():
            if any(p.name != "run.lock" for p in self.out.iterdir()):
                raise ConfigError(f"{self.out} is not empty and holds no {SWEEP_FILE}: not a sweep directory")
            return {"config": self.source, "settings": now, "points": {}}
        try:
            state = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise ConfigError(f"{path} is not readable ({error}); use another --out") from None
        changed = resume.differences({"history": [{"settings": state.get("settings", {})}]}, now, "")
        if changed and not self.base.run.force_resume:
            raise ConfigError(
                f"{self.out} holds a sweep of a different base configuration ({'; '.join(changed)}). "
                "Use another --out, or the same configuration to resume (--force-resume to mix them)."
            )
        state["settings"] = now
        return state

    async def run(self) -> list[tuple[Point, dict[str, Any]]]:
        """Each point's summary (read from its run when it was already complete), in grid order."""
        self.check()
        self.out.mkdir(parents=True, exist_ok=True)
        results = []
        with RunLock(self.out):
            state = self._state()
            state["grid"] = {f"{a.section}.{a.field}": list(a.values) for a in self.axes}
            self._save(state)
            for point in self.points:
                entry = state["points"].setdefault(point.name, {})
                entry["settings"] = dict(point.settings)
                try:
                    skipped = point_finished(point.config)
                    summary = self._finished_summary(point) if skipped else await self._run_point(point, state)
                except BaseException as error:
                    stopped = "failed" if isinstance(error, Exception) else "stopped"
                    entry.update(status=stopped, error=f"{type(error).__name__}: {error}")
                    self._save(state)
                    raise
                entry.update(status="done", proved=summary["proved"], total=summary["total"], error=None)
                self._save(state)
                results.append((point, summary))
                if self.on_point is not None:
                    self.on_point(point, summary, skipped)
        return results

    async def _run_point(self, point: Point, state: dict[str, Any]) -> dict[str, Any]:
        from prover.runner import Runner

        state["points"][point.name]["status"] = "running"
        self._save(state)
        extra = {"sweep": {"dir": str(self.out), "point": point.name, "settings": dict(point.settings)}}
        return await Runner(point.config, report=False, manifest_extra=extra).run()

    @staticmethod
    def _finished_summary(point: Point) -> dict[str, Any]:
        records = read_records(Path(point.config.run.out or "") / RESULTS).records
        summary = summarize(records, required_level({"config": point.config.to_dict()}))
        summary["run_dir"] = point.config.run.out
        return summary

    def _save(self, state: dict[str, Any]) -> None:
        state["updated"] = datetime.now(UTC).isoformat(timespec="seconds")
        write_json(self.out / SWEEP_FILE, state)
