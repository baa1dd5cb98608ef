"""Isabelle2022's outer-syntax keywords that the screen needs, by what they do (Pure.thy, HOL, Main).

A proof step may start only with a proof command (Pure.thy keyword kinds ``prf_*``,
``qed*``, ``next_block``); every other command keyword is a theory-level command or a
diagnostic, and some names are dangerous wherever they appear.
"""

from __future__ import annotations

import re

GOAL_COMMANDS = ("theorem", "lemma", "corollary", "proposition", "schematic_goal")
SKIPS = "skips the proof"
ABANDONS = "abandons the proof (oops): the proof level returns to 0 with nothing proved"
RUNS_ML = "runs ML code, which can prove anything"
ML_METHOD = "a proof method that runs ML code, which can close any goal"
CHEATS = "switches on or names Isabelle's proof-skipping machinery"
AXIOMS = "adds constants or axioms to the logic"
DECLARES = "changes the theory's declarations or syntax"
NEW_GOAL = "starts another theorem or definition at the theory level"
CONTEXT = "opens or closes a theory or a context"
DOCUMENT = "document text, whose antiquotations can run ML"
DIAGNOSTIC = "a diagnostic command: it proves nothing"

# Dangerous on any dotted part of a name, and as the whole content of a quoted name.
ANYWHERE: dict[str, str] = {
    "sorry": SKIPS,
    "oops": ABANDONS,
    "tactic": ML_METHOD,
    "raw_tactic": ML_METHOD,
    "quick_and_dirty": CHEATS,
    "skip_proof": CHEATS,
    "skip_proofs": CHEATS,
    "Skip_Proof": CHEATS,
    "cheat_tac": CHEATS,
    "smt_oracle": CHEATS,
    "method_setup": RUNS_ML,
    "attribute_setup": RUNS_ML,
    "setup": RUNS_ML,
    "local_setup": RUNS_ML,
    "declaration": RUNS_ML,
    "syntax_declaration": RUNS_ML,
    "simproc_setup": RUNS_ML,
    "oracle": RUNS_ML,
    "parse_ast_translation": RUNS_ML,
    "parse_translation": RUNS_ML,
    "print_translation": RUNS_ML,
    "typed_print_translation": RUNS_ML,
    "print_ast_translation": RUNS_ML,
    "axiomatization": AXIOMS,
    "axioms": AXIOMS,
}
ML_COMMAND = re.compile(r"S?ML(?:_\w+)?")

# Isabelle2022 commands (Pure, HOL and the libraries miniF2F imports) that are not proof steps.
COMMANDS: dict[str, str] = {
    **dict.fromkeys(("consts", "judgment", "typedecl", "nonterminal"), AXIOMS),
    **dict.fromkeys(
        [
            "declare",
            "lemmas",
            "named_theorems",
            "notation",
            "no_notation",
            "type_notation",
            "no_type_notation",
            "syntax",
            "no_syntax",
            "translations",
            "no_translations",
            "abbreviation",
            "bundle",
            "unbundle",
            "hide_class",
            "hide_type",
            "hide_const",
            "hide_fact",
            "default_sort",
            "type_synonym",
            "code_datatype",
            "code_printing",
            "code_identifier",
            "code_reserved",
            "code_reflect",
            "code_monad",
            "code_pred",
            "export_code",
            "realizers",
            "realizability",
            "extract_type",
            "extract",
            "lifting_update",
            "lifting_forget",
        ],
        DECLARES,
    ),
    **dict.fromkeys(
        [
            "theorem",
            "lemma",
            "corollary",
            "proposition",
            "schematic_goal",
            "instance",
            "interpretation",
            "global_interpretation",
            "sublocale",
            "subclass",
            "instantiation",
            "termination",
            "function",
            "typedef",
            "specification",
            "lift_definition",
            "quotient_type",
            "quotient_definition",
            "setup_lifting",
            "definition",
            "fun",
            "primrec",
            "datatype",
            "codatatype",
            "inductive",
            "coinductive",
            "inductive_set",
            "coinductive_set",
            "inductive_cases",
            "inductive_simps",
            "record",
            "partial_function",
            "primcorec",
            "corec",
            "corecursive",
            "free_constructors",
            "overloading",
        ],
        NEW_GOAL,
    ),
    **dict.fromkeys(["theory", "end", "begin", "context", "locale", "class", "experiment", "notepad"], CONTEXT),
    **dict.fromkeys(
        ["text", "txt", "text_raw", "chapter", "section", "subsection", "subsubsection", "paragraph", "subparagraph"],
        DOCUMENT,
    ),
    **dict.fromkeys(
        [
            "sledgehammer",
            "nitpick",
            "nunchaku",
            "quickcheck",
            "try",
            "try0",
            "solve_direct",
            "value",
            "term",
            "prop",
            "typ",
            "thm",
            "prf",
            "full_prf",
            "find_theorems",
            "find_consts",
            "help",
            "welcome",
            "thy_deps",
            "locale_deps",
            "class_deps",
            "thm_deps",
            "unused_thms",
            "print_state",
            "display_drafts",
            "sledgehammer_params",
            "nitpick_params",
            "quickcheck_params",
            "approximate",
        ],
        DIAGNOSTIC,
    ),
}
PRINT_COMMAND = re.compile(r"print_\w+")

# Proof commands (Isabelle2022 Pure.thy kinds prf_*, qed*, next_block): what a step may start with.
PROOF_COMMANDS = frozenset(
    [
        "have",
        "hence",
        "show",
        "thus",
        "then",
        "from",
        "with",
        "note",
        "supply",
        "using",
        "unfolding",
        "fix",
        "assume",
        "presume",
        "define",
        "def",
        "consider",
        "obtain",
        "guess",
        "let",
        "write",
        "case",
        "next",
        "qed",
        "by",
        "done",
        "defer",
        "prefer",
        "apply",
        "apply_end",
        "subgoal",
        "proof",
        "also",
        "moreover",
        "finally",
        "ultimately",
        "back",
        "include",
        "including",
        "interpret",
    ]
) | {"{", "}", ".", ".."}

# Isabelle's layout controls in identifiers and terms; any other control symbol is an antiquotation.
LAYOUT_CONTROLS = {"\\<^sub>", "\\<^sup>", "\\<^isub>", "\\<^isup>", "\\<^bold>", "\\<^bsub>", "\\<^esub>", "\\<^bsup>"}
LAYOUT_CONTROLS |= {"\\<^esup>", "\\<^noindent>", "\\<^smallskip>", "\\<^medskip>", "\\<^bigskip>"}
