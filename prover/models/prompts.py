"""Prompt formats: how a request is rendered for a model and how its output becomes a tactic."""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from search import Candidate, Registry, TacticRequest


@dataclass(frozen=True, slots=True)
class PromptFormat:
    """One named template with its output parsing."""

    name: str
    render: Callable[[TacticRequest], str]
    stop: tuple[str, ...] = ()
    """Generation stops at any of these; they are cut from the output."""
    open_tag: str = ""
    """When set, the tactic is the text after this tag (for chat models that echo it)."""
    whole_proof: bool = False
    """The output is a complete proof rather than one tactic."""

    def text(self, request: TacticRequest) -> str:
        """The model's input: the rendered prompt, then the request's forced prefix."""
        return self.render(request) + request.prefix

    def tactic(self, request: TacticRequest, completion: str) -> str:
        """The tactic in a continuation of ``text(request)`` (the prefix included)."""
        return self.parse(request.prefix + completion)

    def parse(self, completion: str) -> str:
        """The tactic (or proof) in a model continuation of the rendered prompt."""
        text = completion
        if self.open_tag and self.open_tag in text:
            text = text.split(self.open_tag, 1)[1]
        for stop in self.stop:
            text = text.split(stop, 1)[0]
        # A whole proof keeps its lines' relative indentation; a tactic is one trimmed string.
        return textwrap.dedent(text.strip("\n")).rstrip() if self.whole_proof else text.strip()


PROMPTS: Registry[PromptFormat] = Registry("prompt format")


def rank_unique(candidates: Iterable[Candidate | None]) -> list[Candidate]:
    """Distinct tactics, each with its best log-probability, best first (Nones dropped)."""
    best: dict[str, Candidate] = {}
    for candidate in candidates:
        if candidate is None or not candidate.tactic:
            continue
        if candidate.tactic not in best or best[candidate.tactic].logprob < candidate.logprob:
            best[candidate.tactic] = candidate
    return sorted(best.values(), key=lambda c: c.logprob, reverse=True)


def register(prompt: PromptFormat) -> PromptFormat:
    return PROMPTS.register(prompt.name)(prompt)


# -- Llemma formal2formal: three worked examples in the tactic-state frame ----------------

LLEMMA_EXAMPLES: tuple[tuple[str, str], ...] = (
    (
        "x y : ℝ\nh₀ : x + y = 10\nh₁ : x - y = 2\n⊢ x = 6",
        "linarith",
    ),
    (
        "n : ℕ\nh₀ : n % 5 = 3\n⊢ 2 * n % 5 = 1",
        "rw [Nat.mul_mod, h₀]",
    ),
    (
        "a b : ℕ\nh₀ : 0 < a ∧ 0 < b\n⊢ a * b ≠ 0",
        "exact Nat.mul_ne_zero (Nat.pos_iff_ne_zero.mp h₀.1) (Nat.pos_iff_ne_zero.mp h₀.2)",
    ),
)


def _llemma_frame(state: str, tactic: str | None) -> str:
    body = f"Tactic state:\n---\n{state}\n---\nNext tactic:\n---\n"
    return body if tactic is None else f"{body}{tactic}\n---\n"


def render_llemma(request: TacticRequest) -> str:
    examples = "\n".join(_llemma_frame(state, tactic) for state, tactic in LLEMMA_EXAMPLES)
    return (
        "Given the Lean 4 tactic state, suggest a next tactic.\n"
        "Here are some examples:\n\n"
        f"{examples}\n"
        f"{_llemma_frame(request.goal, None)}"
    )


register(PromptFormat("llemma", render_llemma, stop=("---",)))


# -- LLMLean's instruction format: [CTX] file so far, [STATE] goals, answer in [TAC] -----


def _context(request: TacticRequest) -> str:
    theorem = request.theorem
    proof_so_far = "".join(f"\n  {t}" for t in request.tactics)
    return f"{theorem.header}{theorem.statement}{proof_so_far}".strip()


def render_instruct(request: TacticRequest) -> str:
    context = _context(request)
    ctx = f"[CTX]\n{context}\n[/CTX]\n" if context else ""
    return (
        "/- You are proving a theorem in Lean 4.\n"
        "You are given the following information:\n"
        "- The file contents up to the current tactic, inside [CTX]...[/CTX]\n"
        "- The current proof state, inside [STATE]...[/STATE]\n\n"
        "Your task is to generate the next tactic in the proof.\n"
        "Put the next tactic inside [TAC]...[/TAC]\n-/\n"
        f"{ctx}[STATE]\n{request.goal}\n[/STATE]\n[TAC]\n"
    )


register(PromptFormat("instruct", render_instruct, stop=("[/TAC]",), open_tag="[TAC]"))

# -- ReProver / LeanDojo, InternLM2.5-StepProver, BFS-Prover ---------------------------------

register(PromptFormat("reprover", lambda r: f"[GOAL]\n{r.goal}\n[PROOFSTEP]\n"))


def render_internlm(request: TacticRequest) -> str:
    before = "\n".join(request.tactics)
    return (
        f"---\nNAME: {request.theorem.name}\n\n---\nPROOF_BEFORE: {before}\n\n"
        f"---\nSTATE_BEFORE: {request.goal}\n\n---\nTACTIC: "
    )


register(PromptFormat("internlm", render_internlm, stop=("\n---",)))
register(PromptFormat("bfs", lambda r: f"{r.goal}:::"))


# -- Whole proofs (DeepSeek-Prover style): continue the Lean file after `:= by` ---------------


def render_whole_proof(request: TacticRequest) -> str:
    theorem = request.theorem
    informal = f"/-- {theorem.informal_statement.strip()} -/\n" if theorem.informal_statement else ""
    return f"Complete the following Lean 4 code:\n\n```lean4\n{theorem.header}{informal}{theorem.statement}"


register(PromptFormat("whole-proof", render_whole_proof, stop=("```",), whole_proof=True))
