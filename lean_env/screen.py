"""Which model-written Lean text never reaches Lean: the one screen, used by every Lean backend.

The screen reads the text with ``lean_env.lexer`` (so comments and strings
cannot hide anything, and nothing in them is refused) and refuses:

- command tokens at any indentation: Lean commands are not column-sensitive, so an
  indented ``theorem``, ``namespace`` or ``end`` ends the ``by`` block and starts a
  command of the proof's choosing; every ``#word`` (``#eval``, ``#print``, ``#exit``);
  attributes ``@[...]`` and doc comments, which also start commands;
- identifiers that reach meta code or the compiler instead of the kernel, matched on
  every component of a qualified name (``_root_.Lean.Elab.x``, ``Lean.ofReduceBool``,
  ``IO.Process.spawn``), and keywords that run code (``by_elab``, ``run_tac``);
- ``sorry`` and its aliases (a give-up, not a proof);
- text the lexer cannot read the way every Lean version does (raw strings,
  unterminated comments or literals).

It is a word screen over a faithful lexer, not a wall: the verifier's axiom audit and
statement comparison, the kernel replay (``--verify kernel``) and the sandbox are
what hold when a new trick gets past it (docs/soundness.md).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Literal

from lean_env.lexer import Kind, Token, tokenize
from search import Failed, GaveUp

RefusalKind = Literal["gave_up", "command", "forbidden", "unreadable"]


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a text may not reach Lean: the offending token and the reason in words."""

    kind: RefusalKind
    token: str
    reason: str

    def __str__(self) -> str:
        return f"{self.token!r}: {self.reason}"


GIVE_UP: dict[str, str] = {
    "sorry": "sorry proves nothing",
    "admit": "admit is sorry",
    "stop": "stop discards the rest of the proof with sorry",
    "sorryAx": "sorryAx is the axiom behind sorry",
}

# Keywords that start a command (core Lean 4, Batteries, Mathlib, Aesop). Any of them in a
# proof ends the tactic block; what follows would run as a command of its own.
COMMAND_KEYWORDS: frozenset[str] = frozenset(
    """
    theorem lemma def example abbrev instance structure class inductive coinductive axiom axioms
    opaque namespace section end open export variable variables universe universes import prelude
    mutual deriving private protected noncomputable partial nonrec unsafe set_option attribute
    macro macro_rules syntax elab elab_rules notation notation3 infix infixl infixr prefix postfix
    declare_syntax_cat binder_predicate initialize builtin_initialize register_option
    register_builtin_option register_simp_attr register_label_attr register_tactic_tag simproc
    dsimproc simproc_decl dsimproc_decl builtin_simproc builtin_dsimproc add_decl_doc omit include
    unseal seal irreducible_def alias assert_not_exists assert_not_imported library_note
    initialize_simps_projections suppress_compilation unsuppress_compilation compile_inductive
    proof_wanted recall run_cmd run_elab run_meta local scoped where add_aesop_rules
    declare_aesop_rule_sets erase_aesop_rules declare_config_elab declare_simp_like_tactic
    mk_iff_of_inductive_prop lean_exe lean_lib package require builtin_initialize gen_injective_theorems
    declare_command_config_elab elab_stx_quot grind_pattern init_grind_norm show_panel_widgets
    recommended_spelling public meta module unif_hint variable? sudo extend_docs register_hint init_quot
    tactic_extension count_heartbeats whatsnew
    """.split()  # noqa: SIM905 (a word list reads best as words)
)

# Identifiers (any component of a qualified name) and keywords that reach meta code, the
# compiler or the outside world instead of the kernel.
FORBIDDEN: dict[str, str] = {
    "Lean": "the Lean namespace is the meta level (elaborators, environments, addDecl)",
    "Elab": "elaborators run arbitrary meta code",
    "Meta": "meta code",
    "Tactic": "tactic implementations are meta code",
    "Qq": "quoted meta code",
    "MetaM": "meta code",
    "TermElabM": "meta code",
    "TacticM": "meta code",
    "CommandElabM": "meta code",
    "CoreM": "meta code",
    "IO": "IO runs code outside Lean's logic (files, processes, network)",
    "EIO": "IO runs code outside Lean's logic",
    "BaseIO": "IO runs code outside Lean's logic",
    "unsafeIO": "unsafe IO",
    "unsafeBaseIO": "unsafe IO",
    "unsafeEIO": "unsafe IO",
    "System": "System reaches files and processes",
    "Environment": "environment manipulation bypasses the kernel",
    "addDecl": "adds declarations from meta code",
    "addAndCompile": "adds declarations from meta code",
    "evalExpr": "evaluates code with the compiler",
    "evalTactic": "runs tactic code from a term",
    "by_elab": "by_elab runs arbitrary meta code",
    "run_tac": "run_tac runs arbitrary meta code",
    "run_elab": "runs arbitrary meta code",
    "run_meta": "runs arbitrary meta code",
    "native_decide": "native_decide trusts the compiler (Lean.ofReduceBool)",
    "native": "native evaluation trusts the compiler (decide +native)",
    "ofReduceBool": "trusts the compiler",
    "ofReduceNat": "trusts the compiler",
    "reduceBool": "trusts the compiler",
    "reduceNat": "trusts the compiler",
    "trustCompiler": "trusts the compiler",
    "implemented_by": "replaces a definition's code outside the kernel",
    "extern": "replaces a definition's code outside the kernel",
    "unsafe": "unsafe code is not checked by the kernel",
    "unsafeCast": "unsafe code is not checked by the kernel",
    "simproc": "simprocs are meta code",
    "dsimproc": "simprocs are meta code",
    "csimp": "replaces code outside the kernel",
    "debug": "debug options switch off checks (debug.skipKernelTC)",
}

_SCREEN_MEMO_BYTES = 1 << 22  # models repeat tactics; the memo is bounded by the text it holds
_memo: OrderedDict[str, Refusal | None] = OrderedDict()
_memo_bytes = 0


def _token_refusal(token: Token, tokens: list[Token], index: int) -> Refusal | None:
    kind = token.kind
    if kind is Kind.UNSURE:
        return Refusal("unreadable", token.text, f"cannot be screened: {token.text}")
    if kind is Kind.HASH:
        return Refusal("command", token.text, "a #command ends the proof and runs as a command")
    if kind is Kind.DOC_COMMENT:
        return Refusal("command", token.text, "a doc comment ends the proof and starts a command")
    if kind is Kind.QUOTATION:
        return Refusal("forbidden", token.text, "syntax quotations are meta code")
    if kind is Kind.SYMBOL and token.text == "@" and index + 1 < len(tokens) and tokens[index + 1].text == "[":
        return Refusal("command", "@[", "an attribute starts a command")
    if kind not in (Kind.IDENT, Kind.NAME_LITERAL):
        return None
    for part in token.parts:
        if part in GIVE_UP:
            return Refusal("gave_up", part, GIVE_UP[part])
    if kind is Kind.IDENT and len(token.parts) == 1 and token.text in COMMAND_KEYWORDS:
        if token.text == "open" and _open_in(tokens, index):
            return None
        if token.text == "set_option" and _option_in(tokens, index):
            return None
        if token.text == "scoped" and index > 0 and tokens[index - 1].text == "open":
            return None
        return Refusal("command", token.text, "a command keyword ends the proof and starts a command")
    for part in token.parts:
        if part in FORBIDDEN:
            return Refusal("forbidden", part, FORBIDDEN[part])
    return None


_OPEN_SYMBOLS = frozenset({"(", ")", "→"})
_OPEN_WORDS = frozenset({"scoped", "hiding", "renaming"})


def _open_in(tokens: list[Token], index: int) -> bool:
    """``open A B in tac`` (also ``open scoped A in``, ``open A (x y) in``) is a tactic scoped to
    ``tac``; a bare ``open`` is a command."""
    for token in tokens[index + 1 :]:
        if token.kind is Kind.IDENT and token.text == "in":
            return True
        if token.kind is Kind.IDENT and (token.text not in COMMAND_KEYWORDS or token.text in _OPEN_WORDS):
            continue
        if token.kind is Kind.SYMBOL and token.text in _OPEN_SYMBOLS:
            continue
        return False
    return False


PROOF_OPTIONS: frozenset[str] = frozenset({"maxRecDepth", "synthInstance.maxSize"})
"""Options a proof may set for one tactic (`set_option maxRecDepth 10000 in tac`): limits that cannot be
switched off (`maxHeartbeats 0` would be unlimited); everything else a `set_option` can do is refused."""


def _option_in(tokens: list[Token], index: int) -> bool:
    """``set_option OPTION VALUE in tac`` with a resource option; every other ``set_option`` is refused."""
    rest = tokens[index + 1 : index + 4]
    return (
        len(rest) == 3
        and rest[0].kind is Kind.IDENT
        and rest[0].text in PROOF_OPTIONS
        and rest[1].kind is Kind.NUMBER
        and rest[2].text == "in"
    )


def _screen(text: str, allowed_sorries: frozenset[int] = frozenset()) -> Refusal | None:
    tokens = tokenize(text)
    for index, token in enumerate(tokens):
        if token.start in allowed_sorries and token.kind is Kind.IDENT and token.text == "sorry":
            continue
        refusal = _token_refusal(token, tokens, index)
        if refusal is not None:
            return refusal
    return None


def screen(text: str) -> Refusal | None:
    """Why ``text`` (a tactic, a proof body) may not reach Lean, or None when it may."""
    global _memo_bytes
    if text in _memo:
        _memo.move_to_end(text)
        return _memo[text]
    refusal = _screen(text)
    if len(text) <= _SCREEN_MEMO_BYTES // 64:
        _memo[text] = refusal
        _memo_bytes += len(text)
        while _memo_bytes > _SCREEN_MEMO_BYTES:
            old, _ = _memo.popitem(last=False)
            _memo_bytes -= len(old)
    return refusal


def screen_allowing_sorries(text: str, offsets: frozenset[int]) -> Refusal | None:
    """``screen`` for a sketch: the ``sorry`` tokens starting at ``offsets`` (its gap markers, found by
    ``lean_env.sketch``) pass; every other token, any other ``sorry`` included, is screened as usual."""
    return _screen(text, offsets)


def screened_outcome(tactic: str) -> GaveUp | Failed | None:
    """The outcome of a tactic that must not run, without asking Lean; None when it may run."""
    refusal = screen(tactic)
    if refusal is None:
        return None
    if refusal.kind == "gave_up":
        return GaveUp(f"uses {refusal.token}")
    return Failed(f"refused before Lean: {refusal}")


# -- headers --------------------------------------------------------------------------------

HEADER_OPTIONS: frozenset[str] = frozenset({"maxHeartbeats", "maxRecDepth", "autoImplicit", "relaxedAutoImplicit"})
"""`set_option` names a header sent by a client may use (resource limits and implicit binders)."""


def screen_header(text: str) -> Refusal | None:
    """Why a client-sent header may not reach Lean: only ``import``, ``open`` and allowed ``set_option`` lines."""
    for number, line in enumerate(text.splitlines(), start=1):
        tokens = tokenize(line)
        if not tokens:
            continue
        if tokens[-1].kind is Kind.UNSURE:
            return Refusal("unreadable", line, f"line {number} cannot be screened: {tokens[-1].text}")
        head = tokens[0].text
        rest = tokens[1:]
        if head in ("import", "open"):
            # Module names are not code; an `open` of a meta namespace would shorten meta names.
            words = rest[1:] if head == "open" and rest and rest[0].text == "scoped" else rest  # `open scoped X`
            bad = next((t for t in words if t.kind is not Kind.IDENT or (head == "open" and _meta_name(t))), None)
            if bad is None and words:
                continue
        elif (
            head == "set_option"
            and len(rest) == 2
            and rest[0].text in HEADER_OPTIONS
            and (rest[1].kind is Kind.IDENT or _bounded_number(rest[1]))
        ):
            continue
        return Refusal(
            "command",
            line.strip(),
            f"header line {number} is not an `import`, `open` or allowed `set_option` "
            f"({', '.join(sorted(HEADER_OPTIONS))}) line",
        )
    return None


MAX_HEADER_OPTION = 10**9
"""A resource option in a client header is a positive number at most this: 0 switches the limit off."""


def _bounded_number(token: Token) -> bool:
    return token.kind is Kind.NUMBER and token.text.isdigit() and 0 < int(token.text) <= MAX_HEADER_OPTION


def _meta_name(token: Token) -> bool:
    return any(part in FORBIDDEN or part in COMMAND_KEYWORDS for part in token.parts)
