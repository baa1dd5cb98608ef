from __future__ import annotations

import pytest

from prover.models.prompts import PROMPTS
from search import TacticRequest, Theorem, UnknownNameError

THEOREM = Theorem(
    "mathd_algebra_10",
    "theorem mathd_algebra_10 (x : ℝ) (h : 2 * x = 4) : x = 2 := by\n",
    header="import Mathlib\nopen Real\n\n",
    informal_statement="Solve 2x = 4.",
)
REQUEST = TacticRequest("x : ℝ\nh : 2 * x = 4\n⊢ x = 2", THEOREM, ("have h2 : x * 2 = 4 := by linarith",))


def test_llemma_frame_matches_the_published_format():
    text = PROMPTS.get("llemma").render(REQUEST)
    assert text.startswith("Given the Lean 4 tactic state, suggest a next tactic.\nHere are some examples:\n\n")
    assert text.count("Tactic state:\n---\n") == 4  # three examples and the query
    assert text.count("Next tactic:\n---\n") == 4
    assert text.endswith(f"Tactic state:\n---\n{REQUEST.goal}\n---\nNext tactic:\n---\n")


@pytest.mark.parametrize(
    ("name", "continuation", "tactic"),
    [
        ("llemma", " linarith [h]\n---\nTactic state:\n---\nmore", "linarith [h]"),
        ("instruct", "nlinarith [h][/TAC] trailing", "nlinarith [h]"),
        ("instruct", "Sure! [TAC] field_simp [/TAC]", "field_simp"),
        ("reprover", " linarith\n", "linarith"),
        ("internlm", "norm_num at h\n---\nNAME: next", "norm_num at h"),
        ("bfs", " simp at h ⊢", "simp at h ⊢"),
    ],
)
def test_every_format_parses_a_continuation_back_to_the_tactic(name, continuation, tactic):
    prompt = PROMPTS.get(name)
    rendered = prompt.render(REQUEST)
    assert REQUEST.goal in rendered
    assert prompt.parse(continuation) == tactic


def test_instruct_carries_the_file_context_and_state_blocks():
    text = PROMPTS.get("instruct").render(REQUEST)
    assert "[CTX]\nimport Mathlib\nopen Real\n\ntheorem mathd_algebra_10" in text
    assert "  have h2 : x * 2 = 4 := by linarith\n[/CTX]" in text
    assert text.endswith(f"[STATE]\n{REQUEST.goal}\n[/STATE]\n[TAC]\n")


def test_reprover_internlm_and_bfs_frames():
    assert PROMPTS.get("reprover").render(REQUEST) == f"[GOAL]\n{REQUEST.goal}\n[PROOFSTEP]\n"
    assert PROMPTS.get("bfs").render(REQUEST) == f"{REQUEST.goal}:::"
    assert PROMPTS.get("internlm").render(REQUEST) == (
        "---\nNAME: mathd_algebra_10\n\n---\nPROOF_BEFORE: have h2 : x * 2 = 4 := by linarith\n\n"
        f"---\nSTATE_BEFORE: {REQUEST.goal}\n\n---\nTACTIC: "
    )


def test_whole_proof_keeps_relative_indentation():
    prompt = PROMPTS.get("whole-proof")
    text = prompt.render(REQUEST)
    assert text.endswith("```lean4\nimport Mathlib\nopen Real\n\n/-- Solve 2x = 4. -/\n" + THEOREM.statement)
    proof = prompt.parse("\n  have h : x = 2 := by\n    linarith\n  exact h\n```\nDone.")
    assert proof == "have h : x = 2 := by\n  linarith\nexact h"


def test_unknown_prompt_names_the_closest():
    with pytest.raises(UnknownNameError, match="Did you mean: reprover"):
        PROMPTS.get("reprove")
