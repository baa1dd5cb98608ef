"""Prompt formats of Lean sketch-and-decompose (`--strategy sketch`), registered with the others.

``lean-dsp`` is a draft-sketch-prove few-shot prompt for Lean 4 (after the Isabelle ``dsp``
prompt): worked examples of a problem, its informal proof and a formal sketch whose steps are
``have name : P := by sorry`` with the informal steps as comments; then the problem and its
formal statement, which the model continues. Examples and the query show the same parts: the
informal problem and proof when the theorem has them, the formal statement always.
``lean-sketch-chat`` asks a chat model for the sketch in a ```lean4 block. Each has a draft
prompt (``lean-dsp-draft``, ``lean-sketch-chat-draft``) for ``--draft``, which has the model
write the informal proof first.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass

from prover.models.prompts import PromptFormat, register
from search import TacticRequest, Theorem

# (informal problem, informal proof, formal statement, sketch): written for this project.
SKETCH_EXAMPLES: tuple[tuple[str, str, str, str], ...] = (
    (
        "If $2x + 3 = 11$ for a real number $x$, show that $x^2 = 16$.",
        "Subtracting 3 gives $2x = 8$, so $x = 4$, and then $x^2 = 16$.",
        "theorem linear_then_square (x : ℝ) (h₀ : 2 * x + 3 = 11) : x ^ 2 = 16 := by",
        "  -- subtracting 3 gives 2x = 8\n"
        "  have h₁ : 2 * x = 8 := by sorry\n"
        "  -- so x = 4\n"
        "  have h₂ : x = 4 := by sorry\n"
        "  -- and x^2 = 16\n"
        "  rw [h₂]\n"
        "  norm_num",
    ),
    (
        "Show that $n^2 + n$ is even for every natural number $n$.",
        "We have $n^2 + n = n(n + 1)$, and one of two consecutive numbers is even, so the product is even.",
        "theorem square_plus_self_even (n : ℕ) : Even (n ^ 2 + n) := by",
        "  -- n^2 + n = n (n + 1)\n"
        "  have h₀ : n ^ 2 + n = n * (n + 1) := by sorry\n"
        "  -- one of two consecutive numbers is even, so their product is\n"
        "  have h₁ : Even (n * (n + 1)) := by sorry\n"
        "  rw [h₀]\n"
        "  exact h₁",
    ),
    (
        "Let $a$ and $b$ be positive reals. Show that $a/b + b/a \\ge 2$.",
        "The square $(a - b)^2$ is not negative, and $a/b + b/a - 2 = (a - b)^2 / (ab)$ with $ab > 0$.",
        "theorem ratio_sum_ge_two (a b : ℝ) (h₀ : 0 < a) (h₁ : 0 < b) : a / b + b / a ≥ 2 := by",
        "  -- the product is positive\n"
        "  have h₂ : 0 < a * b := by sorry\n"
        "  -- a/b + b/a - 2 = (a - b)^2 / (a b)\n"
        "  have h₃ : a / b + b / a - 2 = (a - b) ^ 2 / (a * b) := by sorry\n"
        "  -- a square over a positive number is not negative\n"
        "  have h₄ : 0 ≤ (a - b) ^ 2 / (a * b) := by sorry\n"
        "  linarith",
    ),
)

DRAFT_PROMPTS: dict[str, str] = {"lean-dsp": "lean-dsp-draft", "lean-sketch-chat": "lean-sketch-chat-draft"}
"""The draft prompt paired with each sketch prompt (for `--draft`)."""

_THINKING = re.compile(r"^.*</think>", re.DOTALL)
_LEAN_BLOCK = re.compile(r"```lean4?[ \t]*\n(.*?)```", re.DOTALL)


def _informal(problem: str | None, proof: str | None) -> str:
    parts = [f"### Problem\n\n{problem}"] if problem else []
    if proof is not None:
        parts.append(f"### Solution\n\n{proof}")
    joined = "\n\n".join(parts)
    return f"Informal:\n/- {joined} -/\n\n" if parts else ""


def _shown(theorem: Theorem) -> tuple[bool, bool]:
    """Which informal parts the prompt shows: the problem, the proof (those the theorem has)."""
    return bool(theorem.informal_statement), bool(theorem.informal_proof)


def render_lean_dsp(request: TacticRequest) -> str:
    theorem = request.theorem
    problem, proof = _shown(theorem)
    shots = "\n\n\n\n".join(
        _informal(p if problem else None, s if proof else None) + f"Formal:\n{statement}\n{sketch}"
        for p, s, statement, sketch in SKETCH_EXAMPLES
    )
    query = _informal(theorem.informal_statement if problem else None, theorem.informal_proof if proof else None)
    return f"{shots}\n\n\n\n{query}Formal:\n{theorem.statement.rstrip()}\n"


def _draft_frame(problem: str, statement: str, proof: str | None) -> str:
    solution = "" if proof is None else f"{proof} -/"
    return f"/- ### Problem\n\n{problem}\n\n### Formal statement\n\n{statement}\n\n### Solution\n\n{solution}"


def render_lean_dsp_draft(request: TacticRequest) -> str:
    theorem = request.theorem
    shots = "\n\n\n\n".join(_draft_frame(p, statement, s) for p, s, statement, _ in SKETCH_EXAMPLES)
    problem = theorem.informal_statement or "Prove the formal statement below."
    return f"{shots}\n\n\n\n{_draft_frame(problem, theorem.statement.rstrip(), None)}"


def render_sketch_chat(request: TacticRequest) -> str:
    theorem = request.theorem
    _, _, example_statement, example_sketch = SKETCH_EXAMPLES[0]
    informal = ""
    if theorem.informal_statement:
        informal += f"\n\nThe problem in words:\n{theorem.informal_statement.strip()}"
    if theorem.informal_proof:
        informal += f"\n\nAn informal proof:\n{theorem.informal_proof.strip()}"
    return (
        "Write a proof sketch in Lean 4 (with Mathlib) of the theorem below. Break the proof into steps: "
        "state each step that needs work as `have name : statement := by sorry`, with the informal step as "
        "a comment above it, and close the theorem's goal from the steps with short tactics. Do not prove "
        "the steps, do not use `sorry` anywhere else, and keep the theorem statement exactly as given."
        f"{informal}\n\nAn example of the form:\n```lean4\n{example_statement}\n{example_sketch}\n```\n\n"
        f"The theorem:\n```lean4\n{theorem.header}{theorem.statement.rstrip()}\n```\n\n"
        "Answer with the whole sketch (the theorem and its proof) in one ```lean4 block."
    )


def render_sketch_chat_draft(request: TacticRequest) -> str:
    theorem = request.theorem
    problem = f"\n\nThe problem in words:\n{theorem.informal_statement.strip()}" if theorem.informal_statement else ""
    return (
        "Write a concise informal proof of the theorem below: its key steps, each with the formula it "
        "establishes, without the reasoning that led you there."
        f"{problem}\n\nThe theorem (Lean 4):\n```lean4\n{theorem.statement.rstrip()}\n```"
    )


@dataclass(frozen=True, slots=True)
class ChatSketchFormat(PromptFormat):
    """A chat answer: any reasoning before ``</think>`` dropped; the sketch is the last ```lean4 block."""

    def completion(self, text: str) -> str:
        return f"```lean4\n{text}\n```" if self.whole_proof else text

    def parse(self, completion: str) -> str:
        answer = _THINKING.sub("", completion)
        if not self.whole_proof:
            return answer.strip()
        blocks = _LEAN_BLOCK.findall(answer)
        return textwrap.dedent(blocks[-1].strip("\n")).rstrip() if blocks else ""


register(PromptFormat("lean-dsp", render_lean_dsp, stop=("\n\n\n",), whole_proof=True))
register(PromptFormat("lean-dsp-draft", render_lean_dsp_draft, stop=(" -/", "-/"), whole_proof=True))
register(ChatSketchFormat("lean-sketch-chat", render_sketch_chat, whole_proof=True))
register(ChatSketchFormat("lean-sketch-chat-draft", render_sketch_chat_draft))
