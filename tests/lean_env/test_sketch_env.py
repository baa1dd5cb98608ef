"""Sketches through the REPL stand-in: sorries matched to gaps by position, rejections, gaps surviving restarts."""

from __future__ import annotations

import json

import pytest

from lean_env.process import ReplProcess, ReplSettings
from lean_env.protocol import Command, CommandReply
from lean_env.repl_env import LeanReplEnv, ReplPool
from lean_env.sketch import plan_sketch
from lean_env.sketch_env import GapEnv, SketchRejected, elaborate
from search import Failed, Goals, Proved, Theorem, Verdict
from tests.lean_env.conftest import HEADER, FakeRepl
from tests.lean_env.sketch_script import (
    GAP_EQ,
    GAP_SUM,
    STATEMENT,
    TERM_FIRST,
    TWO_GAPS,
    sketch_script,
)

THEOREM = Theorem("t", STATEMENT.format(name="t") + "\n", header=HEADER)


def plan(text: str):
    result = plan_sketch(THEOREM, text)
    assert not isinstance(result, Verdict), result
    return result


async def started(tmp_path, script: dict, requests: bool = False) -> tuple[ReplPool, LeanReplEnv, FakeRepl]:
    fake = FakeRepl(tmp_path, script=script)
    argv = fake.argv + (("--requests", str(tmp_path / "requests.jsonl")) if requests else ())
    pool = ReplPool(ReplSettings(command=argv, command_timeout=30), 1)
    env = LeanReplEnv(pool)
    await env.start(THEOREM)
    return pool, env, fake


async def test_the_stand_in_reports_a_have_gap_as_the_real_repl_does(tmp_path, shared_data):
    transcripts = shared_data / "lean-repl-transcripts"
    request = json.loads(transcripts.joinpath("have_by_sorry.in").read_text().split("\n\n")[0])
    expected = json.loads(transcripts.joinpath("have_by_sorry.expected.out").read_text().split("\n\n")[0])
    statement = request["cmd"].split("\n")[0]
    process = ReplProcess(
        ReplSettings(command=FakeRepl(tmp_path, script={"goals": {statement: "x : Int\n⊢ x = x"}}).argv)
    )
    try:
        env, generation = await process.header_env(HEADER)
        reply = await process.request(Command(cmd=request["cmd"], env=env), 30, generation)
    finally:
        await process.close()
    assert isinstance(reply, CommandReply)
    # The same sorry (proof state, position, end, goal) and the same unsolved main goal.
    assert [s.to_wire() for s in reply.sorries or []] == expected["sorries"]
    assert [m.data for m in reply.errors()] == [m["data"] for m in expected["messages"]]


async def test_sorries_are_matched_to_gaps_by_position_not_by_order(tmp_path):
    pool, env, _ = await started(tmp_path, sketch_script("t"))
    try:
        sketch = plan(TERM_FIRST)
        reply = await env.process.request(
            Command(cmd=sketch.command, env=(await env.process.header_env(HEADER))[0]), 30, env.process.generation
        )
        # The REPL lists tactic sorries first: h₂ (a tactic gap) before h₁ (a term gap).
        assert [s.goal for s in reply.sorries] == [GAP_SUM, GAP_EQ]
        elaboration = await elaborate(env.process, sketch)
        assert [(g.site.name, g.goal) for g in elaboration.gaps] == [("h₁", GAP_EQ), ("h₂", GAP_SUM)]
    finally:
        await pool.close()


def scripted_reply(sorries: list[dict], messages: list[dict] | None = None) -> dict:
    reply: dict = {"sorries": sorries}
    if messages:
        reply["messages"] = messages
    return {"contains": "have h₁", "reply": reply}


def sorry_at(line: int, column: int, goal: str, state: int = 0) -> dict:
    return {
        "proofState": state,
        "pos": {"line": line, "column": column},
        "goal": goal,
        "endPos": {"line": line, "column": column + 5},
    }


@pytest.mark.parametrize(
    ("sorries", "messages", "why"),
    [
        # `all_goals have ...`: one gap elaborated on two goals
        ([sorry_at(2, 24, GAP_EQ, 0), sorry_at(2, 24, GAP_EQ, 1), sorry_at(4, 4, GAP_SUM, 2)], None, "more than once"),
        ([sorry_at(2, 24, GAP_EQ), sorry_at(4, 4, GAP_SUM, 1), sorry_at(5, 2, GAP_SUM, 2)], None, "not a gap"),
        ([sorry_at(2, 24, GAP_EQ)], None, "gap 2 (h₂, line 3): never elaborated"),
        (
            [sorry_at(2, 24, GAP_EQ), sorry_at(4, 4, GAP_SUM, 1)],
            [
                {
                    "severity": "error",
                    "pos": {"line": 5, "column": 2},
                    "endPos": {"line": 5, "column": 7},
                    "data": "omega could not prove the goal",
                }
            ],
            "does not elaborate (line 4): omega could not prove the goal",
        ),
    ],
)
async def test_a_sketch_whose_sorries_are_not_exactly_its_gaps_is_rejected(tmp_path, sorries, messages, why):
    script = {**sketch_script("t"), "replies": [scripted_reply(sorries, messages)]}
    pool, env, _ = await started(tmp_path, script)
    try:
        with pytest.raises(SketchRejected, match=why.replace("(", r"\(").replace(")", r"\)")):
            await elaborate(env.process, plan(TWO_GAPS))
    finally:
        await pool.close()


async def test_a_gap_survives_a_restart_by_elaborating_the_sketch_again(tmp_path):
    pool, env, _ = await started(tmp_path, sketch_script("t"), requests=True)
    try:
        sketch = plan(TWO_GAPS)
        elaboration = await elaborate(env.process, sketch)
        gap = GapEnv(env, sketch, elaboration, elaboration.gaps[1])
        root = await gap.start(THEOREM)
        assert root.text == GAP_SUM
        step = await gap.apply(root, "subst h", 5)
        assert isinstance(step, Goals)
        pid = env.process.pid
        assert isinstance(await gap.apply(step, "crash", 5), Failed)
        # A new process: the sketch is elaborated there again, the gap's new state taken and the path replayed.
        assert isinstance(await gap.apply(step, "rfl", 5), Proved)
        assert env.process.pid != pid
        sent = [json.loads(line) for line in (tmp_path / "requests.jsonl").read_text().splitlines()]
        assert sum(r.get("cmd") == sketch.command for r in sent) == 2
        assert [r["tactic"] for r in sent if "tactic" in r][-2:] == ["subst h", "rfl"]
        await gap.close()
    finally:
        await pool.close()
