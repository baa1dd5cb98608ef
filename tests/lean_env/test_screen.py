"""The Lean lexer reads text the way Lean's tokenizer does; the screen refuses by token, never by substring."""

from __future__ import annotations

import pytest

from lean_env.lexer import Kind, tokenize
from lean_env.screen import screen, screen_header


def kinds(text: str) -> list[tuple[str, str]]:
    return [(t.kind.value, t.text) for t in tokenize(text)]


def test_block_comments_nest_and_step_over_the_character_after_the_opener():
    assert kinds("/- a /- b -/ c -/ d") == [("ident", "d")]
    # Lean's whitespace skips the character after `/-` unexamined: `/-/-` opens ONE comment
    assert kinds("/-/- -/ e") == [("ident", "e")]
    assert kinds("/-- doc -/")[0] == ("doc_comment", "/--")
    assert kinds("/-! module doc -/")[0] == ("doc_comment", "/-!")


def test_strings_chars_and_names_hide_nothing_and_show_nothing_extra():
    assert kinds('"a \\" #eval" x') == [("string", '"a \\" #eval"'), ("ident", "x")]
    assert kinds("'\"' y") == [("char", "'\"'"), ("ident", "y")]  # a char literal holding a quote
    assert kinds("h' h₁ x!") == [("ident", "h'"), ("ident", "h₁"), ("ident", "x!")]
    assert tokenize("Lean.«Elab».x")[0].parts == ("Lean", "Elab", "x")
    assert kinds("#[1] #s") == [("symbol", "#"), ("symbol", "["), ("number", "1"), ("symbol", "]"), ("hash", "#s")]


def test_a_string_with_a_brace_is_unsure_because_lean_may_interpolate_it():
    # `dbg_trace`, `println!`, `throwErrorAt h`, `trace[x]`, `s!` read their string as interpolated
    for text in ['s!"{ #eval }"', 'dbg_trace "{x}"', 'println! "{x}"', '"{ " #eval "}"']:
        assert tokenize(text)[-1].kind is Kind.UNSURE, text
    assert kinds('"no braces here"') == [("string", '"no braces here"')]


def test_numbers_and_letters_follow_lean_not_python():
    assert kinds("0theorem") == [("number", "0"), ("ident", "theorem")]  # decimalNumberFn stops at `t`
    assert kinds("λtheorem") == [("symbol", "λ"), ("ident", "theorem")]  # λ is not letter-like
    assert kinds("x¹y")[:2] == [("ident", "x"), ("symbol", "¹")]  # superscripts are not identifier characters
    assert kinds("0x1F 2.5e-3 0b101") == [("number", "0x1F"), ("number", "2.5e-3"), ("number", "0b101")]
    assert tokenize("0xnamespace")[-1].kind is Kind.UNSURE


def test_comment_openers_and_quotes_glued_to_a_symbol_are_unsure():
    # `//` and `<-` are tokens: Lean reads no comment in `//-n` or `<--h`
    for text in ["{ n : ℤ //-n = 0 }", "rw [<--h]", "f ''\" x"]:
        assert tokenize(text)[-1].kind is Kind.UNSURE, text
    assert kinds("f '' s")[1:3] == [("symbol", "'"), ("symbol", "'")]  # Mathlib's image notation
    assert ("symbol", "'") in kinds("f ⁻¹' {0}")


@pytest.mark.parametrize("text", ['"\\q"', '"\\xZZ"', '"\\\n\\n"', "'\\q'", '"\\u12"', "\tomega"])
def test_escapes_gaps_and_tabs_lean_would_reject_are_unsure(text):
    assert tokenize(text)[-1].kind is Kind.UNSURE, text


def test_escapes_lean_accepts_are_read():
    assert kinds('"a\\n\\t\\"\\x41\\u0041"') == [("string", '"a\\n\\t\\"\\x41\\u0041"')]
    assert kinds("'\\n'") == [("char", "'\\n'")]


@pytest.mark.parametrize("text", ['r"x"', 'r#"x"#', "/- never closed", '"never closed', "'ab'", "«never closed"])
def test_what_lean_versions_read_differently_or_malformed_text_is_unsure(text):
    assert tokenize(text)[-1].kind is Kind.UNSURE
    assert screen(text) is not None and screen(text).kind == "unreadable"


@pytest.mark.parametrize(
    "tactic",
    [
        "simp [Nat.add_comm]",
        "nlinarith [sq_nonneg (a - b), sq_nonneg (a + b), h₀]",
        "exact Nat.sorry_lemma",  # `sorry` inside a longer name is not sorry
        "norm_num [Finset.sum_range_succ] -- sorry, #eval and theorem in a comment",
        "exact h.theorem_like",
        "rw [show (2 : ℝ) = 1 + 1 by norm_num]",
        "open Real in norm_num",
        "induction n with\n| zero => simp\n| succ n ih => omega",
        "interval_cases x <;> simp_all",
        'exact (by simpa using h : "sorry".length = 5)',
        "decide",
        "exact?",
        "have : f '' s = t := by simp",
        "have : f ⁻¹' {0} = ∅ := by simp",
        "have : ∑' n : ℕ, (0:ℝ) = 0 := by simp",
        "set_option maxRecDepth 10000 in\nnorm_num",
        "open scoped BigOperators in\nsimp",
        "open Finset (card) in\nsimp",
        "nlinarith [sq_nonneg (a - b), sq_nonneg (a + b), mul_pos ha hb]",
        "norm_num [Nat.Prime] at h ⊢",
        "rcases h with ⟨x, rfl⟩",
        "by_contra! h\npush_cast at h\nlinarith [h₀.1]",
        "calc a = b := by ring\n  _ = c := by simp",
        "exact fun ⟨a, b⟩ => ⟨b, a⟩",
        "show (2 : ℝ) ≤ 3 from by norm_num",
        "exact (Nat.ModEq.refl 5)",
        "positivity",
        "gcongr",
    ],
)
def test_ordinary_tactics_pass(tactic):
    assert screen(tactic) is None, screen(tactic)


@pytest.mark.parametrize(
    ("text", "token"),
    [
        ("omega\n    theorem x : True := trivial", "theorem"),
        ("omega\nend", "end"),
        ("open Lean", "open"),  # a bare `open` is a command; `open X in` is a tactic
        ("exact Nat.Lean.x", "Lean"),  # any component of a qualified name
        ("exact _root_.IO.println", "IO"),
        ("exact `Lean.Meta", "Lean"),  # name literals too
        ("exact Nat.sorry", "sorry"),
        ("have : #s = 3 := by simp", "#s"),  # Mathlib's `#s` (Finset.card) is refused with the #commands
        ("set_option maxHeartbeats 0 in simp", "set_option"),  # 0 switches the limit off
        ("set_option debug.skipKernelTC true in exact h", "set_option"),
        ("omega\nunif_hint (n : ℕ) where ⊢ n =?= n", "unif_hint"),
        ("omega\nvariable? [Foo α]", "variable?"),
    ],
)
def test_refusals_name_the_token(text, token):
    refusal = screen(text)
    assert refusal is not None and refusal.token == token, refusal


def test_the_screen_memo_is_bounded_by_bytes():
    from lean_env import screen as module

    for index in range(300):
        screen("exact h" + "x" * 50_000 + str(index))
    assert module._memo_bytes <= module._SCREEN_MEMO_BYTES


@pytest.mark.parametrize(
    "header",
    ["import Mathlib\nimport Aesop\nset_option maxHeartbeats 400000\nopen BigOperators Real Nat Topology\n", ""],
)
def test_ordinary_headers_pass(header):
    assert screen_header(header) is None


@pytest.mark.parametrize(
    "header",
    [
        'import Mathlib\n#eval IO.println "x"',
        "import Mathlib\nset_option debug.skipKernelTC true",
        "import Mathlib\ntheorem x : True := trivial",
        "open Lean Elab",
        "import Mathlib /- hidden",
    ],
)
def test_headers_with_anything_else_are_refused_naming_the_line(header):
    refusal = screen_header(header)
    assert refusal is not None, header
    assert refusal.kind in ("command", "unreadable")
    line = next(n for n, text in enumerate(header.splitlines(), 1) if text.strip() == refusal.token.strip())
    assert f"line {line}" in refusal.reason


def test_a_final_round_of_reads_that_must_match_lean():
    # «» takes anything up to », newlines included: one identifier, as in Lean (nothing runs)
    assert kinds("exact «a\n#eval»") == [("ident", "exact"), ("ident", "«a\n#eval»")]
    # inside a block comment `/--` opens a nested comment (Lean's finishCommentBlock): all comment
    assert kinds("/- /-- -/ #eval 1 -/\nomega") == [("ident", "omega")]
    # a comment or a #command right after a literal or a name is still seen
    for text in ["exact 'a'--\n#eval 1", 'exact "a"--\n#eval 1', "exact `x--\n#eval 1", "omega\r#eval 1"]:
        assert screen(text) is not None and screen(text).token == "#eval", text
