"""`prover suggest` through the fake REPL: ranked, checked, searched, and from a file's sorry."""

from __future__ import annotations

import subprocess
import sys

import pytest

from prover.suggest import GoalFormatError, goal_to_statement
from tests.lean_env.conftest import G1, HEADER, SUGGEST

TACTICS = "bad,cheat,subst h,rfl,linarith"


def suggest(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "prover.cli", "suggest", *args], capture_output=True, text=True, timeout=120
    )


def test_goal_restated_as_a_theorem():
    assert goal_to_statement(G1) == SUGGEST
    assert goal_to_statement("case h\na b : ℝ\nh₀ : a <\n    b\n⊢ a ≤ b") == (
        "theorem suggestion_goal (a b : ℝ) (h₀ : a < b) : a ≤ b := by"
    )
    with pytest.raises(GoalFormatError, match="inaccessible"):
        goal_to_statement("n✝ : ℕ\n⊢ n✝ = n✝")
    with pytest.raises(GoalFormatError, match="exactly one goal"):
        goal_to_statement("⊢ a\n\n⊢ b")


def test_suggest_ranks_without_lean():
    done = suggest("x : ℕ\\nh : x = 2\\n⊢ x + x = 4", "--tactics", "omega,simp")
    assert done.returncode == 0, done.stderr
    assert [line.split()[-1] for line in done.stdout.splitlines()] == ["omega", "simp"]


def test_suggest_check_marks_each_suggestion(fake_repl):
    done = suggest(
        "x : ℕ\\nh : x = 2\\n⊢ x + x = 4",
        "--check",
        "--repl-command",
        fake_repl.command,
        "--tactics",
        TACTICS,
        "--header",
        HEADER,
    )
    assert done.returncode == 0, done.stderr
    marks = {line.split()[1]: line for line in done.stdout.splitlines()}
    assert "leaves 1 goal" in marks["subst"]
    assert "error" in marks["bad"]
    assert "rejected by the whole-proof check" in marks["cheat"]
    assert done.stdout.splitlines()[0].split()[1] == "subst"  # what works comes first


def test_suggest_search_prints_a_verified_proof(fake_repl):
    done = suggest(
        "x : ℕ\\nh : x = 2\\n⊢ x + x = 4",
        "--search",
        "--repl-command",
        fake_repl.command,
        "--tactics",
        TACTICS,
        "--header",
        HEADER,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "proof:\n  subst h\n  rfl\n"


def test_suggest_takes_the_goal_at_a_sorry_in_a_file(tmp_path, fake_repl):
    source = tmp_path / "Work.lean"
    source.write_text(f"{HEADER}{SUGGEST}\n  sorry\n")
    line = source.read_text().splitlines().index("  sorry") + 1
    done = suggest(
        "--file",
        str(source),
        "--line",
        str(line),
        "--check",
        "--repl-command",
        fake_repl.command,
        "--tactics",
        "subst h",
    )
    assert done.returncode == 0, done.stderr
    assert "leaves 1 goal" in done.stdout
    wrong = suggest("--file", str(source), "--line", "1", "--repl-command", fake_repl.command)
    assert wrong.returncode == 2 and f"sorries on lines: {line}" in wrong.stderr
