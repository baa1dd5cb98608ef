"""Tactic suggestions for a Lean goal: ranked, optionally checked in Lean, or a small proof search."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from search import (
    BestFirstSearch,
    Candidate,
    Failed,
    GaveUp,
    Goals,
    Outcome,
    ProofEnv,
    Proved,
    SearchConfig,
    SearchResult,
    TacticGenerator,
    TacticRequest,
    Theorem,
    TimedOut,
)

DEFAULT_HEADER = "import Mathlib\n\n"
GOAL_THEOREM = "suggestion_goal"
# An attribute is read within its line (`[^\]\n]`): an unclosed `@[` that could run on to a later `]`
# would rescan the rest of the text from every `@[` line, quadratic on a client-sent context.
_DECL = re.compile(r"^(?:@\[[^\]\n]*\]\s*)?(?:theorem|lemma|example|def|instance|abbrev)\b", re.MULTILINE)


class GoalFormatError(ValueError):
    """A goal text that cannot be restated as a theorem."""


def goal_to_statement(goal: str, name: str = GOAL_THEOREM) -> str:
    """Restate one pretty-printed goal (``x : ℕ\\nh : x = 2\\n⊢ x + x = 4``) as a theorem statement.

    Hypotheses become binders; lines indented under a hypothesis continue its type.
    Inaccessible names (``h✝``) and several goals cannot be restated.
    """
    text = goal.strip()
    if text.count("⊢") != 1:
        raise GoalFormatError("give exactly one goal (one line starting with ⊢)")
    hypotheses_text, conclusion = text.split("⊢", 1)
    lines = hypotheses_text.splitlines()
    if lines and lines[0].startswith("case "):
        lines = lines[1:]  # the case tag names the goal; it is not a hypothesis
    parts: list[list[str]] = []  # each hypothesis and its continuation lines, joined once (linear)
    for line in lines:
        if not line.strip():
            continue
        if line.startswith((" ", "\t")) and parts:
            parts[-1].append(line.strip())
        else:
            parts.append([line.strip()])
    hypotheses = [" ".join(part) for part in parts]
    binders = []
    for hypothesis in hypotheses:
        names, sep, kind = hypothesis.partition(" : ")
        if not sep:
            raise GoalFormatError(f"cannot read the hypothesis {hypothesis!r} (expected `name : type`)")
        if "✝" in names:
            raise GoalFormatError(f"the hypothesis {hypothesis!r} has an inaccessible name; name it first")
        binders.append(f"({names} : {kind})")
    conclusion = " ".join(conclusion.split())
    return f"theorem {name} {' '.join(binders)} : {conclusion} := by".replace("  ", " ")


def goal_theorem(goal: str, header: str = DEFAULT_HEADER) -> Theorem:
    return Theorem(GOAL_THEOREM, goal_to_statement(goal) + "\n", header=header)


def header_of(context: str) -> str:
    """The preamble of a Lean file (imports, options, opens): everything before its first declaration."""
    match = _DECL.search(context)
    return context[: match.start()] if match else context


@dataclass(frozen=True, slots=True)
class Suggestion:
    """One suggested tactic, with what Lean said of it when it was checked."""

    tactic: str
    score: float
    check: str | None = None  # "closes the goal" | "leaves n goals" | "error: ..." | None when unchecked

    @property
    def ok(self) -> bool:
        return self.check is None or not self.check.startswith(("error", "gives up", "timed out"))


async def suggest(
    generator: TacticGenerator, goal: str, theorem: Theorem | None = None, prefix: str = ""
) -> list[Candidate]:
    """Ranked candidates for a goal; every one starts with ``prefix``."""
    theorem = theorem or Theorem(GOAL_THEOREM, "")
    (candidates,) = await generator.propose([TacticRequest(goal, theorem, prefix=prefix)])
    seen: set[str] = set()
    ranked = []
    for candidate in sorted(candidates, key=lambda c: c.logprob, reverse=True):
        if candidate.tactic.startswith(prefix) and candidate.tactic not in seen:
            seen.add(candidate.tactic)
            ranked.append(candidate)
    return ranked


def describe(outcome: Outcome) -> str:
    if isinstance(outcome, Proved):
        return "closes the goal"
    if isinstance(outcome, Goals):
        return f"leaves {outcome.num_goals} goal{'s' if outcome.num_goals != 1 else ''}"
    if isinstance(outcome, TimedOut):
        return f"timed out after {outcome.seconds:g} s"
    if isinstance(outcome, GaveUp):
        return f"gives up ({outcome.reason})"
    assert isinstance(outcome, Failed)
    return "error: " + outcome.message.strip().splitlines()[0][:200] if outcome.message.strip() else "error"


async def check_suggestions(
    env: ProofEnv, theorem: Theorem, candidates: Sequence[Candidate], tactic_timeout: float = 10.0
) -> list[Suggestion]:
    """Run each candidate on the theorem's goal; those that close it first, errors last.

    A tactic that closes the goal is also checked whole (no sorry, allowed axioms only)
    before it is called a proof.
    """
    root = await env.start(theorem)
    checked = []
    for candidate in candidates:
        outcome = await env.apply(root, candidate.tactic, tactic_timeout)
        verdict = describe(outcome)
        if isinstance(outcome, Proved):
            whole = await env.verify(theorem, [candidate.tactic])
            if not whole.ok:
                verdict = f"error: rejected by the whole-proof check: {whole.message}"
        checked.append(Suggestion(candidate.tactic, candidate.logprob, verdict))
    order = {True: 0, False: 1}
    return sorted(checked, key=lambda s: (order[s.check == "closes the goal"], not s.ok))


async def search_proof(
    env: ProofEnv, generator: TacticGenerator, theorem: Theorem, config: SearchConfig
) -> SearchResult:
    """A small best-first search for a whole proof of the theorem."""
    return await BestFirstSearch(env, generator, config).search(theorem)


async def goal_at(process: Any, text: str, line: int, timeout: float) -> str:
    """The goal of the ``sorry`` on ``line`` of a Lean file, elaborated by a REPL process."""
    from lean_env.protocol import Command, CommandReply

    reply = await process.request(Command(cmd=text), timeout)
    if not isinstance(reply, CommandReply):
        raise GoalFormatError(f"Lean rejected the file: {reply}")
    sorries = [s for s in reply.sorries or [] if s.pos is not None]
    on_line = [s for s in sorries if s.pos.line == line]
    if not on_line:
        lines = ", ".join(str(s.pos.line) for s in sorries) or "none"
        raise GoalFormatError(f"no sorry on line {line}; the file has sorries on lines: {lines}")
    return on_line[0].goal
