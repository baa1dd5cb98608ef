"""Run directories made by the real runner over the REPL stand-in, for the extraction and sweep tests."""

from __future__ import annotations

import json
from pathlib import Path

from prover.config import ProveConfig, merge
from prover.runner import Runner
from tests.lean_env.conftest import G1, G2, G3, HEADER, T1, T2, T3, FakeRepl

T4 = "theorem t4 : (2 : ℕ) + 2 = 4 := by"
G4 = "⊢ 2 + 2 = 4"  # the state t1 reaches after `subst h`, proved by `rfl` there too
T5 = "theorem t5 (n : ℕ) : n * 1 = n := by"
G5 = "n : ℕ\n⊢ n * 1 = n"

# t1: `subst h` then `rfl` (`bad` fails at the first state with Lean's error); t2: `omega`;
# t3: nothing works; t4: `rfl`; t5: `omega`. Every other tactic is unknown to the stand-in (a Lean error).
SCRIPT = {
    "goals": {T1: G1, T2: G2, T3: G3, T4: G4, T5: G5},
    "states": {
        G1: {"subst h": [G4], "bad": {"error": "linarith failed to find a contradiction"}},
        G4: {"rfl": []},
        G2: {"omega": []},
        G5: {"omega": []},
        G3: {"bad": {"error": "omega could not prove the goal"}},
    },
}
TACTICS = "bad,subst h,rfl,omega"
STATEMENTS = {"t1": T1, "t2": T2, "t3": T3, "t4": T4, "t5": T5}


def write_rows(path: Path, rows: list[tuple[str, str, str | None]]) -> Path:
    """A benchmark of (name, statement key of STATEMENTS, split) rows."""
    lines = [
        json.dumps({"name": name, "split": split, "header": HEADER, "formal_statement": STATEMENTS[key] + "\n"})
        for name, key, split in rows
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def run_config(benchmark: Path, out: Path, fake: FakeRepl, **run: object) -> ProveConfig:
    """A configuration proving ``benchmark`` with the portfolio TACTICS on the stand-in, graphs kept."""
    settings = {"benchmark": str(benchmark), "out": str(out), "concurrency": 2, "keep_graphs": True, **run}
    return merge(
        ProveConfig(),
        {
            "run": settings,
            "env": {"repl_command": fake.command, "workers": 2},
            "generator": {"tactics": TACTICS},
            "search": {"tactic_timeout": 60},
        },
        "test",
    )


async def prove(benchmark: Path, out: Path, fake: FakeRepl, **run: object) -> Path:
    """Run `prover prove` (the Runner) and return the run directory."""
    await Runner(run_config(benchmark, out, fake, **run), report=False).run()
    return out
