from __future__ import annotations

import pytest

from isabelle_env.checker import HEURISTICS, SketchChecker
from isabelle_env.client import PisaStepError, PisaTimeout
from tests.isabelle_env.conftest import HAVE, SHOW, SKETCH, STATEMENT


async def test_client_speaks_the_tagged_grammar(fake_pisa, tmp_path):
    fake, client = fake_pisa
    theory = tmp_path / "Interactive.thy"
    theory.write_text("theory Interactive imports Complex_Main begin\n\nend\n")
    assert await client.initialise("/opt/Isabelle2022", str(tmp_path), str(theory)) == "Successfully initialised"
    assert await client.parse_text(SKETCH) == [STATEMENT, "proof -", HAVE, "sledgehammer", SHOW, "sledgehammer", "qed"]
    first = await client.step("default", STATEMENT, "s1")
    assert not first.finished and "x = 2" in first.text
    with pytest.raises(PisaStepError, match="Step error"):
        await client.step("s1", "by auto", "s2")
    done = await client.step("s1", "by simp", "s2")
    assert done.finished
    await client.clone("s1", "copy")
    assert "x = 2" in await client.get_state("copy")
    await client.delete("copy")
    assert fake.commands[-1] == "<delete> copy"
    assert any(
        c.startswith("<apply to top level state> default <apply to top level state> theorem t:") for c in fake.commands
    )


async def test_heuristics_in_order_then_the_hammer(fake_pisa):
    _, client = fake_pisa
    result = await SketchChecker(client, "/opt/Isabelle2022").check(SKETCH)
    assert result.success, result.error
    first, second = result.gaps
    assert first.closed_by == "by simp" and first.tried == ["by auto", "by simp"]  # stops at the first that works
    assert second.tried == [*HEURISTICS, "sledgehammer"]
    assert second.closed_by == "by (metis c0 mult.commute)"
    assert f"{HAVE}\nby simp" in result.proof and "by (metis c0 mult.commute)\nqed" in result.proof
    assert "sledgehammer" not in result.proof


async def test_a_failed_hammer_fails_the_attempt_and_names_the_gap(fake_pisa):
    fake, client = fake_pisa
    fake.hammer = {}
    result = await SketchChecker(client, "/opt/Isabelle2022").check(SKETCH)
    assert not result.success
    assert [g.step for g in result.failed_gaps] == ["sledgehammer"] and result.failed_gaps[0].index == 1
    assert "1 gap(s)" in result.error


async def test_a_wrong_step_fails_with_isabelles_message(fake_pisa):
    _, client = fake_pisa
    result = await SketchChecker(client, "/opt/Isabelle2022").check(SKETCH.replace("proof -", "frobnicate"))
    assert not result.success and "unknown command" in result.error


async def test_a_hung_step_times_out(fake_pisa):
    _, client = fake_pisa
    with pytest.raises(PisaTimeout):
        await SketchChecker(client, "/opt/Isabelle2022", step_timeout=0.3).check(
            SKETCH.replace(f"{HAVE} sledgehammer", f"{HAVE} by hang")
        )
