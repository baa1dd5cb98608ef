from __future__ import annotations

import pytest

from tests.isabelle_env.conftest import DOCUMENTED_HEURISTICS, HAVE, SHOW, SKETCH, STATEMENT, STATEMENT_TEXT

ISA = "/opt/Isabelle2022"


async def check(client, sketch: str = SKETCH, **options):
    from isabelle_env.checker import SketchChecker

    return await SketchChecker(client, **options).check_fresh(ISA, sketch, STATEMENT_TEXT, ["Complex_Main"])


async def test_client_speaks_the_tagged_grammar(fake_pisa, tmp_path):
    from isabelle_env.client import PisaError, PisaStepError
    from isabelle_env.replay import theory_header

    fake, client = fake_pisa
    theory_file = tmp_path / "Interactive.thy"
    theory_file.write_text("theory Interactive imports Complex_Main begin\n\nend\n")  # PISA reads it first
    assert await client.initialise(ISA, str(tmp_path), str(theory_file)) == ("Toplevel state 'default' is ready")
    assert await client.parse_text(SKETCH) == [
        STATEMENT_TEXT,
        "proof -\n  (* multiply out *)",  # a comment stays with the command before it
        HAVE,
        "using h0",
        "sledgehammer",
        "then",
        SHOW,
        "sledgehammer",
        "qed",
    ]
    with pytest.raises(PisaStepError, match="Bad context"):  # `default` is outside any theory
        await client.step("default", STATEMENT, "s0")
    theory = await client.step("default", theory_header(["Complex_Main"]), "thy")
    assert theory.finished and theory.text == ""  # proof level 0, nothing to print
    first = await client.step("thy", STATEMENT, "s1")
    assert not first.finished and "x = 2" in first.text
    with pytest.raises(PisaStepError, match="Step error"):
        await client.step("s1", "by auto", "s2")
    done = await client.step("s1", "by simp", "s2")
    assert done.finished
    await client.clone("s1", "copy")
    assert "x = 2" in await client.get_state("copy")
    await client.delete("copy")
    assert fake.commands[-1] == "<delete> copy"
    with pytest.raises(PisaError, match="Didn't find top level state"):
        await client.get_state("copy")


async def test_a_new_theory_replaces_every_state_of_the_server(fake_pisa, tmp_path):
    from isabelle_env.client import PisaError
    from isabelle_env.replay import open_theory

    _, client = fake_pisa
    theory = await open_theory(client, ISA, tmp_path, ["Complex_Main"], 5)
    await client.step(theory, STATEMENT, "mine")
    await open_theory(client, ISA, tmp_path, ["Complex_Main"], 5)  # another problem's initialisation
    with pytest.raises(PisaError, match="Didn't find top level state"):
        await client.step("mine", "by simp", "next")


async def test_heuristics_in_order_then_the_hammer(fake_pisa):
    _, client = fake_pisa
    result = await check(client)
    assert result.success, result.error
    first, second = result.gaps
    assert first.closed_by == "by simp" and first.tried == ["by auto", "by simp"]  # stops at the first that works
    assert second.tried == [*DOCUMENTED_HEURISTICS, "sledgehammer"]
    assert second.closed_by == "by (metis c0 mult.commute)"
    assert "using h0\nby simp" in result.proof and "by (metis c0 mult.commute)\nqed" in result.proof
    assert "sledgehammer" not in result.proof
    assert result.verdict.ok and result.verdict.level == "isabelle"
    assert result.verdict.message == 't: fixes x :: real assumes "2 * x = 4" shows "x = 2"'


async def test_a_failed_hammer_fails_the_attempt_and_names_the_gap(fake_pisa):
    fake, client = fake_pisa
    fake.hammer = {}
    result = await check(client)
    assert not result.success
    assert [g.step for g in result.failed_gaps] == ["sledgehammer"] and result.failed_gaps[0].index == 1
    assert "1 gap(s)" in result.error


async def test_a_wrong_step_fails_with_isabelles_message(fake_pisa):
    _, client = fake_pisa
    result = await check(client, SKETCH.replace("proof -", "proof - then have False by blast"))
    assert not result.success and "Failed to finish proof" in result.error


async def test_oops_fails_the_sketch_instead_of_being_filled(fake_pisa):
    fake, client = fake_pisa
    result = await check(client, SKETCH.replace("then show ?thesis sledgehammer\nqed", "oops"))
    assert not result.success and result.level == "screen"
    assert "'oops' abandons the proof" in result.error
    assert not any(c.startswith("<apply") and "oops" in c for c in fake.commands)  # never reached Isabelle


async def test_a_hung_step_times_out(fake_pisa):
    from isabelle_env.client import PisaTimeout

    _, client = fake_pisa
    with pytest.raises(PisaTimeout):
        await check(client, SKETCH.replace("using h0 sledgehammer", "using h0 by hang"), step_timeout=0.3)


async def test_a_pisa_without_fact_printing_never_passes_the_replay(fake_pisa):
    fake, client = fake_pisa
    answer = fake.handle

    async def older_pisa(command: str) -> str:  # PISA answers an unknown tag with this text, not an error
        return "Unrecognised operation." if command.startswith("<get fact definition>") else await answer(command)

    fake.handle = older_pisa
    result = await check(client)
    assert not result.success and "does not know <get fact definition>" in result.error


async def test_an_error_word_in_a_comment_is_not_a_parse_error(fake_pisa, tmp_path):
    _, client = fake_pisa
    theory_file = tmp_path / "Interactive.thy"
    theory_file.write_text("theory Interactive imports Complex_Main begin\n\nend\n")  # PISA reads it first
    await client.initialise(ISA, str(tmp_path), str(theory_file))
    steps = await client.parse_text('theorem t: "True"\n(* rounding error: none here *)\nby simp')
    assert steps[0].startswith('theorem t: "True"') and steps[-1].endswith("by simp")
