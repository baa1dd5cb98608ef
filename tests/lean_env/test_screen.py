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
    assert kinds("#[1] #s")[:2] == [("symbol", "#"), ("symbol", "[")]


def test_interpolated_strings_are_code_inside_braces():
    assert ("hash", "#eval") in kinds('s!"{ #eval }"')
    assert ("ident", "IO.println") in kinds('throwError "{IO.println 1}"')
    assert ("hash", "#eval") not in kinds('"{ #eval }"')  # a plain string: no code inside


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
