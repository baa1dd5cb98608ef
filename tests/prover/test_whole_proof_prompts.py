"""The whole-proof models' prompt formats, answer parsing and feedback turns, as their sources give them."""

from __future__ import annotations

import pytest

from prover.models.feedback import goedel_feedback, kimina_feedback
from prover.models.prompts import PROMPTS, last_lean_block
from search import Candidate, Diagnostic, Repair, TacticRequest, Theorem

HEADER = (
    "import Mathlib\nimport Aesop\n\nset_option maxHeartbeats 400000\n\nopen BigOperators Real Nat Topology Rat\n\n"
)
STATEMENT = "theorem mathd_algebra_10 : abs ((120 : ℝ) / 100 * 30 - 130 / 100 * 20) = 10 := by\n"
THEOREM = Theorem("mathd_algebra_10", STATEMENT, header=HEADER, informal_statement="Show that it is 10.")
REQUEST = TacticRequest(STATEMENT, THEOREM)
FILE = f"{HEADER}/-- Show that it is 10.-/\n{STATEMENT.rstrip()}"


def test_deepseek_v15_continues_the_file_inside_an_open_block():
    assert PROMPTS.get("deepseek-v1.5").text(REQUEST) == f"Complete the following Lean 4 code:\n\n```lean4\n{FILE}\n"
    cot = PROMPTS.get("deepseek-v1.5-cot").text(REQUEST)
    assert cot.startswith("Complete the following Lean 4 code with explanatory comments preceding each line of code:")
    assert PROMPTS.get("deepseek-v1.5").parse("  norm_num [abs_of_nonneg]\n```\nrest") == "norm_num [abs_of_nonneg]"


def test_deepseek_v2_and_goedel_v2_ask_for_a_plan_after_the_sorried_file():
    plan = (
        "\n\nBefore producing the Lean 4 code to formally prove the given theorem, provide a detailed proof plan "
        "outlining the main proof steps and strategies.\nThe plan should highlight key ideas, intermediate lemmas, "
        "and proof structures that will guide the construction of the final formal proof."
    )
    (deepseek,) = PROMPTS.get("deepseek-v2").messages(REQUEST)
    assert deepseek == {
        "role": "user",
        "content": f"Complete the following Lean 4 code:\n\n```lean4\n{FILE}\n  sorry\n```{plan}",
    }
    (goedel,) = PROMPTS.get("goedel-v2").messages(REQUEST)
    assert goedel["content"] == f"Complete the following Lean 4 code:\n\n```lean4\n{FILE} sorry```{plan}"


def test_kimina_has_its_system_prompt_and_the_problem_before_the_formal_statement():
    system, user = PROMPTS.get("kimina").messages(REQUEST)
    assert system == {"role": "system", "content": "You are an expert in mathematics and proving theorems in Lean 4."}
    assert user["content"] == (
        "Think about and solve the following problem step by step in Lean 4.\n# Problem:Show that it is 10."
        f"\n# Formal statement:\n```lean4\n{FILE}\n```\n"
    )


def test_the_proof_is_the_last_complete_lean_block_and_the_rest_is_reasoning():
    answer = (
        "Plan.\n```lean4\ntheorem x := by\n  sorry\n```\nThen:\n```tactics\nsimp\n```\n```lean\nnorm_num\n```\nDone."
    )
    assert last_lean_block(answer) == (
        "norm_num",
        "Plan.\n```lean4\ntheorem x := by\n  sorry\n```\nThen:\n```tactics\nsimp\n```\nDone.",
    )
    # A block the answer never closes (cut off by the token limit) is no proof; an earlier one still is.
    assert last_lean_block("```lean4\nsimp\n```\n```lean4\nnlinarith [sq_nonneg") == (
        "simp",
        "```lean4\nnlinarith [sq_nonneg",
    )
    assert last_lean_block("I could not find a proof.") == ("", "I could not find a proof.")


def test_whole_proof_answers_keep_every_sample_in_order_tactics_are_ranked():
    goedel = PROMPTS.get("goedel-v2")
    samples = [
        goedel.candidate(REQUEST, text, -1.0, 5) for text in ("```lean4\nsimp\n```", "no block", "```lean4\nsimp\n```")
    ]
    kept = goedel.ranked(samples)
    assert [c.tactic for c in kept] == ["simp", "", "simp"]
    assert kept[1].reasoning == "no block" and kept[0].answer == "```lean4\nsimp\n```"
    tactics = PROMPTS.get("reprover").ranked(
        [Candidate("simp", -2.0), Candidate("simp", -1.0), Candidate("omega", -3.0)]
    )
    assert [(c.tactic, c.logprob) for c in tactics] == [("simp", -1.0), ("omega", -3.0)]


CODE = "theorem t : P := by\n  have h1 : A := by\n    linarith\n  nlinarith [h1]\n  exact h1"
ERROR = Diagnostic("error", "linarith failed", 3, 4, 3, 12)


def test_a_repair_conversation_repeats_each_answer_then_its_feedback():
    first = Repair("answer 0", CODE, 0, "error: linarith failed", (ERROR,))
    second = Repair("answer 1", CODE, 1, "error: linarith failed", (ERROR,))
    messages = PROMPTS.get("kimina").messages(TacticRequest(STATEMENT, THEOREM, repairs=(first, second)))
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user", "assistant", "user"]
    assert [messages[2]["content"], messages[4]["content"]] == ["answer 0", "answer 1"]
    assert messages[3]["content"] == kimina_feedback(first)
    with pytest.raises(ValueError, match="no error-feedback conversation"):
        PROMPTS.get("deepseek-v2").messages(TacticRequest(STATEMENT, THEOREM, repairs=(first,)))


def test_goedel_feedback_marks_the_error_in_the_models_code():
    feedback = goedel_feedback(Repair("a", CODE, 1, "error: linarith failed", (ERROR, Diagnostic("warning", "unused"))))
    assert feedback == (
        "The proof (Round 1) is not correct. Following is the compilation error message, where we use "
        "<error></error> to signal the position of the error.\n\n"
        "\nError 1:\n\nCorresponding Code:\n```lean4\n"
        "theorem t : P := by\n  have h1 : A := by\n    <error>linarith</error>\n  nlinarith [h1]\n\n```\n"
        "\nError Message: linarith failed\n"
        "\n\nBefore producing the Lean 4 code to formally prove the given theorem, provide a detailed analysis "
        "of the error message."
    )


def test_goedel_feedback_spans_lines_truncates_and_counts_what_it_leaves_out():
    code = "\n".join(f"line {k}" for k in range(1, 21))
    span = Diagnostic("error", "unsolved goals", 2, 2, 12, 3)
    errors = (span, *(Diagnostic("error", f"e{k}", k, 0, k, 1) for k in range(1, 9)))
    feedback = goedel_feedback(Repair("a", code, 0, "x", errors))
    assert (
        "line 1\nli<error>ne 2\nline 3\nline 4\nline 5\nline 6\nline 7\n"
        "\n... --[Truncated]-- ...\nlin</error>e 12\nline 13\n" in feedback
    )
    assert "Error 8:" in feedback and "Error 9:" not in feedback and "[Omitted 1 more errors]" in feedback


def test_without_a_lean_error_the_verdicts_reason_is_the_error():
    repair = Repair("a", CODE, 0, "the proof depends on disallowed axioms: sorryAx", (Diagnostic("warning", "x", 1),))
    assert "\nError 1:\n\nError Message: the proof depends on disallowed axioms: sorryAx\n" in goedel_feedback(repair)
    assert "Corresponding Code" not in goedel_feedback(repair)
    assert kimina_feedback(repair) == "# Error 1:\nError message: \nthe proof depends on disallowed axioms: sorryAx\n\n"


def test_kimina_feedback_numbers_the_lines_around_at_most_three_errors():
    errors = tuple(Diagnostic("error", f"e{k}", k, 0) for k in (3, 1, 5, 4))
    feedback = kimina_feedback(Repair("a", CODE, 0, "x", errors))
    assert feedback.startswith(
        "# Error 1:\nError message: \ne3\n\nLean 4 code snippet with error:\n```lean4\n"
        "001  | theorem t : P := by\n002  |   have h1 : A := by\n003 >|     linarith\n004  |   nlinarith [h1]\n"
        "005  |   exact h1\n```\n# Error 2:"
    )
    assert "# Error 3:" in feedback and "# Error 4:" not in feedback


def test_vllm_samples_a_chat_format_and_says_so_when_asked_for_beams():
    from prover.models.vllm import VLLMGenerator

    with pytest.raises(ValueError, match="--decoding sample"):
        VLLMGenerator("any", PROMPTS.get("goedel-v2"), decoding="beam")
