from __future__ import annotations

import json
import os
import shlex
import stat
import sys
from pathlib import Path

import pytest

FAKE_REPL = Path(__file__).with_name("fake_repl.py")
PICKLING = Path(__file__).resolve().parents[2] / "prover" / "bench" / "repl_pickling.py"  # the pickling model

HEADER = "import Mathlib\nset_option maxHeartbeats 400000\n\nopen Nat\n\n"
T1 = "theorem t1 (x : ℕ) (h : x = 2) : x + x = 4 := by"
G1 = "x : ℕ\nh : x = 2\n⊢ x + x = 4"
T2 = "theorem t2 (a b : ℕ) : a + b = b + a := by"
G2 = "a b : ℕ\n⊢ a + b = b + a"
T3 = "theorem t3 : (1 : ℕ) = 2 := by"
SUGGEST = "theorem suggestion_goal (x : ℕ) (h : x = 2) : x + x = 4 := by"  # G1 restated by `prover suggest`
G3 = "⊢ 1 = 2"

SCRIPT = {
    "goals": {T1: G1, T2: G2, T3: G3, SUGGEST: G1},
    "states": {
        G1: {
            "subst h": ["⊢ 2 + 2 = 4"],
            "bad": {"error": "linarith failed to find a contradiction"},
            "parse": {"lean_error": "<input>:1:4: unknown tactic"},
            "cheat": [],
            "sorryish": {"sorry": True},
            "crash": {"fault": "crash"},
            "hang": {"fault": "hang"},
            "garbage": {"fault": "garbage"},
            "oom": {"fault": "oom"},
        },
        "⊢ 2 + 2 = 4": {"rfl": [], "norm_num": []},
        G2: {"omega": [], "cheat": []},
        G3: {"cheat": [], "bad": {"error": "omega could not prove the goal"}},
    },
    "axioms": {"cheat": ["sorryAx"]},
}


class FakeRepl:
    """Paths and the command line of one fake REPL set-up."""

    def __init__(
        self, tmp_path: Path, import_delay: float = 0.0, step_delay: float = 0.0, script: dict | None = None
    ) -> None:
        self.script = tmp_path / "script.json"
        self.script.write_text(json.dumps(SCRIPT if script is None else script))
        self.log = tmp_path / "header-loads.log"
        self.argv = (
            sys.executable,
            str(FAKE_REPL),
            "--script",
            str(self.script),
            "--log",
            str(self.log),
            "--import-delay",
            str(import_delay),
            "--step-delay",
            str(step_delay),
            "--pickling-from",
            str(PICKLING),
        )

    @property
    def command(self) -> str:
        return shlex.join(self.argv)

    def header_loads(self) -> list[str]:
        return self.log.read_text().split() if self.log.exists() else []


@pytest.fixture
def fake_repl(tmp_path) -> FakeRepl:
    return FakeRepl(tmp_path)


def write_benchmark(path: Path, count: int) -> Path:
    """``count`` theorems named r0, r1, ... cycling through the scripted statements t1, t2, t3."""
    statements = [T1, T2, T3]
    rows = [
        {"name": f"r{i}", "split": "test", "header": HEADER, "formal_statement": statements[i % 3] + "\n"}
        for i in range(count)
    ]
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    return path


# Stand-ins for elan, lake and git on PATH: each logs its command line and leaves what the real
# one would (a fetched Mathlib, a cloned REPL, a built binary). No network.
FAKE_TOOL = """#!/bin/sh
echo "$(basename "$0") $*" >> "$TOOL_LOG"
case "$(basename "$0") $1" in
  "lake update") mkdir -p .lake/packages/mathlib ;;
  "lake build") mkdir -p .lake/build/bin && touch .lake/build/bin/repl ;;
  "git clone") for last; do :; done; mkdir -p "$last/.git" ;;
esac
"""


@pytest.fixture
def fake_tools(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("elan", "lake", "git"):
        tool = bin_dir / name
        tool.write_text(FAKE_TOOL)
        tool.chmod(tool.stat().st_mode | stat.S_IEXEC)
    log = tmp_path / "tools.log"
    monkeypatch.setenv("TOOL_LOG", str(log))
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("ELAN_HOME", str(tmp_path / "elan"))
    return log
