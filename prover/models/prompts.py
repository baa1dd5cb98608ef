"""Prompt formats: how a request is rendered for a model and how its output becomes a tactic."""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from search import Candidate, Registry, Repair, TacticRequest, Theorem

Message = dict[str, str]


@dataclass(frozen=True, slots=True)
class PromptFormat:
    """One named template with its output parsing.

    A ``chat`` format renders a request as a conversation (``messages``): a system message when it
    has one, the user's prompt, then for each earlier failed answer the answer and the ``feedback``
    on it (error-feedback repair). hf and vLLM put the conversation into the model's own chat
    template; an OpenAI-compatible server gets it as chat messages. The proof is the answer's last
    ```lean4 block; the rest of the answer is its reasoning.
    """

    name: str
    render: Callable[[TacticRequest], str]
    stop: tuple[str, ...] = ()
    """Generation stops at any of these; they are cut from the output."""
    open_tag: str = ""
    """When set, the tactic is the text after this tag (for chat models that echo it)."""
    whole_proof: bool = False
    """The output is a complete proof rather than one tactic (every sample is kept, in order)."""
    chat: bool = False
    system: str = ""
    feedback: Callable[[Repair], str] | None = None
    """The user turn that takes a failed proof back to the model; None: no repair conversation."""

    def messages(self, request: TacticRequest) -> list[Message]:
        """The conversation of a chat format: system, user prompt, then each repair's answer and feedback."""
        out = [{"role": "system", "content": self.system}] if self.system else []
        out.append({"role": "user", "content": self.render(request)})
        if request.repairs and self.feedback is None:
            raise ValueError(f"prompt format {self.name!r} has no error-feedback conversation")
        for repair in request.repairs:
            assert self.feedback is not None
            out.append({"role": "assistant", "content": repair.answer})
            out.append({"role": "user", "content": self.feedback(repair)})
        return out

    def read(self, request: TacticRequest, completion: str) -> tuple[str, str]:
        """The tactic or proof in a model's completion of ``request``, and the reasoning around it."""
        if self.chat:
            return last_lean_block(completion)
        return self.tactic(request, completion), ""

    def candidate(self, request: TacticRequest, completion: str, logprob: float, num_tokens: int) -> Candidate | None:
        """A completion as a candidate: None when it holds no tactic (a whole-proof sample is always kept)."""
        tactic, reasoning = self.read(request, completion)
        if not tactic and not self.whole_proof:
            return None
        return Candidate(tactic, logprob, num_tokens, reasoning, completion if self.chat else "")

    def ranked(self, candidates: Iterable[Candidate | None]) -> list[Candidate]:
        """Tactics: distinct, best first. Whole proofs: every sample in sample order (pass@k counts samples)."""
        if self.whole_proof:
            return [c for c in candidates if c is not None]
        return rank_unique(candidates)

    def text(self, request: TacticRequest) -> str:
        """The model's input: the rendered prompt, then the request's forced prefix."""
        return self.render(request) + request.prefix

    def tactic(self, request: TacticRequest, completion: str) -> str:
        """The tactic in a continuation of ``text(request)`` (the prefix included)."""
        return self.parse(request.prefix + completion)

    def completion(self, text: str) -> str:
        """What a model should write for ``text`` after the rendered prompt: the inverse of ``parse``
        (the text, then the first stop string), the training target of `prover data extract`."""
        if not self.stop:
            return text
        stop = self.stop[0]
        return text + (stop if stop.startswith("\n") else "\n" + stop)

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

_OPEN_FENCE = ("```lean4", "```lean")


def last_lean_block(answer: str) -> tuple[str, str]:
    """The last complete ```lean4 (or ```lean) block of an answer, and the answer without it.

    A block the answer never closes (a generation cut off by its token limit) is not a proof.
    """
    lines = answer.split("\n")
    found: tuple[int, int] | None = None
    index = 0
    while index < len(lines):
        if lines[index].strip() in _OPEN_FENCE:
            close = next((k for k in range(index + 1, len(lines)) if lines[k].strip().startswith("```")), None)
            if close is None:
                break
            found, index = (index, close), close + 1
        else:
            index += 1
    if found is None:
        return "", answer.strip()
    start, close = found
    return "\n".join(lines[start + 1 : close]), "\n".join(lines[:start] + lines[close + 1 :]).strip()


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


# -- Draft, sketch, prove (Isabelle): informal problem and proof, then a formal sketch --------------

DSP_NUMBER_THEORY: tuple[tuple[str, str, str], ...] = (
    (
        "Show that for every natural number $n$, $n^2 + n$ is even.",
        "We have $n^2 + n = n(n+1)$. Of two consecutive numbers one is even, so their product is even.",
        'theorem even_square_plus:\n  fixes n :: nat\n  shows "even (n^2 + n)"\nproof -\n'
        '  (* n^2 + n = n (n + 1) *)\n  have "n^2 + n = n * (n + 1)"\n    sledgehammer\n'
        "  (* one of two consecutive numbers is even, so the product is even *)\n"
        '  moreover have "even (n * (n + 1))"\n    sledgehammer\n  ultimately show ?thesis\n    sledgehammer\nqed',
    ),
    (
        "What is the remainder when $2^{10}$ is divided by 7? Show that it is 2.",
        "We compute $2^{10} = 1024 = 7 \\cdot 146 + 2$, so the remainder is 2.",
        'theorem two_pow_ten_mod_seven:\n  "(2::nat)^10 mod 7 = 2"\nproof -\n'
        '  (* 2^10 = 1024 *)\n  have "(2::nat)^10 = 1024"\n    sledgehammer\n'
        "  (* 1024 = 7 * 146 + 2 *)\n  then show ?thesis\n    sledgehammer\nqed",
    ),
)

DSP_OTHER: tuple[tuple[str, str, str], ...] = (
    (
        "If $3x + 2 = 11$, show that $x = 3$.",
        "Subtracting 2 from both sides gives $3x = 9$; dividing by 3 gives $x = 3$.",
        'theorem linear_equation:\n  fixes x :: real\n  assumes h0: "3 * x + 2 = 11"\n  shows "x = 3"\nproof -\n'
        '  (* subtract 2 from both sides *)\n  have "3 * x = 9"\n    using h0 sledgehammer\n'
        "  (* divide by 3 *)\n  then show ?thesis\n    sledgehammer\nqed",
    ),
    (
        "Show that for all real numbers $a$ and $b$, $a^2 + b^2 \\geq 2ab$.",
        "The square $(a - b)^2$ is not negative, and it expands to $a^2 - 2ab + b^2$.",
        'theorem two_products:\n  fixes a b :: real\n  shows "a^2 + b^2 \\<ge> 2 * a * b"\nproof -\n'
        '  (* the square of a - b is not negative *)\n  have "(a - b)^2 \\<ge> 0"\n    sledgehammer\n'
        "  (* expanding it gives the claim *)\n  then show ?thesis\n    sledgehammer\nqed",
    ),
)

_NUMBER_THEORY_WORDS = ("numbertheory", "remainder", "divisible", "prime", "divisor", "modulo", "gcd", "digit")


def dsp_examples(theorem: Theorem) -> tuple[tuple[str, str, str], ...]:
    """The few-shot set for a problem: number theory, or everything else."""
    text = f"{theorem.name} {theorem.informal_statement or ''}".lower()
    return DSP_NUMBER_THEORY if any(word in text for word in _NUMBER_THEORY_WORDS) else DSP_OTHER


def _informal(statement: str, proof: str | None) -> str:
    solution = "" if proof is None else f"{proof} *)"
    return f"Informal:\n(*### Problem\n\n{statement}\n\n### Solution\n\n{solution}"


def render_dsp(request: TacticRequest) -> str:
    theorem = request.theorem
    shots = "\n\n\n\n".join(
        f"{_informal(problem, proof)}\n\nFormal:\n{formal}" for problem, proof, formal in dsp_examples(theorem)
    )
    query = _informal(theorem.informal_statement or "", theorem.informal_proof or "")
    return f"{shots}\n\n\n\n{query}\n\nFormal:\n{theorem.statement}"


def render_dsp_draft(request: TacticRequest) -> str:
    theorem = request.theorem
    shots = "\n\n\n\n".join(_informal(problem, proof) for problem, proof, _ in dsp_examples(theorem))
    return f"{shots}\n\n\n\n{_informal(theorem.informal_statement or '', None)}"


register(PromptFormat("dsp", render_dsp, stop=("\n\n\n",), whole_proof=True))
register(PromptFormat("dsp-draft", render_dsp_draft, stop=(" *)", "*)"), whole_proof=True))
