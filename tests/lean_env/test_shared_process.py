"""A REPL process shared by several searches: hostile text, huge replies, neighbours' restarts, replays."""

from __future__ import annotations

import logging

import pytest

import lean_env.process
from lean_env.process import ReplSettings
from lean_env.repl_env import NEIGHBOUR_RESTARTS, LeanReplEnv, NeighbourRestarts, ReplPool
from search import BestFirstSearch, Candidate, Failed, Goals, Proved, SearchConfig, Status, Theorem, TimedOut
from tests.lean_env.conftest import G1, HEADER, SCRIPT, T1, FakeRepl

TH1 = Theorem("t1", T1 + "\n", header=HEADER)


def pool_for(fake: FakeRepl) -> ReplPool:
    return ReplPool(ReplSettings(command=fake.argv, command_timeout=30), 1)


def with_steps(states: dict, paths: dict | None = None) -> dict:
    """The shared script with more steps (and path-dependent ones)."""
    script = {**SCRIPT, "states": {**SCRIPT["states"], **states}}
    if paths:
        script["paths"] = paths
    return script


@pytest.fixture
async def shared(fake_repl):
    pool = pool_for(fake_repl)
    yield pool
    await pool.close()


async def test_a_lone_surrogate_is_a_failed_tactic_and_the_shared_process_lives_on(shared):
    mine, neighbour = LeanReplEnv(shared), LeanReplEnv(shared)
    root = await mine.start(TH1)
    other = await neighbour.apply(await neighbour.start(TH1), "subst h", 5)
    process = shared.processes[0]
    pid, generation = process.pid, process.generation
    outcome = await mine.apply(root, "simp \ud800", 5)  # JSON "\ud800" from a model server decodes to this
    assert isinstance(outcome, Failed) and "not valid Unicode" in outcome.message
    assert (process.pid, process.generation) == (pid, generation)  # nothing was killed or restarted
    assert isinstance(await neighbour.apply(other, "rfl", 5), Proved)


async def test_a_reply_over_the_stream_limit_is_a_failed_tactic_not_the_end_of_the_theorem(tmp_path, monkeypatch):
    monkeypatch.setattr(lean_env.process, "READ_LIMIT", 1 << 16)  # the real limit is 64 MiB; same code path
    fake = FakeRepl(tmp_path, script=with_steps({G1: {**SCRIPT["states"][G1], "blow_up": {"huge": 300_000}}}))
    pool = pool_for(fake)
    env = LeanReplEnv(pool)
    try:
        root = await env.start(TH1)
        pid = env.process.pid
        outcome = await env.apply(root, "blow_up", 5)
        assert isinstance(outcome, Failed) and "reply was over" in outcome.message
        # The rest of the reply was read and dropped: the next answer is in step, from the same process.
        step = await env.apply(root, "subst h", 5)
        assert isinstance(step, Goals) and step.text == "⊢ 2 + 2 = 4"
        assert env.process.pid == pid
    finally:
        await pool.close()


async def test_a_neighbours_restarts_are_waited_out_never_a_failed_tactic(shared):
    mine, neighbour = LeanReplEnv(shared), LeanReplEnv(shared)
    step = await mine.apply(await mine.start(TH1), "subst h", 5)
    neighbour_root = await neighbour.start(TH1)
    process = shared.processes[0]
    real_request = process.request
    restarts_left = 4  # the neighbour's hangs land before our tactic and in the middle of our replay
    busy = False

    async def neighbour_hangs_first(request, timeout, generation=None):
        nonlocal restarts_left, busy
        if generation is not None and restarts_left and not busy:
            restarts_left -= 1
            busy = True
            try:  # another search's tactic times out: the shared process is killed and restarts
                assert isinstance(await neighbour.apply(neighbour_root, "hang", 0.2), TimedOut)
            finally:
                busy = False
        return await real_request(request, timeout, generation)

    process.request = neighbour_hangs_first
    outcome = await mine.apply(step, "rfl", 5)
    assert isinstance(outcome, Proved), outcome
    assert restarts_left == 0 and process.generation >= 5


async def test_endless_restarts_end_the_theorem_as_an_error_not_a_failed_edge(shared):
    env = LeanReplEnv(shared)
    root = await env.start(TH1)
    process = shared.processes[0]
    real_request = process.request
    kills = 0

    async def always_restarted(request, timeout, generation=None):
        nonlocal kills
        if generation is not None:
            kills += 1
            await process.kill()  # what a neighbour's timeout does to the shared process
        return await real_request(request, timeout, generation)

    process.request = always_restarted
    with pytest.raises(NeighbourRestarts, match=f"restarted {NEIGHBOUR_RESTARTS} times"):
        await env.apply(root, "subst h", 5)
    assert kills >= NEIGHBOUR_RESTARTS


async def test_a_replayed_state_with_other_goals_is_dropped_never_used(tmp_path, caplog):
    # Lean answers `vary` differently after a restart (the second process gives other goals).
    script = with_steps({G1: {"vary": {"per_process": [["⊢ A"], ["⊢ B"]]}}, "⊢ A": {"done": []}, "⊢ B": {"done": []}})
    fake = FakeRepl(tmp_path, script=script)
    pool = pool_for(fake)
    env = LeanReplEnv(pool)
    try:
        state = await env.apply(await env.start(TH1), "vary", 5)
        assert isinstance(state, Goals) and state.text == "⊢ A"
        await env.process.kill()  # a neighbour's restart: the state must be rebuilt by replay
        with caplog.at_level(logging.WARNING, logger="lean_env.repl_env"):
            outcome = await env.apply(state, "done", 5)
        assert isinstance(outcome, Failed) and "other goals" in outcome.message
        assert "state is dropped" in caplog.text
        # Dropped for good: no second replay is trusted either.
        assert isinstance(await env.apply(state, "done", 5), Failed)
    finally:
        await pool.close()


class Recording:
    """Candidates by goal text, recording the tactics each request said led to its goal."""

    def __init__(self, table: dict[str, list[tuple[str, float]]]) -> None:
        self.table = table
        self.told: dict[str, tuple[str, ...]] = {}

    async def propose(self, requests):
        for request in requests:
            self.told[request.goal] = request.tactics
        return [[Candidate(t, lp, 1) for t, lp in self.table.get(r.goal, [])] for r in requests]


async def test_the_proof_checked_is_the_path_of_the_state_the_tactic_ran_on(tmp_path):
    # `a` and `b` reach the same goal text, but only the state made by `b` is closed by `c`
    # (Lean states can differ where the pretty-printed goals do not).
    script = with_steps({G1: {"a": ["⊢ X"], "b": ["⊢ X"]}, "⊢ X": {}}, paths={'["b"]': {"c": []}})
    fake = FakeRepl(tmp_path, script=script)
    pool = pool_for(fake)
    generator = Recording({G1: [("a", -5.0), ("b", -1.0)], "⊢ X": [("c", -1.0)]})
    try:
        result = await BestFirstSearch(LeanReplEnv(pool), generator, SearchConfig()).search(TH1)
    finally:
        await pool.close()
    # `b` found the known state by a better path: the node now stands for b's state throughout.
    assert generator.told["⊢ X"] == ("b",)
    assert result.status is Status.PROVED and result.verified, result.reason
    assert result.proof == ["b", "c"]
