"""The whole-proof check: what counts as a proof in Lean, independent of how it was found.

Level ``repl`` (the default): the theorem, with the proof in place of ``sorry``,
is elaborated in a fresh environment from the same header, with

1. the proof text passed through the screen first (``lean_env.screen``);
2. no error, no ``sorry`` warning and no sorry goal in the reply;
3. an audit as a request of its own on the environment the check returned:
   ``#print axioms _root_.NAME`` (read only from that reply, the name matched
   exactly; nothing the proof printed can imitate it) listing only allowed axioms,
   and ``#check @_root_.NAME`` under ``pp.all`` equal to the same print of the
   benchmark statement elaborated alone in the trusted header environment.

Level ``kernel`` (``--verify kernel``) adds a replay through Lean's kernel in a
fresh process (``lean_env.kernel``). The checks and what each protects against are
in docs/soundness.md.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass

from lean_env.lexer import Token, tokenize
from lean_env.protocol import CommandReply, Message, Reply
from lean_env.screen import screen
from search import Theorem, Verdict

DEFAULT_AXIOMS: tuple[str, ...] = ("propext", "Classical.choice", "Quot.sound")
METHOD = "lean-repl whole-theorem check"
_AXIOMS = re.compile(r"^'(?P<name>.+)' depends on axioms: \[(?P<axioms>[^\]]*)\]$")
_NO_AXIOMS = re.compile(r"^'(?P<name>.+)' does not depend on any axioms$")
_NAME = re.compile(r"^\s*(?:theorem|lemma)\s+(?P<name>[^\s:({\[]+)")
_USES_SORRY = re.compile(r"declaration uses ['`]sorry['`]")  # Lean's warning (quotes differ by version)
_PLAIN_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_'.]*$")
MAX_KEPT_MESSAGES = 20
MAX_KEPT_CHARS = 2000


def declared_name(theorem: Theorem) -> str:
    """The Lean name of the checked constant (an ``example`` is checked under the theorem's name)."""
    match = _NAME.match(theorem.statement)
    name = match.group("name") if match else theorem.name
    if not _PLAIN_NAME.match(name) or name.endswith("."):
        # A name the audit could not address exactly: check the statement under a plain one.
        name = "llemma_check_" + re.sub(r"\W", "_", name)
    return name


def checked_statement(theorem: Theorem) -> str:
    """The statement as checked, named ``declared_name`` and ending in ``:= by``."""
    statement = theorem.statement.rstrip()
    name = declared_name(theorem)
    match = _NAME.match(statement)
    if statement.startswith("example"):
        statement = f"theorem {name}" + statement.removeprefix("example")
    elif match and match.group("name") != name:
        statement = statement[: match.start("name")] + name + statement[match.end("name") :]
    if not statement.endswith("by"):
        statement = statement.removesuffix(":=").rstrip() + " := by"
    return statement


def proof_body(theorem: Theorem, proof: Sequence[str] | str) -> str:
    """The tactic block, indented under the statement; a whole declaration must repeat the statement.

    A restated statement is compared with the benchmark's token by token (Lean's lexer: layout
    and comments do not matter, `lemma` is `theorem`); only what follows it is kept. A term-mode
    proof (`:= term`) becomes `exact (term)`.
    """
    if isinstance(proof, str):
        text = textwrap.dedent(proof).strip("\n")
        tokens = tokenize(text)
        if tokens and tokens[0].text in ("theorem", "lemma", "example"):
            text = _after_statement(text, tokens, theorem)
        steps = [text]
    else:
        steps = [textwrap.dedent(step).strip("\n") for step in proof]
    return "\n".join(textwrap.indent(step, "  ") for step in steps if step.strip())


class StatementChanged(ValueError):
    """A whole proof whose statement differs from the benchmark's."""


class StatementError(RuntimeError):
    """The theorem statement itself does not elaborate (a benchmark or header problem)."""


def _statement_words(statement: str) -> list[str]:
    words = [t.text for t in tokenize(statement)]
    if words and words[0] == "lemma":
        words[0] = "theorem"
    if words and words[-1] == "by":  # the lexer gives `:=` as `:` and `=`; the final `by` is the body's
        words = words[:-1]
    return words


def _after_statement(text: str, tokens: list[Token], theorem: Theorem) -> str:
    """What follows a restated statement: the tactics after `:= by`, or `exact (term)` after `:=`."""
    given = [t.text for t in tokens]
    if given[0] == "lemma":
        given[0] = "theorem"
    for statement in (checked_statement(theorem), theorem.statement.rstrip()):
        expected = _statement_words(statement)
        if given[: len(expected)] != expected:
            continue
        rest = tokens[len(expected) :]
        if rest and rest[0].text == "by":
            return textwrap.dedent(text[rest[0].end :]).strip("\n")
        start = rest[0].start if rest else len(text)
        return f"exact (\n{textwrap.indent(textwrap.dedent(text[start:]).strip(), '  ')}\n)"
    raise StatementChanged("the proof restates the theorem differently from the benchmark")


def target_command(theorem: Theorem) -> str:
    """The benchmark statement alone (closed by ``sorry``), then its type printed in full.

    Run on the trusted header environment it gives the proof state to search from
    (the sorry) and the type every proof's constant must have (the ``#check``).
    """
    name = declared_name(theorem)
    return f"{checked_statement(theorem)} sorry\n\nset_option pp.all true in\n#check @_root_.{name}\n"


def audit_command(name: str) -> str:
    """Asked on the environment a check returned: its axioms (line 1) and its type (lines 3-4)."""
    return f"#print axioms _root_.{name}\n\nset_option pp.all true in\n#check @_root_.{name}\n"


@dataclass(frozen=True, slots=True)
class CheckPlan:
    """The commands sent to Lean for one whole-proof check."""

    theorem: Theorem
    name: str
    text: str
    """The theorem with the proof: elaborated on a fresh header environment."""
    audit: str
    """``audit_command(name)``: asked on the environment ``text`` returned."""


def plan_check(theorem: Theorem, proof: Sequence[str] | str) -> CheckPlan | Verdict:
    """The commands, or a rejecting verdict when the proof must not even reach Lean."""
    # Steps are screened one by one and then joined: a construct split across steps is seen whole.
    # A whole proof is screened after its restated statement (which is never sent) is cut off.
    for step in [] if isinstance(proof, str) else proof:
        refusal = screen(step)
        if refusal is not None:
            return Verdict(False, f"refused before Lean: {refusal}", "screen", "screen")
    try:
        body = proof_body(theorem, proof)
    except StatementChanged as error:
        return Verdict(False, str(error), "screen", "screen")
    if not body.strip():
        return Verdict(False, "the proof is empty", "screen", "screen")
    refusal = screen(body)
    if refusal is not None:
        return Verdict(False, f"refused before Lean: {refusal}", "screen", "screen")
    name = declared_name(theorem)
    return CheckPlan(theorem, name, f"{checked_statement(theorem)}\n{body}\n", audit_command(name))


def target_type(theorem: Theorem, reply: Reply) -> str | None:
    """The printed type of the statement elaborated alone (the ``#check`` of ``target_command``)."""
    if not isinstance(reply, CommandReply) or reply.errors():
        return None
    statement_lines = len(checked_statement(theorem).splitlines())
    return _printed_type(reply, after_line=statement_lines + 1)


def kept_messages(reply: Reply) -> tuple[str, ...]:
    """The check's own messages, bounded, for the record (never read as a verdict)."""
    if not isinstance(reply, CommandReply):
        return (str(getattr(reply, "message", reply))[:MAX_KEPT_CHARS],)
    return tuple(
        f"{m.severity} {m.pos.line}:{m.pos.column}: {m.data}"[:MAX_KEPT_CHARS]
        for m in (reply.messages or [])[:MAX_KEPT_MESSAGES]
    )


def judge_check(reply: Reply) -> str | None:
    """Why the check's reply rejects the proof (errors, sorry), or None when it elaborated cleanly."""
    if not isinstance(reply, CommandReply):
        return f"Lean rejected the check: {getattr(reply, 'message', reply)}"
    errors = reply.errors()
    if errors:
        return f"error: {errors[0].data}"
    for message in reply.messages or []:
        if message.severity == "warning" and _USES_SORRY.search(message.data):
            return f"the proof relies on sorry: {message.data}"
    if reply.sorries:
        return "the proof leaves sorry goals"
    return None


def judge_audit(
    plan: CheckPlan, reply: Reply, expected_type: str, allowed_axioms: Sequence[str] = DEFAULT_AXIOMS
) -> Verdict:
    """Accept only when the audit shows allowed axioms and the benchmark's type for exactly ``plan.name``."""
    if not isinstance(reply, CommandReply):
        return Verdict(False, f"the axiom audit failed: {getattr(reply, 'message', reply)}", METHOD, "repl")
    if reply.errors():
        return Verdict(False, f"the axiom audit failed: {reply.errors()[0].data}", METHOD, "repl")
    axioms = _axioms_of(plan.name, reply)
    if axioms is None:
        return Verdict(False, f"no axiom report for {plan.name}: the theorem was not declared", METHOD, "repl")
    extra = [a for a in axioms if a not in allowed_axioms]
    if extra:
        return Verdict(False, f"the proof depends on disallowed axioms: {', '.join(extra)}", METHOD, "repl")
    printed = _printed_type(reply, after_line=2)
    if printed is None or _normal(printed) != _normal(expected_type):
        return Verdict(False, "the proved constant's type differs from the benchmark statement's", METHOD, "repl")
    return Verdict(True, f"axioms: {', '.join(axioms) or 'none'}", METHOD, "repl")


def _axioms_of(name: str, reply: CommandReply) -> list[str] | None:
    """The axiom list of the ``#print axioms`` on line 1, for exactly ``name``."""
    for message in _info_messages(reply):
        if message.pos.line != 1:
            continue
        text = " ".join(message.data.split())
        found = _AXIOMS.match(text)
        if found and found.group("name") == name:
            return [a.strip() for a in found.group("axioms").split(",") if a.strip()]
        none = _NO_AXIOMS.match(text)
        if none and none.group("name") == name:
            return []
    return None


def _printed_type(reply: CommandReply, after_line: int) -> str | None:
    printed = [m.data for m in _info_messages(reply) if m.pos.line > after_line]
    return printed[0] if len(printed) == 1 else None


def _info_messages(reply: CommandReply) -> list[Message]:
    return [m for m in reply.messages or [] if m.severity == "info"]


def _normal(text: str) -> str:
    return " ".join(text.split())
