"""`prover report`: what a run (or two, side by side) proved, how fast, and why the rest failed."""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prover.results import MANIFEST, RESULTS, counts_as_proved, level_rates, read_records, required_level

# miniF2F's problem sources, by name prefix (the longer prefix first).
CATEGORIES: tuple[str, ...] = (
    "mathd_algebra",
    "mathd_numbertheory",
    "amc12",
    "aime",
    "imo",
    "induction",
    "algebra",
    "numbertheory",
)


def category(name: str) -> str:
    """The miniF2F category of a theorem name, or ``other``."""
    return next((c for c in CATEGORIES if name.startswith(c)), "other")


def pass_at_k(n: int, c: int, k: int) -> float:
    """The unbiased estimator 1 - C(n-c, k) / C(n, k) (Chen et al., 2021) for n samples, c correct."""
    if k > n:
        raise ValueError(f"pass@{k} needs at least {k} attempts, not {n}")
    if n - c < k:
        return 1.0
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def failure_reason(record: dict[str, Any]) -> str:
    """A short class for a record that did not prove its theorem."""
    reason = (record.get("reason") or record.get("error") or "").lower()
    if record["status"] == "error":
        return "error: " + (reason.split(":")[0] or "unknown")
    for key, label in (
        ("time limit", "time limit"),
        ("expansion", "expansion budget"),
        ("environment-call", "environment-call budget"),
        ("depth", "depth limit"),
        ("rejected by verification", "proof rejected by verification"),
        ("exhausted", "search space exhausted"),
        ("no sampled proof", "no sample verified"),
    ):
        if key in reason:
            return label
    return record["status"]


@dataclass
class Run:
    """The records of one run directory, by theorem, and the lines of its results that were skipped."""

    path: Path
    records: list[dict[str, Any]]
    by_name: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    required_level: str | None = None
    """The verification level the run asked for (`kernel` counts only kernel-checked proofs)."""
    skipped: list[tuple[int, str]] = field(default_factory=list)

    @classmethod
    def load(cls, path: str | Path) -> Run:
        """Read a run directory's results without changing them (a run may be writing them now)."""
        path = Path(path)
        if not (path / RESULTS).exists():
            raise FileNotFoundError(f"{path} has no {RESULTS}: not a run directory of `prover prove`")
        read = read_records(path / RESULTS)
        by_name: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for record in read.records:
            by_name[record["name"]].append(record)
        manifest = path / MANIFEST
        required = required_level(json.loads(manifest.read_text())) if manifest.is_file() else None
        return cls(path, read.records, dict(by_name), required, read.skipped)

    def proved(self, record: dict[str, Any]) -> bool:
        return counts_as_proved(record, self.required_level)

    def levels(self) -> dict[str, dict[str, Any]]:
        """Theorems proved at each verification level."""
        return level_rates(self.records, len(self.by_name))

    def solved(self) -> set[str]:
        return {name for name, records in self.by_name.items() if any(self.proved(r) for r in records)}

    def groups(self, key: str) -> dict[str, tuple[int, int]]:
        """(proved, total) per split or per category."""
        out: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        solved = self.solved()
        for name, records in self.by_name.items():
            group = (records[0].get("split") or "all") if key == "split" else category(name)
            out[group][1] += 1
            out[group][0] += int(name in solved)
        return {g: (p, t) for g, (p, t) in sorted(out.items())}

    def pass_at(self) -> dict[int, float]:
        """pass@k for k = 1, 2, 4, ... up to the smallest attempt count of any theorem."""
        if not self.by_name:
            return {}
        n_min = min(len(records) for records in self.by_name.values())
        ks = sorted({1, n_min, *(2**i for i in range(int(math.log2(max(1, n_min))) + 1))})
        out = {}
        for k in ks:
            if k <= n_min:
                values = [
                    pass_at_k(len(records), sum(self.proved(r) for r in records), k)
                    for records in self.by_name.values()
                ]
                out[k] = sum(values) / len(values)
        return out

    def budget_curve(self, stat: str) -> list[tuple[float, int]]:
        """Theorems solved within a budget of ``stat`` (expansions or wall_time), as (budget, solved)."""
        costs = []
        for records in self.by_name.values():
            spent = [(r.get("stats") or {}).get(stat) or 0 for r in records if self.proved(r)]
            if spent:
                costs.append(min(spent))
        costs.sort()
        return [(cost, index + 1) for index, cost in enumerate(costs)]

    def failures(self) -> Counter[str]:
        solved = self.solved()
        return Counter(failure_reason(r) for r in self.records if r["name"] not in solved and not self.proved(r))

    def time_split(self) -> dict[str, float]:
        totals = {
            k: sum((r.get("stats") or {}).get(k) or 0.0 for r in self.records)
            for k in ("time_model", "time_env", "time_search")
        }
        whole = sum(totals.values()) or 1.0
        return {k.removeprefix("time_"): v / whole for k, v in totals.items()}

    def summary(self) -> dict[str, Any]:
        total = len(self.by_name)
        proved = len(self.solved())
        return {
            "total": total,
            "proved": proved,
            "pass_rate": proved / total if total else 0.0,
            "splits": {g: {"proved": p, "total": t} for g, (p, t) in self.groups("split").items()},
            "categories": {g: {"proved": p, "total": t} for g, (p, t) in self.groups("category").items()},
            "required_level": self.required_level,
            "levels": self.levels(),
            "pass_at_k": self.pass_at(),
            "failures": dict(self.failures()),
            "time_split": self.time_split(),
            "skipped_lines": [{"line": number, "why": why} for number, why in self.skipped],
        }


def _rate(proved: int, total: int) -> str:
    return f"{proved}/{total} ({proved / total:.1%})" if total else "0/0"


def markdown(runs: list[Run]) -> str:
    """The report as Markdown: one column per run, and the difference when there are two."""
    names = [run.path.name or str(run.path) for run in runs]
    two = len(runs) == 2
    header = "| | " + " | ".join(names) + (" | difference |" if two else " |")
    rule = "|---" * (len(runs) + 1 + int(two)) + "|"
    lines = [f"# Report: {', '.join(names)}", ""]

    def table(title: str, rows: dict[str, list[tuple[int, int]]]) -> None:
        lines.extend([f"## {title}", "", header, rule])
        for group, values in rows.items():
            cells = [_rate(p, t) for p, t in values]
            if two:
                (p0, t0), (p1, t1) = values
                diff = (p1 / t1 if t1 else 0.0) - (p0 / t0 if t0 else 0.0)
                cells.append(f"{p1 - p0:+d} ({diff:+.1%})")
            lines.append(f"| {group} | " + " | ".join(cells) + " |")
        lines.append("")

    def merged(key: str) -> dict[str, list[tuple[int, int]]]:
        per_run = [run.groups(key) for run in runs]
        groups = sorted(set().union(*per_run))
        return {g: [per.get(g, (0, 0)) for per in per_run] for g in groups}

    overall = {"all": [(len(r.solved()), len(r.by_name)) for r in runs]}
    table("Pass rate", overall)
    levels = sorted(set().union(*(r.levels() for r in runs)))
    table(
        "By verification level",
        {lv: [(r.levels().get(lv, {}).get("proved", 0), len(r.by_name)) for r in runs] for lv in levels},
    )
    table("By split", merged("split"))
    table("By category", merged("category"))

    lines.extend(["## pass@k", "", "| k | " + " | ".join(names) + " |", "|---" * (len(runs) + 1) + "|"])
    ks = sorted(set().union(*(r.pass_at() for r in runs)))
    for k in ks:
        cells = [f"{r.pass_at()[k]:.1%}" if k in r.pass_at() else "" for r in runs]
        lines.append(f"| {k} | " + " | ".join(cells) + " |")
    lines.append("")

    for run, name in zip(runs, names):
        if run.skipped:
            shown = ", ".join(f"line {n} ({why})" for n, why in run.skipped[:20])
            more = f" and {len(run.skipped) - 20} more" if len(run.skipped) > 20 else ""
            lines.extend([f"## Skipped lines of {RESULTS}: {name}", "", f"{shown}{more}", ""])
        lines.extend([f"## Failures and time: {name}", "", "| reason | attempts |", "|---|---|"])
        lines.extend(f"| {reason} | {count} |" for reason, count in run.failures().most_common())
        split = run.time_split()
        lines.extend(["", "time: " + ", ".join(f"{k} {v:.0%}" for k, v in split.items()), ""])
    if two:
        only = [sorted(runs[0].solved() - runs[1].solved()), sorted(runs[1].solved() - runs[0].solved())]
        lines.extend(["## Proved by one run only", ""])
        for name, theorems in zip(names, only):
            lines.append(f"- only {name} ({len(theorems)}): {', '.join(theorems) or 'none'}")
        lines.append("")
    return "\n".join(lines)


def plot(runs: list[Run], out_dir: Path) -> list[Path]:
    """Budget curves (solved vs expansions, vs wall time) and pass@k, as PNG files."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    written = []
    for stat, label, filename in (
        ("expansions", "expansions", "solved_vs_expansions.png"),
        ("wall_time", "wall time (s)", "solved_vs_time.png"),
    ):
        figure, axes = plt.subplots(figsize=(6, 4))
        for run in runs:
            curve = run.budget_curve(stat)
            xs = [0.0] + [x for x, _ in curve]
            ys = [0] + [y for _, y in curve]
            axes.step(xs, ys, where="post", label=run.path.name)
        axes.set_xlabel(label)
        axes.set_ylabel("theorems proved")
        axes.yaxis.set_major_locator(MaxNLocator(integer=True))
        axes.legend()
        axes.grid(alpha=0.3)
        figure.tight_layout()
        figure.savefig(out_dir / filename, dpi=120)
        plt.close(figure)
        written.append(out_dir / filename)
    figure, axes = plt.subplots(figsize=(6, 4))
    for run in runs:
        values = run.pass_at()
        axes.plot(list(values), [100 * v for v in values.values()], marker="o", label=run.path.name)
    axes.set_xscale("log", base=2)
    axes.set_xlabel("k (attempts)")
    axes.set_ylabel("pass@k (%)")
    axes.legend()
    axes.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(out_dir / "pass_at_k.png", dpi=120)
    plt.close(figure)
    written.append(out_dir / "pass_at_k.png")
    return written


def write_report(paths: list[str | Path], *, plots: bool = True) -> tuple[str, list[Path]]:
    """Write report.md (and PNG plots) into the first run directory; return the Markdown and the files."""
    runs = [Run.load(p) for p in paths]
    out_dir = runs[0].path
    text = markdown(runs)
    # Theorem names are the benchmark's text: whatever they hold, the files stay valid UTF-8.
    (out_dir / "report.md").write_text(text, encoding="utf-8", errors="backslashreplace")
    (out_dir / "report.json").write_text(json.dumps([r.summary() for r in runs], indent=2) + "\n")
    files = [out_dir / "report.md", out_dir / "report.json"]
    if plots:
        files += plot(runs, out_dir)
    return text, files
