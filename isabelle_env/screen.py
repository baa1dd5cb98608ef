"""The one screen of model-written Isabelle text, before any of it reaches Isabelle.

Model text is a proof: proof commands only (Isabelle2022's Pure.thy keyword kinds
``prf_*``, ``qed*``, ``next_block``), each with methods that cannot run ML. Refused,
wherever they stand outside quotes and comments:

- commands that skip or abandon a proof: ``sorry``, ``\\<proof>`` (Pure.thy declares it
  with ``sorry`` as a terminal proof), ``oops`` (back to proof level 0 with nothing proved);
- anything that runs ML, which can prove anything: every ``ML*``/``SML*`` command,
  ``setup``, ``local_setup``, ``method_setup``, ``attribute_setup``, ``declaration``,
  ``simproc_setup``, ``oracle``, the translation commands, and the methods ``tactic`` and
  ``raw_tactic`` (e.g. ``Skip_Proof.cheat_tac``);
- switches and names of the proof-skipping machinery: ``quick_and_dirty``,
  ``skip_proof(s)``, ``Skip_Proof``, ``cheat_tac``, ``smt_oracle``;
- every theory-level command: ``axiomatization``, ``consts``, ``declare``, ``lemmas``,
  ``notation``, a second ``theorem``/``lemma``, ``definition``/``fun`` (a proof defines with
  ``define``), ``theory``/``end``, document text (its antiquotations run ML), diagnostics.

A word counts on every dotted part (``Skip_Proof.cheat_tac``) and also when it is the whole
content of a string or cartouche, since Isabelle accepts a quoted name as a method name
(``by ("tactic" ...)``). Words inside comments, and inside strings that are terms, are free.
Non-ASCII text outside quotes is refused: Isabelle could read it as a symbol such as
``\\<proof>``. Formal comments may not hold antiquotations (``@{ML ...}``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from isabelle_env.keywords import (
    ANYWHERE,
    COMMANDS,
    DIAGNOSTIC,
    GOAL_COMMANDS,
    LAYOUT_CONTROLS,
    ML_COMMAND,
    PRINT_COMMAND,
    PROOF_COMMANDS,
    RUNS_ML,
    SKIPS,
)
from isabelle_env.lexer import IGNORED, LexError, Token, normalised, significant, tokenize


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why model text may not run: the offending token and the reason."""

    token: str
    reason: str

    def __str__(self) -> str:
        return f"{self.token!r} {self.reason}"


def _word_reason(word: str) -> str | None:
    for part in word.split("."):
        if part in ANYWHERE:
            return ANYWHERE[part]
        if ML_COMMAND.fullmatch(part):
            return RUNS_ML
    if word in COMMANDS:
        return COMMANDS[word]
    if PRINT_COMMAND.fullmatch(word):
        return DIAGNOSTIC
    return None


def _token_refusal(token: Token, gaps: frozenset[str]) -> Refusal | None:
    if token.kind == "word":
        if token.text in gaps:
            return None
        reason = _word_reason(token.text)
        return None if reason is None else Refusal(token.text, reason)
    if token.kind == "symbol" and token.text == "\\<proof>":
        return Refusal(token.text, f"{SKIPS} (Isabelle's alias of sorry)")
    if token.kind == "nonascii":
        return Refusal(token.text, "non-ASCII text outside quotes: Isabelle may read it as a symbol; write \\<name>")
    if token.kind in ("string", "altstring", "cartouche", "verbatim"):
        name = token.content.strip()
        reason = _word_reason(name) if re.fullmatch(r"[A-Za-z][\w'.]*", name) else None
        return None if reason is None else Refusal(token.text, f"{reason} (a name may be given quoted)")
    if token.kind == "formal_comment" and ("@{" in token.text or _antiquotation(token.text)):
        return Refusal(token.text[:60], "an antiquotation in a formal comment can run ML")
    return None


def _antiquotation(text: str) -> bool:
    controls = re.findall(r"\\<\^[A-Za-z]\w*>", text)
    return any(c not in LAYOUT_CONTROLS and c not in ("\\<^marker>", "\\<^cancel>", "\\<^latex>") for c in controls)


def screen(text: str, *, gaps: frozenset[str] = frozenset(), statement_first: bool = False) -> Refusal | None:
    """The first reason ``text`` may not run, or None.

    ``gaps``: words allowed as DSP gaps. ``statement_first``: the text opens with a theorem
    statement (a sketch), whose keyword is allowed there and only there; the caller then
    checks that Isabelle's first command is exactly the benchmark statement.
    """
    try:
        tokens = tokenize(text)
    except LexError as error:
        return Refusal(text[error.position : error.position + 40], f"Isabelle's lexer rejects it: {error}")
    first = next((t for t in tokens if t.kind not in IGNORED), None)
    for token in tokens:
        if statement_first and token is first and token.text in GOAL_COMMANDS:
            continue
        refusal = _token_refusal(token, gaps)
        if refusal is not None:
            return refusal
    return None


def screen_step(step: str, *, gaps: frozenset[str] = frozenset()) -> Refusal | None:
    """``screen``, and the step must start with a proof command (or be a gap)."""
    refusal = screen(step, gaps=gaps)
    if refusal is not None:
        return refusal
    tokens = significant(step)
    if not tokens or tokens[0].text in gaps:
        return None
    head = tokens[0].text
    if head not in PROOF_COMMANDS:
        return Refusal(head, "is not a proof command: a proof step starts with have, show, by, apply, proof, ...")
    return None


def is_gap(step: str, gaps: frozenset[str]) -> bool:
    """Whether a step is nothing but a gap word (comments and layout aside)."""
    try:
        words = normalised(step)
    except LexError:
        return False
    return len(words) == 1 and words[0] in gaps


def statement_of(text: str) -> str:
    """A theorem's statement alone: its text up to the first proof command (``sorry``, ``by``, ...)."""
    try:
        tokens = significant(text)
    except LexError:
        return text.rstrip()  # Isabelle will say what is wrong with it
    for token in tokens[1:]:
        if token.text in PROOF_COMMANDS or token.text in ("sorry", "oops", "\\<proof>", "end"):
            return text[: token.start].rstrip()
    return text.rstrip()


def same_statement(a: str, b: str) -> bool:
    """Two statements that Isabelle reads alike: equal up to layout and comments."""
    try:
        return normalised(a) == normalised(b)
    except LexError:
        return False
