"""The whole-proof check: what counts as a proof in Lean, independent of how it was found.

A proof counts only when the theorem, with the proof in place of ``sorry``,
elaborates in a fresh environment from the same header with no error, no
``sorry`` warning, the statement text unchanged, and ``#print axioms`` listing
nothing outside the allow-list.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass

from lean_env.protocol import CommandReply, Reply
from lean_env.tactics import screen
from search import Theorem, Verdict

DEFAULT_AXIOMS: tuple[str, ...] = ("propext", "Classical.choice", "Quot.sound")
_AXIOMS = re.compile(r"'(?P<name>[^']+)' depends on axioms: \[(?P<axioms>[^\]]*)\]")
_NO_AXIOMS = re.compile(r"'(?P<name>[^']+)' does not depend on any axioms")
_NAME = re.compile(r"^\s*(?:theorem|lemma)\s+(?P<name>[^\s:({\[]+)")


def declared_name(theorem: Theorem) -> str:
    """The Lean name the check prints axioms of (an ``example`` gets the theorem's name)."""
    match = _NAME.match(theorem.statement)
    return match.group("name") if match else theorem.name


def checked_statement(theorem: Theorem) -> str:
    """The statement as checked: ``example`` becomes a named theorem so its axioms can be printed."""
    statement = theorem.statement.rstrip()
    if statement.startswith("example"):
        statement = f"theorem {theorem.name}" + statement.removeprefix("example")
    if not statement.endswith("by"):
        statement = statement.removesuffix(":=").rstrip() + " := by"
    return statement


def proof_body(theorem: Theorem, proof: Sequence[str] | str) -> str:
    """The tactic block, indented under the statement; a whole declaration must repeat the statement."""
    if isinstance(proof, str):
        text = textwrap.dedent(proof).strip("\n")
        stripped = text.lstrip()
        if stripped.startswith(("theorem ", "lemma ", "example ")):
            expected = " ".join(checked_statement(theorem).split())
            given = " ".join(stripped.split())
            if not given.startswith(expected):
                raise StatementChanged("the proof restates the theorem differently from the benchmark")
            # keep what follows the statement's final `by`
            text = textwrap.dedent(_after_statement(stripped, theorem)).strip("\n")
        steps = [text]
    else:
        steps = [textwrap.dedent(step).strip("\n") for step in proof]
    return "\n".join(textwrap.indent(step, "  ") for step in steps if step.strip())


class StatementChanged(ValueError):
    """A whole proof whose statement differs from the benchmark's."""


def _after_statement(text: str, theorem: Theorem) -> str:
    # Walk the statement's words through the text so whitespace differences do not matter.
    position = 0
    for word in checked_statement(theorem).split():
        position = text.index(word, position) + len(word)
    return text[position:]


@dataclass(frozen=True, slots=True)
class CheckPlan:
    """The command sent to Lean for one whole-proof check."""

    theorem: Theorem
    name: str
    text: str


def plan_check(theorem: Theorem, proof: Sequence[str] | str) -> CheckPlan | Verdict:
    """The command text, or a rejecting verdict when the proof must not even reach Lean."""
    steps = [proof] if isinstance(proof, str) else list(proof)
    for step in steps:
        verdict = screen(step)
        if verdict is not None:
            kind, word = verdict
            return Verdict(False, f"the proof uses {word!r} ({kind.replace('_', ' ')})", "screen", "screen")
    try:
        body = proof_body(theorem, proof)
    except (StatementChanged, ValueError) as error:
        return Verdict(False, str(error), "screen", "screen")
    if not body.strip():
        return Verdict(False, "the proof is empty", "screen", "screen")
    name = declared_name(theorem)
    text = f"{checked_statement(theorem)}\n{body}\n\n#print axioms {name}\n"
    return CheckPlan(theorem, name, text)


def judge(plan: CheckPlan, reply: Reply, allowed_axioms: Sequence[str] = DEFAULT_AXIOMS) -> Verdict:
    """Accept only a clean elaboration whose axioms are all allowed."""
    method = "lean-repl whole-theorem check"
    if not isinstance(reply, CommandReply):
        return Verdict(False, f"Lean rejected the check: {getattr(reply, 'message', reply)}", method, "repl")
    errors = reply.errors()
    if errors:
        return Verdict(False, f"error: {errors[0].data}", method, "repl")
    for message in reply.messages or []:
        if "sorry" in message.data and message.severity == "warning":
            return Verdict(False, f"the proof relies on sorry: {message.data}", method, "repl")
    if reply.sorries:
        return Verdict(False, "the proof leaves sorry goals", method, "repl")
    axioms = _axioms_of(plan.name, reply)
    if axioms is None:
        return Verdict(False, f"no `#print axioms {plan.name}` output: the theorem was not declared", method, "repl")
    extra = [a for a in axioms if a not in allowed_axioms]
    if extra:
        return Verdict(False, f"the proof depends on disallowed axioms: {', '.join(extra)}", method, "repl")
    return Verdict(True, f"axioms: {', '.join(axioms) or 'none'}", method, "repl")


def _axioms_of(name: str, reply: CommandReply) -> list[str] | None:
    for message in reply.messages or []:
        if message.severity != "info":
            continue
        text = " ".join(message.data.split())
        found = _AXIOMS.search(text)
        if found and found.group("name").endswith(name):
            return [a.strip() for a in found.group("axioms").split(",") if a.strip()]
        none = _NO_AXIOMS.search(text)
        if none and none.group("name").endswith(name):
            return []
    return None
