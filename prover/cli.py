"""The `prover` command line."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from collections.abc import Sequence
from typing import Any

from lean_env.setup import SetupError
from prover import __version__
from prover.benchmarks import BenchmarkError
from prover.config import ConfigError, ProveConfig, load_config, merge
from prover.data import DataError
from prover.envs import EnvUnavailable
from prover.experiments_cli import add_data_parser, add_sweep_parser, cmd_extract, cmd_sweep
from prover.suggest import GoalFormatError
from search import UnknownNameError

logger = logging.getLogger("prover")

# flag destination -> (section, field); only flags the user gave override the config.
PROVE_FLAGS: dict[str, tuple[str, str]] = {
    "benchmark": ("run", "benchmark"),
    "limit": ("run", "limit"),
    "names": ("run", "names"),
    "strategy": ("run", "strategy"),
    "repair_rounds": ("run", "repair_rounds"),
    "attempts": ("run", "attempts"),
    "concurrency": ("run", "concurrency"),
    "shard": ("run", "shard"),
    "seed": ("run", "seed"),
    "ray": ("run", "ray"),
    "out": ("run", "out"),
    "keep_graphs": ("run", "keep_graphs"),
    "force_resume": ("run", "force_resume"),
    "env": ("env", "name"),
    "lean_project": ("env", "lean_project"),
    "repl_command": ("env", "repl_command"),
    "workers": ("env", "workers"),
    "search_workers": ("env", "search_workers"),
    "pisa_address": ("env", "pisa_address"),
    "isa_path": ("env", "isa_path"),
    "pisa_jar": ("env", "pisa_jar"),
    "pisa_command": ("env", "pisa_command"),
    "pisa_ports": ("env", "pisa_ports"),
    "draft": ("run", "draft"),
    "memory_limit": ("env", "memory_limit_mb"),
    "sandbox": ("env", "sandbox"),
    "verify": ("env", "verify"),
    "allowed_axioms": ("env", "axioms"),
    "kernel_command": ("env", "kernel_command"),
    "lean_command": ("env", "lean_command"),
    "dojo_repo": ("env", "dojo_repo"),
    "dojo_commit": ("env", "dojo_commit"),
    "dojo_file": ("env", "dojo_file"),
    "generator": ("generator", "name"),
    "model": ("generator", "model"),
    "tactics": ("generator", "tactics"),
    "endpoint": ("generator", "endpoint"),
    "api": ("generator", "api"),
    "generation_timeout": ("generator", "request_timeout"),
    "prompt": ("generator", "prompt"),
    "samples": ("generator", "samples"),
    "decoding": ("generator", "decoding"),
    "temperature": ("generator", "temperature"),
    "top_p": ("generator", "top_p"),
    "max_new_tokens": ("generator", "max_new_tokens"),
    "scoring": ("search", "scoring"),
    "max_expansions": ("search", "max_expansions"),
    "timeout": ("search", "timeout"),
    "tactic_timeout": ("search", "tactic_timeout"),
    "max_depth": ("search", "max_depth"),
    "max_tactic_chars": ("search", "max_tactic_chars"),
    "gap_expansions": ("sketch", "gap_expansions"),
    "gap_timeout": ("sketch", "gap_timeout"),
    "gap_generator": ("sketch", "gap_generator"),
    "gap_model": ("sketch", "gap_model"),
    "gap_endpoint": ("sketch", "gap_endpoint"),
    "gap_prompt": ("sketch", "gap_prompt"),
    "gap_samples": ("sketch", "gap_samples"),
    "gap_tactics": ("sketch", "gap_tactics"),
    "gap_decoding": ("sketch", "gap_decoding"),
    "gap_temperature": ("sketch", "gap_temperature"),
}


def _add_env_flags(parser: argparse.ArgumentParser) -> None:
    env = parser.add_argument_group("environment")
    env.add_argument("--env", help="lean-repl | leandojo | isabelle")
    env.add_argument("--lean-project", help="Lean project with Mathlib and the REPL")
    env.add_argument("--repl-command", help="the whole command that starts one REPL process")
    env.add_argument("--workers", type=int, help="prover processes in the pool")
    env.add_argument(
        "--search-workers",
        type=int,
        help="processes one search may use at once (lean-repl; default 1): idle ones are borrowed from the pool",
    )
    env.add_argument("--memory-limit", type=int, help="MB of address space per REPL process (RLIMIT_AS)")
    env.add_argument(
        "--sandbox",
        choices=["auto", "on", "off"],
        help="run Lean and PISA processes under bubblewrap: auto (where it works, the default), on (or refuse), off",
    )
    env.add_argument(
        "--verify",
        choices=["repl", "kernel"],
        help="Lean verification level: repl (default; whole-theorem check, axiom audit, statement type) "
        "or kernel (also a kernel replay by SafeVerify: `prover setup lean --verifier`)",
    )
    env.add_argument(
        "--allowed-axioms", help="comma-separated axioms a proof may use (default propext,Classical.choice,Quot.sound)"
    )
    env.add_argument("--kernel-command", help="kernel checker command with {target} and {submission} .olean paths")
    env.add_argument("--lean-command", help="command compiling a .lean file for the kernel level (lake env lean)")
    env.add_argument("--dojo-repo", help="leandojo: git URL or path of the traced repository")
    env.add_argument("--dojo-commit", help="leandojo: its commit")
    env.add_argument("--dojo-file", help="leandojo: file with the theorems ({Split} is filled per theorem)")
    env.add_argument(
        "--pisa-address", help="HOST:PORT[,HOST:PORT...] of running PISA servers (one theorem at a time each)"
    )
    env.add_argument("--isa-path", help="the Isabelle2022 installation (default: ~/Isabelle2022)")
    env.add_argument("--pisa-jar", help="PISA-assembly-0.1.jar, to start our own PISA servers")
    env.add_argument("--pisa-command", help="a whole command starting a PISA server on {port}")
    env.add_argument("--pisa-ports", help="comma-separated ports of the PISA servers we start (default 8000)")


def _add_generator_flags(parser: argparse.ArgumentParser) -> None:
    gen = parser.add_argument_group("generator")
    gen.add_argument("--config", help="a shipped config name (see prover/configs) or a YAML file")
    gen.add_argument("--generator", help="portfolio | hf | vllm | openai")
    gen.add_argument("--model", help="hub id or local path (hf, vllm); model name (openai)")
    gen.add_argument("--tactics", help="comma-separated tactics for the portfolio generator")
    gen.add_argument("--endpoint", help="base URL of an OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1")
    gen.add_argument("--api", choices=["completions", "chat"], help="which OpenAI API to call")
    gen.add_argument(
        "--generation-timeout", type=float, help="seconds per request to an OpenAI-compatible server (default 120)"
    )
    gen.add_argument(
        "--prompt",
        help="llemma | instruct | reprover | internlm | bfs | whole-proof | deepseek-v1.5 | deepseek-v1.5-cot | "
        "deepseek-v2 | goedel-v2 | kimina | lean-dsp | lean-sketch-chat",
    )
    gen.add_argument("--samples", type=int, help="candidates per expansion (beams or samples); whole proofs: pass@k")
    gen.add_argument("--decoding", choices=["beam", "sample"])
    gen.add_argument("--temperature", type=float)
    gen.add_argument("--top-p", type=float)
    gen.add_argument("--max-new-tokens", type=int, help="tokens per generation (at most 32768)")


def _add_search_flags(parser: argparse.ArgumentParser) -> None:
    search = parser.add_argument_group("search")
    search.add_argument("--strategy", choices=["best-first", "whole-proof", "sketch"])
    search.add_argument(
        "--repair-rounds", type=int, help="whole proofs: rounds of error-feedback repair with Lean's messages"
    )
    search.add_argument("--scoring", help="cumulative | avg-logprob | length-normalized")
    search.add_argument("--max-expansions", type=int)
    search.add_argument("--max-depth", type=int)
    search.add_argument("--timeout", type=float, help="seconds per theorem")
    search.add_argument("--tactic-timeout", type=float, help="seconds per tactic")
    search.add_argument(
        "--max-tactic-chars",
        type=int,
        help="longer model text is refused before the prover sees it (default 4096 per tactic, 65536 per whole proof)",
    )


def _add_sketch_flags(parser: argparse.ArgumentParser) -> None:
    sketch = parser.add_argument_group("sketch and decompose (--strategy sketch)")
    sketch.add_argument(
        "--draft", action="store_true", default=None, help="the model drafts an informal proof before the sketch"
    )
    sketch.add_argument("--gap-expansions", type=int, help="best-first expansions per gap (default 32)")
    sketch.add_argument("--gap-timeout", type=float, help="seconds of search per gap (default 120)")
    sketch.add_argument(
        "--gap-generator",
        choices=["portfolio", "same", "hf", "vllm", "openai"],
        help="what closes gaps: portfolio (default), same (the sketch model, --gap-prompt), or another model",
    )
    sketch.add_argument("--gap-model", help="the model that closes gaps (hf, vllm, openai)")
    sketch.add_argument("--gap-endpoint", help="OpenAI-compatible server of the gap model (default: --endpoint)")
    sketch.add_argument("--gap-prompt", help="tactic prompt of a gap model (default llemma)")
    sketch.add_argument("--gap-samples", type=int, help="candidates per gap expansion of a gap model (default 8)")
    sketch.add_argument("--gap-tactics", help="comma-separated tactics of the gap portfolio")
    sketch.add_argument("--gap-decoding", choices=["beam", "sample"])
    sketch.add_argument("--gap-temperature", type=float)


def _add_prove(sub: Any) -> None:
    p = sub.add_parser("prove", help="search for proofs of a benchmark's theorems")
    what = p.add_argument_group("what to prove")
    what.add_argument("--benchmark", help="minif2f-test | minif2f-valid | PATH.jsonl | PATH.lean | FOLDER")
    what.add_argument("--limit", type=int, help="only the first N theorems")
    what.add_argument("--names", help="comma-separated theorem names")
    what.add_argument("--shard", help="I/N: this run's share of the theorems")
    _add_env_flags(p)
    _add_generator_flags(p)
    _add_search_flags(p)
    _add_sketch_flags(p)
    run = p.add_argument_group("run")
    run.add_argument("--attempts", type=int, help="attempts per theorem (pass@k)")
    run.add_argument("--concurrency", type=int, help="theorems searched at once")
    run.add_argument("--seed", type=int, help="run seed (each attempt derives its own)")
    run.add_argument("--ray", help="auto | ADDRESS | local: run prover and model actors on Ray")
    _add_out_flags(run)
    run.add_argument("--keep-graphs", action="store_true", default=None, help="write each search graph as JSON")


def _add_out_flags(run: argparse._ArgumentGroup) -> None:
    run.add_argument("--out", help="run directory (re-running with the same one resumes)")
    run.add_argument(
        "--force-resume",
        action="store_true",
        default=None,
        help="resume --out although settings that change results differ (the manifest records what changed)",
    )


def _add_dsp(sub: Any) -> None:
    p = sub.add_parser("dsp", help="draft, sketch, prove: informal proofs to Isabelle proofs")
    what = p.add_argument_group("what to prove")
    what.add_argument("--benchmark", help="minif2f-valid | minif2f-test | FOLDER of .thy | PATH.jsonl")
    what.add_argument("--limit", type=int, help="only the first N problems")
    what.add_argument("--names", help="comma-separated problem names")
    what.add_argument("--shard", help="I/N: this run's share of the problems")
    what.add_argument("--draft", action="store_true", default=None, help="draft the informal proof with the model")
    _add_env_flags(p)
    _add_generator_flags(p)
    _add_search_flags(p)
    run = p.add_argument_group("run")
    run.add_argument("--attempts", type=int, help="attempts per problem")
    run.add_argument("--concurrency", type=int, help="problems checked at once (one PISA server each)")
    run.add_argument("--seed", type=int)
    _add_out_flags(run)


def _add_suggest(sub: Any) -> None:
    p = sub.add_parser("suggest", help="ranked tactic suggestions for a goal, checked in Lean on request")
    p.add_argument("goal", nargs="?", help="the goal text, e.g. 'x : ℕ\\nh : x = 2\\n⊢ x + x = 4'")
    p.add_argument("--file", help="a Lean file: take the goal at the sorry on --line")
    p.add_argument("--line", type=int, help="the line of the sorry in --file")
    p.add_argument("--header", help="imports / opens for checking a bare goal (default: import Mathlib)")
    p.add_argument("--check", action="store_true", help="run each suggestion in Lean and say what it did")
    p.add_argument("--search", action="store_true", help="search for a whole proof within a small budget")
    _add_env_flags(p)
    _add_generator_flags(p)
    _add_search_flags(p)


def _add_serve(sub: Any) -> None:
    p = sub.add_parser("serve", help="serve suggestions to LeanCopilot and LLMLean over HTTP")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: loopback only)")
    p.add_argument("--port", type=int, default=23337)
    p.add_argument("--token", help="require this bearer token (default: $LLEMMA_PROVER_TOKEN if set)")
    p.add_argument(
        "--allowed-hosts",
        default="127.0.0.1,localhost,::1",
        help="Host header names served, comma-separated (* for any); the --host address is added",
    )
    p.add_argument(
        "--insecure-no-token", action="store_true", help="allow a non-loopback --host without a token (not advised)"
    )
    p.add_argument("--check", action="store_true", help="check suggestions in Lean when a request gives [CTX]")
    p.add_argument("--max-headers", type=int, default=16, help="distinct [CTX] headers kept loaded in Lean (LRU)")
    p.add_argument("--max-concurrent", type=int, default=8, help="requests in flight before answering 429")
    p.add_argument(
        "--max-connections", type=int, default=64, help="connections served at once (bounds bodies held in memory)"
    )
    p.add_argument("--request-timeout", type=float, default=60.0, help="seconds per request before 504")
    p.add_argument("--max-body", type=int, default=1 << 20, help="bytes per request body before 413")
    p.add_argument("--suggestions", type=int, default=8, help="outputs per /generate request")
    _add_env_flags(p)
    _add_generator_flags(p)
    _add_search_flags(p)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="prover", description=__doc__)
    parser.add_argument("--version", action="version", version=f"llemma-prover {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_prove(sub)
    _add_dsp(sub)
    _add_suggest(sub)
    _add_serve(sub)
    sub.add_parser("doctor", help="check every component and say how to fix what is missing")
    setup = sub.add_parser("setup", help="install a prover backend (needs internet)")
    setup.add_argument("backend", choices=["lean", "isabelle"])
    setup.add_argument("--lean-project", help="where to create the Lean project (default: the cache)")
    setup.add_argument(
        "--lean-version",
        default=None,
        help="Lean toolchain tag, e.g. v4.9.0 (default: the project's, else v4.9.0); another one updates the project",
    )
    setup.add_argument("--mathlib-rev", help="Mathlib git revision (default: the tag of the Lean version)")
    setup.add_argument("--repl-rev", help="REPL git revision (default: the tag of the Lean version)")
    setup.add_argument(
        "--verifier", action="store_true", help="also install SafeVerify for `--verify kernel` (Lean only)"
    )
    report = sub.add_parser("report", help="pass rates, pass@k, budget curves and failures of runs, side by side")
    report.add_argument("runs", nargs="+", metavar="RUN_DIR", help="run directories; each is compared with the first")
    report.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    report.add_argument("--out", help="where to write the report files (default: the first run directory)")
    bench = sub.add_parser("bench", help="measure search overhead, pipeline throughput, batching, header reuse")
    bench.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    bench.add_argument("--small", action="store_true", help="a quick configuration (seconds, not minutes)")
    bench.add_argument("--gpu", action="store_true", help="also time a 7B-shaped Llama on the GPU")
    bench.add_argument("--lean-project", help="measure header reuse on this real Lean project")
    add_data_parser(sub)
    add_sweep_parser(sub)
    return parser


def prove_config(args: argparse.Namespace, base: ProveConfig | None = None) -> ProveConfig:
    """``base`` (the defaults), then ``--config``, then the flags the user gave."""
    base = base or ProveConfig()
    config = load_config(args.config, base) if getattr(args, "config", None) else base
    overrides: dict[str, dict[str, Any]] = {}
    for dest, (section, field) in PROVE_FLAGS.items():
        value = getattr(args, dest, None)
        if value is not None:
            overrides.setdefault(section, {})[field] = value
    return merge(config, overrides, "command line")


def plain_text(text: str) -> str:
    """Benchmark or model text as a terminal can print it: lone surrogates and control characters escaped."""
    escaped = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return "".join(c if c.isprintable() or c in "\n\t" else f"\\u{ord(c):04x}" for c in escaped)


def shown_text(text: str) -> str:
    """``plain_text`` that rich prints as it is (a `[/x]` in a proof is not markup)."""
    from rich.markup import escape

    return escape(plain_text(text))


def cmd_prove(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from prover.runner import Runner

    console = Console(stderr=True)
    config = prove_config(args)
    counts = {"proved": 0, "failed": 0, "budget": 0, "error": 0}
    progress = Progress(
        TextColumn(
            "[green]{task.fields[proved]} proved[/] {task.fields[failed]} failed {task.fields[running]} running"
        ),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    )
    task = progress.add_task("prove", total=0, proved=0, failed=0, running=0, rate="")
    started = time.monotonic()

    def on_start(done: int, todo: int) -> None:
        progress.update(task, total=todo, running=min(todo, config.run.concurrency))
        if done:
            console.print(f"resuming: {done} attempts already in {config.run.out}")

    def on_result(line: dict[str, Any]) -> None:
        counts[line["status"]] = counts.get(line["status"], 0) + 1
        colour = {"proved": "green", "error": "red"}.get(line["status"], "yellow")
        proof = line["proof"]
        detail = " ; ".join(proof) if isinstance(proof, list) else (proof or line["reason"])
        shown = f"{shown_text(line['name'])}  {shown_text(detail)}"
        progress.console.print(f"[{colour}]{line['status']:>7}[/] {shown}", highlight=False)
        finished = sum(counts.values())
        remaining = (progress.tasks[0].total or 0) - finished
        rate = finished / max(1e-9, time.monotonic() - started)
        progress.update(
            task,
            advance=1,
            proved=counts["proved"],
            failed=finished - counts["proved"],
            running=min(remaining, config.run.concurrency),
            rate=f"{rate:.2f} theorems/s",
        )

    with progress:
        summary = asyncio.run(Runner(config, on_start=on_start, on_result=on_result).run())
    console.print(
        f"proved {summary['proved']}/{summary['total']} ({summary['pass_rate']:.1%}) "
        f"in {summary['wall_time']:.1f} s; results in {summary['run_dir']}"
    )
    return 0


DSP_DEFAULTS = {
    "env": {"name": "isabelle"},
    "run": {"strategy": "dsp", "benchmark": "minif2f-valid"},
    "generator": {"prompt": "dsp", "samples": 1, "decoding": "beam"},  # one greedy sketch
}


def cmd_dsp(args: argparse.Namespace) -> int:
    from prover.runner import Runner

    config = prove_config(args, merge(ProveConfig(), DSP_DEFAULTS, "prover dsp defaults"))

    def show(line: dict[str, Any]) -> None:
        print(f"{line['status']:>7} {plain_text(line['name'])}  {plain_text(line['reason'][:200])}", file=sys.stderr)

    summary = asyncio.run(Runner(config, on_result=show).run())
    print(
        f"proved {summary['proved']}/{summary['total']} ({summary['pass_rate']:.1%}); results in {summary['run_dir']}"
    )
    return 0


def cmd_suggest(args: argparse.Namespace) -> int:
    from prover.suggest_cli import run_suggest

    return asyncio.run(run_suggest(args, prove_config(args)))


def cmd_serve(args: argparse.Namespace) -> int:
    from prover.suggest_cli import run_serve

    return run_serve(args, prove_config(args))


def cmd_doctor(args: argparse.Namespace) -> int:
    from prover.doctor import run_checks

    for check in run_checks():
        mark = "ok     " if check.ok else "missing"
        fix = f"  -> {check.fix}" if check.fix and not check.ok else ""
        print(f"{mark} {check.name:<15} {check.detail}{fix}")
    return 0


def cmd_setup(args: argparse.Namespace) -> int:
    from pathlib import Path

    if args.backend == "isabelle":
        from isabelle_env.setup import isabelle_steps
        from sandbox.setup import ensure_bubblewrap

        ensure_bubblewrap()
        for line in isabelle_steps():
            print(line)
        return 0
    from lean_env.setup import LeanSetup, setup_lean
    from prover.paths import lean_project_home

    project = Path(args.lean_project).expanduser() if args.lean_project else lean_project_home()
    setup = LeanSetup.for_project(project, args.lean_version, args.mathlib_rev, args.repl_rev)
    flags = setup_lean(setup)
    if args.verifier:
        from lean_env.setup import setup_verifier

        flags += setup_verifier(setup)
    print("Lean is ready. Use: prover prove " + " ".join(flags))
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from prover.report import write_report

    text, files = write_report(args.runs, plots=not args.no_plots, out_dir=args.out)
    print_report(text, files)
    return 0


def print_report(text: str, files: list[Any]) -> None:
    """The report's Markdown in the terminal, and the files written."""
    from rich.console import Console
    from rich.markdown import Markdown

    console = Console()
    console.print(Markdown(plain_text(text)))
    console.print("written: " + ", ".join(str(f) for f in files))


def cmd_bench(args: argparse.Namespace) -> int:
    import dataclasses
    import json

    from prover.bench import BenchConfig, run_bench
    from prover.bench.table import print_tables

    config = BenchConfig.small() if args.small else BenchConfig()
    config = dataclasses.replace(config, gpu=args.gpu, lean_project=args.lean_project)
    result = asyncio.run(run_bench(config))
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print_tables(result)
    return 0


def cmd_data(args: argparse.Namespace) -> int:
    from prover.data import get_dataset

    if args.action == "extract":
        return cmd_extract(args)

    get_dataset(args.dataset)
    return 0


COMMANDS = {
    "prove": cmd_prove,
    "doctor": cmd_doctor,
    "setup": cmd_setup,
    "data": cmd_data,
    "report": cmd_report,
    "bench": cmd_bench,
    "suggest": cmd_suggest,
    "dsp": cmd_dsp,
    "serve": cmd_serve,
    "sweep": cmd_sweep,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return COMMANDS[args.command](args)
    except (
        ConfigError,
        UnknownNameError,
        BenchmarkError,
        EnvUnavailable,
        ImportError,
        ValueError,
        SetupError,
        DataError,
        FileNotFoundError,
        GoalFormatError,
    ) as error:
        # Problems of the user's set-up or input: say what is wrong and the fix, without a traceback.
        print(f"prover {args.command}: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
