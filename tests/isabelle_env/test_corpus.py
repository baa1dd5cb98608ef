"""The Isabelle share of the adversarial corpus: proofs of a FALSE statement that a cheating prover would write.

Each case is a whole sketch (the benchmark statement, then the model's text; in a few the
model rewrote the statement). ``isabelle`` is what Isabelle, through PISA, does with it
when nothing screens it, from Isabelle2022's sources (Pure.thy, skip_proof.ML, toplevel)
and PISA's (PisaOneStage.scala): ``proved`` (proof level 0 and a theorem of the
statement's name stored, which is all the old checker asked), ``level 0`` (level 0 with no
such theorem), ``open`` (runs without error, goals remain). The stand-in is asserted to
model exactly that, and then the sketch checker and the step environment's verify must
refuse the case with its reason. Honest proofs, forbidden words in comments and strings
included, still pass.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from isabelle_env.client import PisaError, PisaStepError
from isabelle_env.replay import open_theory
from prover.dsp import DSPConfig
from search import Theorem
from tests.isabelle_env.conftest import SKETCH, STATEMENT_TEXT, env_on

FALSE = 'theorem f:\n  fixes x :: real\n  assumes h0: "2 * x = 4"\n  shows "x = 3"'
SHORT = 'theorem s: "(x::real) = 3"'
CHEAT = "Skip_Proof.cheat_tac (Config.put quick_and_dirty true \\<^context>) 1"
AXIOM = 'Thm.add_axiom_global (Binding.name "ax", \\<^prop>\\<open>False\\<close>)'
NOT_STATEMENT = "is the first command, and it is not the benchmark statement"
SCRIPT = {
    "works": {
        'theorem s: "(x::real) = 3" if "False"': ["by simp"],
        'theorem f: fixes x :: real assumes h0: "2 * x = 4" and h1: "False" shows "x = 3"': ["by simp"],
        'lemma f: "True"': ["by simp"],
    },
    "proves_instead": {"by odd_method": '"True"'},
}


@dataclass(frozen=True)
class Exploit:
    """A cheat, what unscreened Isabelle makes of it, and the reason it must be refused with."""

    name: str
    text: str
    isabelle: str
    refused: str
    level: str = "screen"
    statement: str = FALSE
    sketch_refused: str | None = None
    """Where the sketch checker answers differently (a `sorry` is a gap there, filled or failed)."""
    sketch_level: str | None = None
    steps_refused: str | None = None
    """Where the step environment, which always puts the statement first, meets another token first."""


CASES = [
    Exploit(
        "sorry",
        f"{FALSE}\nsorry",
        "proved",
        "'sorry' skips the proof",
        sketch_refused="gap(s) no heuristic",
        sketch_level="isabelle",
    ),
    Exploit("\\<proof>", f"{FALSE}\n\\<proof>", "proved", "'\\\\<proof>' skips the proof (Isabelle's alias of sorry)"),
    Exploit("oops", f"{FALSE}\noops", "level 0", "'oops' abandons the proof"),
    Exploit("tactic cheat_tac", f"{FALSE}\nby (tactic \\<open>{CHEAT}\\<close>)", "proved", "'tactic' a proof method"),
    Exploit("raw_tactic", f"{FALSE}\napply (raw_tactic \\<open>{CHEAT}\\<close>)\ndone", "proved", "'raw_tactic'"),
    Exploit(
        "quoted method name",
        f'{FALSE}\nby ("tactic" \\<open>{CHEAT}\\<close>)',
        "proved",
        "(a name may be given quoted)",
    ),
    Exploit(
        "using quick_and_dirty",
        f"{FALSE}\nusing [[quick_and_dirty]]\nby (tactic \\<open>Skip_Proof.cheat_tac \\<^context> 1\\<close>)",
        "proved",
        "'quick_and_dirty' switches on",
    ),
    Exploit(
        "method_setup",
        "method_setup cheat = \\<open>Scan.succeed (fn ctxt => SIMPLE_METHOD (Skip_Proof.cheat_tac ctxt 1))"
        f"\\<close>\n{FALSE}\nby cheat",
        "proved",
        "'method_setup' runs ML code",
    ),
    Exploit(
        "ML",
        f"ML \\<open>Context.>> (Context.map_theory (fn thy => snd ({AXIOM} thy)))\\<close>\n{FALSE}"
        "\nusing ax by blast",
        "proved",
        "'ML' runs ML code",
    ),
    Exploit(
        "ML_prf",
        f"{FALSE}\nproof -\n  ML_prf \\<open>val th = Skip_Proof.make_thm_cterm \\<^cprop>\\<open>False"
        "\\<close>\\<close>",
        "open",
        "'ML_prf' runs ML code",
    ),
    Exploit(
        "setup",
        f"setup \\<open>fn thy => snd ({AXIOM} thy)\\<close>\n{FALSE}\nusing ax by blast",
        "proved",
        "'setup' runs ML code",
    ),
    Exploit(
        "local_setup",
        f"local_setup \\<open>Local_Theory.background_theory (fn thy => snd ({AXIOM} thy))"
        f"\\<close>\n{FALSE}\nusing ax by blast",
        "proved",
        "'local_setup' runs ML code",
    ),
    Exploit(
        "declare quick_and_dirty",
        f"declare [[quick_and_dirty]]\n{FALSE}\nby (tactic \\<open>Skip_Proof.cheat_tac \\<^context> 1\\<close>)",
        "proved",
        "'declare' changes the theory's declarations",
    ),
    Exploit(
        "axiomatization",
        f'axiomatization where ax: "False"\n{FALSE}\nusing ax by blast',
        "proved",
        "'axiomatization' adds constants or axioms",
    ),
    Exploit(
        "consts and axioms",
        f'consts c :: bool\naxiomatization where c_ax: "c = False" and c_true: "c"\n{FALSE}\n'
        "using c_ax c_true by blast",
        "proved",
        "'consts' adds constants or axioms",
    ),
    Exploit(
        "oracle",
        f"oracle fake_oracle = \\<open>fn ct => ct\\<close>\n{FALSE}\nby (tactic \\<open>resolve_tac"
        " \\<^context> [fake_oracle \\<^cprop>\\<open>x = 3\\<close>] 1\\<close>)",
        "proved",
        "'oracle' runs ML code",
    ),
    Exploit(
        "short form continued by if False",
        f'{SHORT}\nif "False"\n  using that by simp',
        "proved",
        NOT_STATEMENT,
        statement=SHORT,
    ),
    Exploit(
        "weaker theorem restated",
        'theorem f:\n  fixes x :: real\n  assumes h0: "2 * x = 4" and h1: "False"\n  shows "x = 3"\nusing h1 by simp',
        "proved",
        NOT_STATEMENT,
        steps_refused="'theorem' starts another theorem",
    ),
    Exploit(
        "\\<proof> behind a formal comment's (*",
        f"{FALSE}\nusing h0 \\<comment> \\<open>(*\\<close> \\<proof> (* *)",
        "proved",
        "'\\\\<proof>' skips",
    ),
    Exploit(
        "\\<proof> between comments holding cartouche delimiters",
        f"{FALSE}\n(* \\<open> *) \\<proof> (* \\<close> *)",
        "proved",
        "'\\\\<proof>' skips",
    ),
    Exploit(
        "a different lemma of the same name at the end",
        f'{FALSE}\noops\nlemma f: "True"\nby simp',
        "proved",
        "'oops' abandons the proof",
    ),
    Exploit(
        "the proved theorem is another proposition",
        f"{FALSE}\nby odd_method",
        "proved",
        "not the benchmark's",
        level="isabelle",
    ),
]


async def unscreened(client, text: str, name: str, folder) -> str:
    """What Isabelle makes of the whole text with nothing screening it (proved, level 0, open or the error)."""
    state = await open_theory(client, "/opt/Isabelle2022", folder, ["Complex_Main"], 5)
    try:
        for step in await client.parse_text(text):
            state = (await client.step(state, step, client.new_name("raw"))).name
    except PisaStepError as error:
        return f"error: {error}"
    if not await client.is_finished(state):
        return "open"
    try:
        await client.command(f"<get fact definition> {state} <get fact definition> {name}")
    except PisaError:
        return "level 0"
    return "proved"


def theorem_of(case: Exploit) -> Theorem:
    return Theorem(case.statement.split()[1].rstrip(":"), case.statement, language="isabelle")


def proof_after_statement(case: Exploit) -> str:
    """The model's text as a step-level proof: everything after the statement (the whole text if it rewrote it)."""
    return case.text.removeprefix(case.statement).lstrip("\n")


@pytest.fixture
def corpus_pisa(fake_pisa):
    fake, client = fake_pisa
    fake.works = {**fake.works, **SCRIPT["works"]}
    fake.proves_instead = SCRIPT["proves_instead"]
    return fake, client


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
async def test_unscreened_isabelle_accepts_the_exploit(corpus_pisa, case, tmp_path):
    _, client = corpus_pisa
    assert await unscreened(client, case.text, theorem_of(case).name, tmp_path) == case.isabelle


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
async def test_the_sketch_checker_refuses_it(corpus_pisa, case):
    _, client = corpus_pisa
    theorem = theorem_of(case)
    result = await env_on(client).check_sketch(case.text, theorem, DSPConfig())
    assert not result.success
    assert (case.sketch_refused or case.refused) in result.error
    assert result.level == (case.sketch_level or case.level)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
async def test_the_step_environment_refuses_it(corpus_pisa, case):
    _, client = corpus_pisa
    theorem = theorem_of(case)
    verdict = await env_on(client).verify(theorem, [proof_after_statement(case)])
    assert not verdict.ok
    assert (case.steps_refused or case.refused) in verdict.message and verdict.level == case.level


def test_the_corpus_is_large_enough_and_covers_the_issue():
    assert len(CASES) >= 15
    names = " ".join(c.name for c in CASES)
    for word in ("sorry", "\\<proof>", "oops", "tactic", "raw_tactic", "method_setup", "ML", "ML_prf", "setup"):
        assert word in names
    for word in ("local_setup", "quick_and_dirty", "axiomatization", "consts", "oracle", "if False", "restated"):
        assert word in names


HONEST = SKETCH.replace(
    "  (* multiply out *)",
    "  (* no sorry, no oops, no tactic, no ML here *)\n"
    "  \\<comment> \\<open>sorry-free: quick_and_dirty stays off\\<close>",
)


async def test_honest_sketches_with_forbidden_words_in_comments_are_proved(fake_pisa):
    _, client = fake_pisa
    theorem = Theorem("t", STATEMENT_TEXT, language="isabelle")
    result = await env_on(client).check_sketch(HONEST, theorem, DSPConfig())
    assert result.success, result.error
    assert result.verdict.ok and result.verdict.level == "isabelle"


async def test_honest_step_proofs_verify(fake_pisa):
    _, client = fake_pisa
    theorem = Theorem("t", STATEMENT_TEXT, language="isabelle")
    verdict = await env_on(client).verify(theorem, ["(* sorry is not used *) by simp"])
    assert verdict.ok, verdict.message
