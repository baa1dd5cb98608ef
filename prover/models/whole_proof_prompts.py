"""Prompt formats of the whole-proof models, as their cards, papers and released inference code give them.

- ``deepseek-v1.5``, ``deepseek-v1.5-cot``: DeepSeek-Prover-V1.5 (a completion model): the Lean
  file up to the statement's ``:= by`` inside an open ```lean4 block; the model continues it with
  the tactics and closes the block (cut at the fence). The CoT prompt asks for an explanatory
  comment before each line.
- ``deepseek-v2``: DeepSeek-Prover-V2 (chat, CoT mode): the file with the proof as ``sorry`` in a
  ```lean4 block, then the request for a proof plan before the code.
- ``goedel-v2``: Goedel-Prover-V2 (chat): the same frame as its released inference code writes it
  (the statement ``:= by sorry`` and the fence on one line); failed proofs go back with its
  self-correction turn (`feedback.goedel_feedback`).
- ``kimina``: Kimina-Prover (chat, with its system prompt): the informal problem and the formal
  statement; failed proofs go back with its error-fixing turn (`feedback.kimina_feedback`).

Every chat answer's proof is its last ```lean4 block, which may restate the header and the theorem
(the verifier drops header lines the benchmark has and checks the statement is unchanged).
"""

from __future__ import annotations

from prover.models.feedback import goedel_feedback, kimina_feedback
from prover.models.prompts import PromptFormat, register
from search import TacticRequest, Theorem

COMPLETE = "Complete the following Lean 4 code:\n\n```lean4\n"
COMPLETE_COT = "Complete the following Lean 4 code with explanatory comments preceding each line of code:\n\n```lean4\n"
PLAN = (
    "Before producing the Lean 4 code to formally prove the given theorem, provide a detailed proof plan "
    "outlining the main proof steps and strategies.\nThe plan should highlight key ideas, intermediate lemmas, "
    "and proof structures that will guide the construction of the final formal proof."
)
KIMINA_SYSTEM = "You are an expert in mathematics and proving theorems in Lean 4."
KIMINA_TASK = "Think about and solve the following problem step by step in Lean 4."


def informal_prefix(theorem: Theorem) -> str:
    """The informal statement as a doc comment, the way DeepSeek's miniF2F file writes it."""
    return f"/-- {theorem.informal_statement.strip()}-/\n" if theorem.informal_statement else ""


def stated(theorem: Theorem, proof: str) -> str:
    """The header, the informal doc comment and the statement, ending ``:= by{proof}``."""
    statement = theorem.statement.rstrip().removesuffix("by").rstrip().removesuffix(":=").rstrip()
    return f"{theorem.header}{informal_prefix(theorem)}{statement} := by{proof}"


def render_deepseek_v15(request: TacticRequest) -> str:
    """DeepSeek-Prover-V1.5: the file up to `:= by` in an open ```lean4 block, to be continued."""
    theorem = request.theorem
    return f"{COMPLETE}{theorem.header}{informal_prefix(theorem)}{theorem.statement}"


def render_deepseek_v15_cot(request: TacticRequest) -> str:
    """DeepSeek-Prover-V1.5, chain of thought: the same, asking for a comment before each line."""
    theorem = request.theorem
    return f"{COMPLETE_COT}{theorem.header}{informal_prefix(theorem)}{theorem.statement}"


def render_deepseek_v2(request: TacticRequest) -> str:
    """DeepSeek-Prover-V2 (CoT mode): the file with `sorry` in a closed block, then the plan request."""
    file = stated(request.theorem, "\n  sorry").strip()
    return f"{COMPLETE}{file}\n```\n\n{PLAN}"


def render_goedel_v2(request: TacticRequest) -> str:
    """Goedel-Prover-V2: its inference code's frame (`:= by sorry` and the fence on one line)."""
    return f"{COMPLETE}{stated(request.theorem, ' sorry')}```\n\n{PLAN}"


def render_kimina(request: TacticRequest) -> str:
    """Kimina-Prover: the task, the informal problem when there is one, the formal statement."""
    theorem = request.theorem
    problem = f"\n# Problem:{theorem.informal_statement.strip()}" if theorem.informal_statement else ""
    return f"{KIMINA_TASK}{problem}\n# Formal statement:\n```lean4\n{stated(theorem, '')}\n```\n"


register(PromptFormat("deepseek-v1.5", render_deepseek_v15, stop=("```",), whole_proof=True))
register(PromptFormat("deepseek-v1.5-cot", render_deepseek_v15_cot, stop=("```",), whole_proof=True))
register(PromptFormat("deepseek-v2", render_deepseek_v2, whole_proof=True, chat=True))
register(PromptFormat("goedel-v2", render_goedel_v2, whole_proof=True, chat=True, feedback=goedel_feedback))
register(
    PromptFormat("kimina", render_kimina, whole_proof=True, chat=True, system=KIMINA_SYSTEM, feedback=kimina_feedback)
)
