"""The sketch prompt formats: what each shows, what is read back, and that their own examples are sketches."""

from __future__ import annotations

import pytest

from lean_env.sketch import plan_sketch
from prover.config import ProveConfig, merge
from prover.models.prompts import PROMPTS
from prover.models.sketch_prompts import SKETCH_EXAMPLES
from prover.sketch import draft_prompt
from search import TacticRequest, Theorem, Verdict

STATEMENT = "theorem t (x : ℝ) (h₀ : x + 1 = 3) : x = 2 := by\n"


def rendered(name: str, **informal: str) -> str:
    theorem = Theorem("t", STATEMENT, header="import Mathlib\n", **informal)
    return PROMPTS.get(name).text(TacticRequest("⊢ x = 2", theorem))


@pytest.mark.parametrize(("problem", "proof"), [(None, None), ("x + 1 = 3.", None), ("P", "Q")])
def test_lean_dsp_shows_the_examples_with_the_informal_parts_the_theorem_has(problem, proof):
    informal = {k: v for k, v in {"informal_statement": problem, "informal_proof": proof}.items() if v}
    text = rendered("lean-dsp", **informal)
    assert text.endswith("Formal:\n" + STATEMENT)
    assert text.count("### Problem") == (4 if problem else 0)
    assert text.count("### Solution") == (4 if proof else 0)
    assert text.count("have h₁ : 2 * x = 8 := by sorry") == 1


def test_lean_dsp_reads_the_sketch_up_to_three_newlines():
    prompt = PROMPTS.get("lean-dsp")
    assert prompt.parse("  have h : x = 2 := by sorry\n  exact h\n\n\nInformal:\n/- next") == (
        "have h : x = 2 := by sorry\nexact h"
    )


def test_the_chat_sketch_is_the_last_lean_block_after_the_reasoning():
    prompt = PROMPTS.get("lean-sketch-chat")
    thinking = "<think>maybe ```lean4\nexact sorry\n```</think>\n"
    answer = thinking + "```lean4\nfirst\n```\nbetter:\n```lean4\ntheorem t\n  simp\n```"
    assert prompt.parse(answer) == "theorem t\n  simp"
    assert prompt.parse("no code at all") == ""
    assert "```lean4\nimport Mathlib\ntheorem t" in rendered("lean-sketch-chat")
    draft = PROMPTS.get("lean-sketch-chat-draft")
    assert draft.parse("<think>hmm</think>\nx = 2 since x + 1 = 3.") == "x = 2 since x + 1 = 3."


def test_each_sketch_prompt_has_its_draft_prompt():
    def drafting(prompt: str, **sketch: str) -> str:
        return draft_prompt(merge(ProveConfig(), {"generator": {"prompt": prompt}, "sketch": sketch}, "test"))

    assert drafting("lean-dsp") == "lean-dsp-draft"
    assert drafting("lean-sketch-chat") == "lean-sketch-chat-draft"
    assert drafting("lean-dsp", draft_prompt="lean-sketch-chat-draft") == "lean-sketch-chat-draft"
    assert rendered("lean-dsp-draft").endswith(f"### Formal statement\n\n{STATEMENT.rstrip()}\n\n### Solution\n\n")


@pytest.mark.parametrize(("problem", "proof", "statement", "sketch"), SKETCH_EXAMPLES)
def test_the_prompt_examples_are_sketches_the_strategy_accepts(problem, proof, statement, sketch):
    plan = plan_sketch(Theorem("example", statement + "\n"), sketch)
    assert not isinstance(plan, Verdict), plan
    assert len(plan.gaps) == sketch.count("sorry") >= 2
