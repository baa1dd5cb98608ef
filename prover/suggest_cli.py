"""The `prover suggest` and `prover serve` commands (argument handling and output)."""

from __future__ import annotations

import argparse
import dataclasses
import os
from pathlib import Path
from typing import TYPE_CHECKING

from prover.config import ProveConfig
from prover.envs import build_env, repl_pool
from prover.models import BatchingGenerator, build_generator

if TYPE_CHECKING:
    from prover.server import ServerConfig

from prover.suggest import DEFAULT_HEADER, check_suggestions, goal_at, goal_theorem, header_of, search_proof, suggest

# A suggestion search is interactive: a small budget unless the user gives one.
SUGGEST_SEARCH = {"max_expansions": 20, "timeout": 60.0}


async def run_suggest(args: argparse.Namespace, config: ProveConfig) -> int:
    header = args.header if args.header is not None else DEFAULT_HEADER
    if args.file:
        if args.line is None:
            raise ValueError("--file needs --line: the line of the sorry whose goal to use")
        text = Path(args.file).read_text(encoding="utf-8")
        pool = repl_pool(config.env)
        try:
            goal = await goal_at(pool.processes[0], text, args.line, pool.settings.header_timeout)
        finally:
            await pool.close()
        header = header_of(text)
    elif args.goal:
        goal = args.goal.replace("\\n", "\n")
    else:
        raise ValueError("give a goal (quoted; \\n between lines) or --file F.lean --line L")
    generator = build_generator(config.generator, "lean4")
    if not (args.check or args.search):
        for candidate in await suggest(generator, goal):
            print(f"{candidate.logprob:9.3f}  {candidate.tactic}")
        return 0
    theorem = goal_theorem(goal, header)
    provider = build_env(config.env, config.search)
    try:
        async with provider.session() as env:
            if args.check:
                candidates = await suggest(generator, goal, theorem)
                for s in await check_suggestions(env, theorem, candidates, config.search.tactic_timeout):
                    print(f"{s.score:9.3f}  {s.tactic:<40}  {s.check}")
            if args.search:
                budget = {k: v for k, v in SUGGEST_SEARCH.items() if getattr(args, k, None) is None}
                search = dataclasses.replace(config.search, **budget)
                result = await search_proof(env, generator, theorem, search)
                if result.verified:
                    print("proof:\n" + "\n".join(f"  {t}" for t in result.proof))
                else:
                    print(f"no proof found ({result.status.value}: {result.reason})")
                    return 1
    finally:
        await provider.close()
    return 0


def run_serve(args: argparse.Namespace, config: ProveConfig) -> int:
    import uvicorn

    from prover.server import ServerConfig, create_app, exposure_problem

    server = ServerConfig(
        host=args.host,
        port=args.port,
        token=args.token or os.environ.get("LLEMMA_PROVER_TOKEN") or None,
        allowed_hosts=tuple(h.strip() for h in args.allowed_hosts.split(",") if h.strip()),
        insecure_no_token=args.insecure_no_token,
        max_body_bytes=args.max_body,
        request_timeout=args.request_timeout,
        max_concurrent=args.max_concurrent,
        num_suggestions=args.suggestions,
        check=args.check,
        tactic_timeout=config.search.tactic_timeout,
        max_headers=args.max_headers,
        model_name=config.generator.model or "llemma-prover",
        max_connections=args.max_connections,
    )
    problem = exposure_problem(server)
    if problem is not None:
        raise ValueError(problem)  # before any model loads
    generator = build_generator(config.generator, "lean4")
    inner = generator.inner if isinstance(generator, BatchingGenerator) else generator
    encoder = inner if hasattr(inner, "encode") else None
    provider = build_env(config.env, config.search) if args.check else None
    app = create_app(generator, server, provider, encoder)
    uvicorn.run(app, **uvicorn_options(server))
    return 0


def uvicorn_options(server: ServerConfig) -> dict[str, object]:
    """How uvicorn serves the app: the address, and a cap on connections (their bodies are in memory)."""
    return {
        "host": server.host,
        "port": server.port,
        "log_level": "info",
        "limit_concurrency": server.max_connections,
        "timeout_keep_alive": 5,
    }
