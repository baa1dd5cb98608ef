"""Isabelle's outer lexical syntax (isar-ref "Lexical matters", Pure/Isar/token.ML) and the screen on it."""

from __future__ import annotations

import pytest

from isabelle_env.lexer import LexError, significant, tokenize
from isabelle_env.replay import named_statement
from isabelle_env.screen import is_gap, same_statement, screen, screen_step


def kinds(text: str) -> list[tuple[str, str]]:
    return [(t.kind, t.text) for t in significant(text)]


def test_comments_nest_and_ignore_quotes_inside():
    assert kinds('(* a (* b *) " c *) sorry') == [("word", "sorry")]
    assert kinds("(* (* *) sorry *)") == []  # still inside the outer comment


def test_strings_cartouches_and_comments_hide_each_others_delimiters():
    # A naive comment regex would hide `sorry` between the `(*` in a string and a later `*)`.
    assert kinds('have "a (* b" sorry (* c *)') == [("word", "have"), ("string", '"a (* b"'), ("word", "sorry")]
    assert kinds("using \\<open>x (* \\<close> sorry (* *)") == [
        ("word", "using"),
        ("cartouche", "\\<open>x (* \\<close>"),
        ("word", "sorry"),
    ]
    nested = "\\<open>a \\<open>b\\<close> sorry\\<close>"
    assert kinds(nested) == [("cartouche", nested)]
    assert kinds('`a " b` "c \\" d" {* e " *}') == [
        ("altstring", '`a " b`'),
        ("string", '"c \\" d"'),
        ("verbatim", '{* e " *}'),
    ]


def test_formal_comments_need_their_cartouche():
    assert kinds("\\<comment> \\<open>sorry\\<close> by simp") == [("word", "by"), ("word", "simp")]
    assert kinds("\\<^marker>\\<open>tag sorry\\<close>by simp") == [("word", "by"), ("word", "simp")]
    with pytest.raises(LexError, match="cartouche expected"):
        tokenize("\\<comment> sorry")
    with pytest.raises(LexError, match="cartouche expected"):
        tokenize("\\<^marker> \\<open>x\\<close>")  # a marker takes no blanks before its cartouche


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("(* open", "unterminated comment"),
        ('"open', "unterminated string"),
        ("\\<open> open", "unterminated cartouche"),
        ('"bad \\q escape"', "bad escape"),
        ("by \\<foo", "malformed symbol"),
    ],
)
def test_what_isabelle_rejects_is_a_lex_error(text, error):
    with pytest.raises(LexError, match=error):
        tokenize(text)


def test_words_are_ascii_identifiers_and_symbols_stand_alone():
    assert kinds("Skip_Proof.cheat_tac x\\<^sub>1 \\<proof>") == [
        ("word", "Skip_Proof.cheat_tac"),
        ("word", "x"),
        ("symbol", "\\<^sub>"),
        ("other", "1"),
        ("symbol", "\\<proof>"),
    ]


@pytest.mark.parametrize(
    ("text", "word"),
    [
        ("sorry", "sorry"),
        ("by simp\n  sorry", "sorry"),
        ("oops", "oops"),
        ("by (tactic \\<open>all_tac\\<close>)", "tactic"),
        ("by (rule Skip_Proof.cheat_tac)", "Skip_Proof.cheat_tac"),
        ('by ("tactic" \\<open>all_tac\\<close>)', '"tactic"'),  # Isabelle takes a quoted method name
        ("ML_val \\<open>1\\<close>", "ML_val"),
        ("SML_file foo.sml", "SML_file"),
        ("using [[quick_and_dirty]] by simp", "quick_and_dirty"),
        ("lemma other: True by simp", "lemma"),
        ('definition c where "c = 1"', "definition"),
        ("print_facts", "print_facts"),
        ("2sorry", "sorry"),  # a number, then the command
        ("sorry\\<^sub>1", "sorry"),  # Isabelle reads one identifier here; counting the word is the safe side
        ("\\<proof>", "\\<proof>"),
        ("\\<^marker>\\<open>tag important\\<close>sorry", "sorry"),  # the marker ends at its cartouche
        ("\\<comment>\\<open>fine\\<close>\\<proof>", "\\<proof>"),
        ("by simp …", "…"),
    ],
)
def test_the_screen_refuses_forbidden_words_outside_quotes_and_comments(text, word):
    refusal = screen(text)
    assert refusal is not None and refusal.token == word


@pytest.mark.parametrize(
    "text",
    [
        'have "card {x. sorry_count x} = 1" by simp',
        "(* no sorry, no oops, no tactic here *) by simp",
        "\\<comment> \\<open>we will not use sorry\\<close> by simp",
        'have "oops = (1::nat)" using oops_def by simp',
        "by (simp add: sorry_free_def tactics_def)",
        "proof (induct n)",
        "by (rule class.intro)",  # a qualified name is no command
    ],
)
def test_the_screen_accepts_words_in_strings_comments_and_longer_names(text):
    assert screen(text) is None


def test_antiquotations_in_formal_comments_are_refused():
    assert screen("\\<comment> \\<open>@{ML \\<open>1\\<close>}\\<close> by simp") is not None
    assert screen("\\<comment> \\<open>\\<^ML>\\<open>1\\<close>\\<close> by simp") is not None
    assert screen("\\<comment> \\<open>x\\<^sub>1\\<close> by simp") is None


def test_gaps_and_the_statement_head_are_allowed_only_where_they_belong():
    assert screen("sledgehammer") is not None and screen("sledgehammer", gaps=frozenset({"sledgehammer"})) is None
    assert screen("theorem t: True\nby simp", statement_first=True) is None
    refusal = screen("theorem t: True\nby simp\ntheorem u: False", statement_first=True)
    assert refusal is not None and refusal.token == "theorem"
    assert is_gap("sledgehammer\n  (* the hammer *)", frozenset({"sledgehammer"}))
    assert not is_gap("using h0 sledgehammer", frozenset({"sledgehammer"}))


def test_a_step_starts_with_a_proof_command():
    assert screen_step("then show ?thesis") is None
    refusal = screen_step("foo bar")
    assert refusal is not None and "is not a proof command" in refusal.reason


def test_statements_compare_blind_to_layout_and_comments():
    a = 'theorem t:\n  fixes x :: real\n  assumes h0: "2 * x = 4"\n  shows "x = 2"'
    assert same_statement(a, 'theorem t: fixes x :: real (* x *) assumes h0: "2 * x = 4" shows "x = 2"')
    assert not same_statement(a, a + ' if "False"')
    assert not same_statement(a, a.replace("x = 2", "x = 3"))


def test_a_statement_without_a_name_gets_one_to_look_it_up_by():
    assert named_statement('theorem t: "True"') == ("t", 'theorem t: "True"')
    assert named_statement('lemma foo [simp]: "True"')[0] == "foo"
    assert named_statement('lemma "True"') == ("llemma_checked", 'lemma llemma_checked: "True"')


def test_every_minif2f_statement_passes_the_screen(shared_data):
    from prover.benchmarks import load_benchmark

    theorems = load_benchmark(str(shared_data / "minif2f" / "isabelle"), language="isabelle").theorems
    assert len(theorems) == 488
    refused = {t.name: str(screen(t.statement, statement_first=True)) for t in theorems}
    assert {name: why for name, why in refused.items() if why != "None"} == {}
    assert all(named_statement(t.statement)[0] == t.name for t in theorems)
