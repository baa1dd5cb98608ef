from __future__ import annotations

import asyncio
import sys

import pytest

from lean_env.process import ReplSettings
from lean_env.repl_env import LeanReplEnv, ReplPool
from lean_env.screen import screen
from prover.models import PortfolioGenerator
from search import BestFirstSearch, Failed, GaveUp, Goals, Proved, SearchConfig, Status, Theorem, TimedOut
from tests.lean_env.conftest import G1, G2, HEADER, SCRIPT, T1, T2, FakeRepl

TH1 = Theorem("t1", T1 + "\n", header=HEADER)
TH2 = Theorem("t2", T2 + "\n", header=HEADER)


def pool_for(fake, size: int = 1, memory_limit_mb: int | None = None) -> ReplPool:
    return ReplPool(ReplSettings(command=fake.argv, memory_limit_mb=memory_limit_mb, command_timeout=30), size)


@pytest.fixture
async def env(fake_repl):
    pool = pool_for(fake_repl)
    env = LeanReplEnv(pool)
    yield env
    await env.close()
    await pool.close()


async def test_start_apply_and_prove(env):
    root = await env.start(TH1)
    assert root.text == G1 and root.num_goals == 1
    step = await env.apply(root, "subst h", 5)
    assert isinstance(step, Goals) and step.text == "⊢ 2 + 2 = 4"
    assert isinstance(await env.apply(step, "rfl", 5), Proved)
    verdict = await env.verify(TH1, ["subst h", "rfl"])
    assert verdict.ok, verdict.message
    assert "propext" in verdict.message


async def test_empty_goals_with_an_error_is_not_a_proof(env):
    root = await env.start(TH1)
    outcome = await env.apply(root, "bad", 5)
    assert isinstance(outcome, Failed) and "linarith failed" in outcome.message


async def test_the_lean_error_form_is_a_failure(env):
    root = await env.start(TH1)
    outcome = await env.apply(root, "parse", 5)
    assert isinstance(outcome, Failed) and outcome.message.startswith("Lean error:")


async def test_sorry_is_giving_up_and_never_verifies(env):
    root = await env.start(TH1)
    assert isinstance(await env.apply(root, "sorryish", 5), GaveUp)
    assert isinstance(await env.apply(root, "sorry", 5), GaveUp)
    verdict = await env.verify(TH1, ["sorryish"])
    assert not verdict.ok and "sorry" in verdict.message


async def test_a_proof_depending_on_sorry_ax_is_rejected(env):
    root = await env.start(TH1)
    assert isinstance(await env.apply(root, "cheat", 5), Proved)
    verdict = await env.verify(TH1, ["cheat"])
    assert not verdict.ok and "sorryAx" in verdict.message


async def test_a_changed_statement_is_rejected(env):
    await env.start(TH1)
    tampered = "theorem t1 (x : ℕ) (h : x = 3) : x + x = 6 := by\n  subst h\n  rfl"
    verdict = await env.verify(TH1, tampered)
    assert not verdict.ok and "differently" in verdict.message
    same = "theorem t1 (x : ℕ) (h : x = 2) :\n    x + x = 4 := by\n  subst h\n  rfl"
    assert (await env.verify(TH1, same)).ok


@pytest.mark.parametrize(
    "tactic",
    [
        "#eval IO.println 1",
        "run_tac pure ()",
        "set_option maxHeartbeats 0 in simp",
        "import Foo",
        "#exit",
        "admit",
        "exact sorry",
    ],
)
async def test_forbidden_tactics_never_reach_lean(env, tactic):
    root = await env.start(TH1)
    pid = env.process.pid
    outcome = await env.apply(root, tactic, 5)
    assert isinstance(outcome, Failed | GaveUp)
    assert screen(tactic) is not None
    assert env.process.pid == pid
    assert not (await env.verify(TH1, [tactic])).ok


async def test_a_crash_costs_only_that_call(env):
    root = await env.start(TH1)
    first_pid = env.process.pid
    step = await env.apply(root, "subst h", 5)
    outcome = await env.apply(root, "crash", 5)
    assert isinstance(outcome, Failed)
    assert "closed unexpectedly" in outcome.message and "out of fuel" in outcome.message
    # The state made before the crash is rebuilt by replay in a new process.
    assert isinstance(await env.apply(step, "rfl", 5), Proved)
    assert env.process.pid != first_pid


async def test_a_hang_times_out_and_the_process_is_replaced(env):
    root = await env.start(TH1)
    pid = env.process.pid
    outcome = await env.apply(root, "hang", 0.5)
    assert isinstance(outcome, TimedOut) and outcome.seconds == 0.5
    step = await env.apply(root, "subst h", 5)
    assert isinstance(step, Goals) and env.process.pid != pid


async def test_garbage_output_is_a_protocol_failure(env):
    root = await env.start(TH1)
    outcome = await env.apply(root, "garbage", 5)
    assert isinstance(outcome, Failed) and "protocol" in outcome.message
    assert isinstance(await env.apply(root, "subst h", 5), Goals)


@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_AS is enforced on Linux")
async def test_the_memory_cap_kills_a_runaway_tactic(tmp_path):
    hog = {"allocate": 1536 << 20, "goals": ["⊢ 2 + 2 = 4"]}  # 1.5 GB of address space
    fake = FakeRepl(
        tmp_path, script={**SCRIPT, "states": {**SCRIPT["states"], G1: {**SCRIPT["states"][G1], "hog": hog}}}
    )
    # Without a cap the tactic gets its memory: a failure below is the cap's doing.
    uncapped = pool_for(fake)
    try:
        env = LeanReplEnv(uncapped)
        assert isinstance(await env.apply(await env.start(TH1), "hog", 5), Goals)
    finally:
        await uncapped.close()
    pool = pool_for(fake, memory_limit_mb=1024)
    env = LeanReplEnv(pool)
    try:
        root = await env.start(TH1)
        pid = env.process.pid
        outcome = await env.apply(root, "hog", 5)
        assert isinstance(outcome, Failed) and "memory cap of 1024 MB" in outcome.message
        assert "out of memory" in outcome.message  # the process's own last words: the cap fired
        assert isinstance(await env.apply(root, "subst h", 5), Goals) and env.process.pid != pid
    finally:
        await pool.close()


async def test_the_header_is_loaded_once_per_process(fake_repl):
    pool = pool_for(fake_repl, size=2)

    async def one(theorem):
        env = LeanReplEnv(pool)
        try:
            await env.start(theorem)
            await asyncio.sleep(0.05)  # overlap so both processes serve theorems
        finally:
            await env.close()

    await asyncio.gather(*(one(t) for t in [TH1, TH2, TH1, TH2, TH1, TH2]))
    await asyncio.gather(*(one(t) for t in [TH2, TH1]))
    loads = fake_repl.header_loads()
    assert pool.header_loads == len(loads) == 2
    assert len(set(loads)) == 2  # one load in each of the two processes
    await pool.close()


async def test_search_through_faults_finds_a_verified_proof(fake_repl):
    pool = pool_for(fake_repl)
    env = LeanReplEnv(pool)
    generator = PortfolioGenerator(["crash", "hang", "garbage", "bad", "cheat", "subst h", "rfl"])
    try:
        result = await BestFirstSearch(env, generator, SearchConfig(tactic_timeout=0.5)).search(TH1)
    finally:
        await pool.close()
    assert result.status is Status.PROVED
    assert result.proof == ["subst h", "rfl"]
    assert result.verified


async def test_only_cheats_means_no_proof(fake_repl):
    pool = pool_for(fake_repl)
    env = LeanReplEnv(pool)
    try:
        result = await BestFirstSearch(env, PortfolioGenerator(["cheat"]), SearchConfig()).search(TH2)
    finally:
        await pool.close()
    assert result.status is Status.FAILED and not result.verified
    assert "sorryAx" in result.reason


async def test_second_theorem_in_the_same_env(env):
    await env.start(TH1)
    root = await env.start(TH2)
    assert root.text == G2
    assert isinstance(await env.apply(root, "omega", 5), Proved)


def test_screen_keeps_ordinary_tactics():
    for tactic in ["simp [Nat.add_comm]", "nlinarith [sq_nonneg (a - b)]", "exact Nat.sorry_lemma", "omega"]:
        assert screen(tactic) is None, tactic


# A three-step path to the proof of t1, for replays of more than one step.
S1 = "x : ℕ\nh : x = 2\nh2 : x + x = 2 + 2\n⊢ x + x = 4"
S2 = "x : ℕ\nh : x = 2\nh2 : x + x = 2 + 2\n⊢ 2 + 2 = 4"
S3 = "x : ℕ\nh : x = 2\nh2 : x + x = 2 + 2\n⊢ 4 = 4"
PATH = ["have h2 : x + x = 2 + 2 := by rw [h]", "rw [h2]", "show 4 = 4"]
# `aesop` under a heartbeat limit: the first run gets further than any later one.
AESOP_FIRST, AESOP_LATER = "x : ℕ\nh : x = 2\n⊢ 2 + 2 = 4", "x : ℕ\nh : x = 2\n⊢ 2 * x = 4"
DEEP = {
    **SCRIPT,
    "states": {
        **SCRIPT["states"],
        G1: {**SCRIPT["states"][G1], PATH[0]: [S1], "aesop": {"varies": [[AESOP_FIRST], [AESOP_LATER]]}},
        S1: {PATH[1]: [S2]},
        S2: {PATH[2]: [S3]},
        S3: {"rfl": [], "crash": {"fault": "crash"}},
        G2: {**SCRIPT["states"][G2], "crash": {"fault": "crash"}},
        AESOP_FIRST: {"norm_num": []},
        AESOP_LATER: {"norm_num": []},
    },
}


async def walk(env: LeanReplEnv, theorem: Theorem, path: list[str]) -> Goals:
    state = await env.start(theorem)
    for tactic in path:
        state = await env.apply(state, tactic, 5)
        assert isinstance(state, Goals), state
    return state


async def test_a_crash_replays_a_multi_step_path(tmp_path):
    pool = pool_for(FakeRepl(tmp_path, script=DEEP))
    env = LeanReplEnv(pool)
    try:
        deep = await walk(env, TH1, PATH)
        assert deep.text == S3
        pid = env.process.pid
        assert isinstance(await env.apply(deep, "crash", 5), Failed)
        # The new process knows none of the old ids: the state is rebuilt by all three steps, in order.
        assert isinstance(await env.apply(deep, "rfl", 5), Proved)
        assert env.process.pid != pid
    finally:
        await pool.close()


async def test_a_replay_that_reaches_another_state_fails_that_step(tmp_path):
    pool = pool_for(FakeRepl(tmp_path, script=DEEP))
    env = LeanReplEnv(pool)
    try:
        root = await env.start(TH1)
        after = await env.apply(root, "aesop", 5)
        assert isinstance(after, Goals) and after.text == AESOP_FIRST
        assert isinstance(await env.apply(root, "crash", 5), Failed)
        # Replayed, `aesop` leaves another goal: the step must not run on a state the search never saw.
        outcome = await env.apply(after, "norm_num", 5)
        assert isinstance(outcome, Failed), outcome
        assert "other goals than before" in outcome.message and "⊢ 2 * x = 4" in outcome.message
    finally:
        await pool.close()


async def test_a_restart_rebuilds_every_search_sharing_the_process(tmp_path):
    pool = pool_for(FakeRepl(tmp_path, script=DEEP), size=1)
    first, second, third = LeanReplEnv(pool), LeanReplEnv(pool), LeanReplEnv(pool)
    try:
        deep = await walk(first, TH1, PATH)
        middle = await walk(third, TH1, PATH[:2])
        other = await second.start(TH2)
        pid = pool.processes[0].pid
        assert first.process is second.process is third.process
        assert isinstance(await second.apply(other, "crash", 5), Failed)  # kills the process all three live in
        # The first to come back starts the new process; the others find their ids stale and replay too.
        assert isinstance(await first.apply(deep, "rfl", 5), Proved)
        outcomes = await asyncio.gather(third.apply(middle, PATH[2], 5), second.apply(other, "omega", 5))
        assert isinstance(outcomes[0], Goals) and outcomes[0].text == S3
        assert isinstance(outcomes[1], Proved)
        assert pool.processes[0].pid != pid
        assert pool.header_loads == 2  # once per process, not once per search
    finally:
        for env in (first, second, third):
            await env.close()
        await pool.close()
