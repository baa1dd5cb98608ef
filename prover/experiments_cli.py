"""The experiment commands: `prover data get|extract` and `prover sweep`."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any


def add_data_parser(sub: Any) -> None:
    data = sub.add_parser("data", help="download pinned data sets; extract training data from runs")
    actions = data.add_subparsers(dest="action", required=True)
    get = actions.add_parser("get", help="download a pinned data set")
    get.add_argument("dataset", help="minif2f (Lean 4, DeepSeek's file) | minif2f-isabelle (theories and informal)")
    extract = actions.add_parser(
        "extract",
        help="verified proofs of runs as training data (JSON lines for datasets / TRL)",
        description="Only proofs verified at the level their run required become data; the same example "
        "from several runs or attempts is one line listing each source. sft and dpo read the search graphs "
        "of runs made with --keep-graphs.",
    )
    extract.add_argument("runs", nargs="+", metavar="RUN_DIR", help="run directories of `prover prove`")
    extract.add_argument(
        "--format",
        required=True,
        choices=["sft", "dpo", "whole-proof"],
        help="sft: (state, tactic) steps as prompt/completion; dpo: prompt/chosen/rejected with the failed "
        "tactic's error; whole-proof: statements and their verified proofs",
    )
    extract.add_argument("--prompt", help="a registered prompt format (default: llemma; whole-proof for whole proofs)")
    extract.add_argument("--out", required=True, metavar="FILE.jsonl", help="the file to write")
    extract.add_argument(
        "--exclude-split",
        action="append",
        default=[],
        metavar="SPLIT",
        help="leave out theorems of this split (test always, unless --include-split test)",
    )
    extract.add_argument("--include-split", action="append", default=[], metavar="SPLIT", help="keep this split")
    extract.add_argument("--benchmark", help="the runs' benchmark file, when it is not where their manifests say")
    extract.add_argument("--force", action="store_true", help="replace --out if it exists")


def cmd_extract(args: argparse.Namespace) -> int:
    from prover.training_export import ExtractionError, ExtractOptions, extract, write_jsonl

    excluded = ({"test"} | set(args.exclude_split)) - set(args.include_split)
    prompt = args.prompt or ("whole-proof" if args.format == "whole-proof" else "llemma")
    options = ExtractOptions(args.format, prompt, frozenset(excluded), args.benchmark)
    result = extract(args.runs, options)
    say = sys.stderr.write
    for run in result.without_graphs:
        say(f"{run}: kept no search graphs (it ran without --keep-graphs): no {args.format} steps from it\n")
    for run, reasons in result.skipped.items():
        for reason, count in reasons.most_common():
            say(f"{run}: {count} verified attempt(s) left out: {reason}\n")
    if result.excluded:
        shown = ", ".join(f"{split} {count}" for split, count in sorted(result.excluded.items()))
        say(f"left out by split (verified attempts): {shown}\n")
    if result.decontaminated:
        say(f"{result.decontaminated} example(s) left out: also in a proof of a left-out theorem\n")
    if not result.lines:
        raise ExtractionError(f"nothing to write: no verified {args.format} example in {', '.join(args.runs)}")
    written, dropped = write_jsonl(result.lines, args.out, force=args.force)
    if dropped:
        say(f"{dropped} line(s) left out: text with no UTF-8 form\n")
    if result.unknown_split:
        say(f"note: {result.unknown_split} line(s) have no split (their benchmark gives none)\n")
    print(
        f"wrote {written} {args.format} lines ({prompt} prompt) to {args.out}: {result.examples} examples read, "
        f"{result.merged} duplicates merged"
    )
    return 0


def add_sweep_parser(sub: Any) -> None:
    sweep = sub.add_parser(
        "sweep",
        help="run every point of a configuration grid, each in its own run directory (resumable)",
        description="Re-running the same command skips the complete points and resumes the others.",
    )
    sweep.add_argument("config", help="a shipped config name or a YAML file: the settings every point shares")
    sweep.add_argument(
        "--grid",
        nargs="+",
        required=True,
        metavar="KEY=V1,V2",
        help="a configuration field (section.field, or a field name only one section has) and its values, "
        "e.g. samples=4,8 search.max_expansions=50,100",
    )
    sweep.add_argument("--out", help="the sweep directory (default: runs/sweep-<config>-<digest of config and grid>)")
    sweep.add_argument("--ray", help="auto | ADDRESS | local: run every point on Ray")
    sweep.add_argument(
        "--force-resume",
        action="store_true",
        help="resume although settings that change results differ (each run's manifest records what changed)",
    )
    sweep.add_argument("--no-plots", action="store_true", help="skip the PNG plots of the sweep's report")


def cmd_sweep(args: argparse.Namespace) -> int:
    from prover.cli import plain_text, print_report
    from prover.config import load_config, merge
    from prover.report import write_report
    from prover.sweep import Point, Sweep, default_sweep_dir, parse_grid

    base = load_config(args.config)
    run: dict[str, Any] = {"force_resume": args.force_resume}
    if args.ray:
        run["ray"] = args.ray
    base = merge(base, {"run": run}, "command line")
    axes = parse_grid(args.grid, base)
    out = Path(args.out) if args.out else default_sweep_dir(args.config, base, axes)

    def show(point: Point, summary: dict[str, Any], skipped: bool) -> None:
        done = " (already complete)" if skipped else ""
        rate = f"{summary['proved']}/{summary['total']} ({summary['pass_rate']:.1%})"
        print(f"{plain_text(point.name)}: proved {rate}{done}", file=sys.stderr)

    sweep = Sweep(base, axes, out, source=args.config, on_point=show)
    print(f"sweep of {len(sweep.points)} points in {out}", file=sys.stderr)
    results = asyncio.run(sweep.run())
    text, files = write_report([p.config.run.out or "" for p, _ in results], plots=not args.no_plots, out_dir=out)
    print_report(text, files)
    return 0
