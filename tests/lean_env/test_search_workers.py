"""One theorem on several REPL processes (`--search-workers`), through fake REPL processes.

The search on K processes finds what it finds on one, states move between processes by pickling or
replay, a process that dies takes none of the search with it, and borrowing leaves other searches'
processes alone while they work.
"""

from __future__ import annotations

import asyncio
import json
import logging
import shutil

import pytest

from lean_env.process import ReplSettings
from lean_env.repl_env import LeanReplEnv, ReplPool
from lean_env.states import HandoffCosts
from search import BestFirstSearch, Goals, Proved, SearchConfig, Status, Theorem, TimedOut
from tests.lean_env.conftest import HEADER, SCRIPT, T1, T2, FakeRepl
from tests.search.scripted import ScriptedGenerator

TW = "theorem w (a b c : ℕ) (h : a = b) : a + c = b + c := by"
GW = "a b c : ℕ\nh : a = b\n⊢ a + c = b + c"
FAILS = {"error": "tactic failed"}
# A search of eight expansions: the likeliest branch (A) dies out, a crash kills a process on the way,
# and only the state made by exactly t2, t1, t1 is closed by t2 (a state that lost its path would not be).
WIDE = {
    "goals": {TW: GW},
    "states": {
        GW: {"t1": ["⊢ A1"], "t2": ["⊢ B1"], "t3": FAILS, "crash": {"fault": "crash"}, "t4": ["⊢ A1"]},
        "⊢ A1": {"t1": ["⊢ A2"], "t2": ["⊢ A2b"], "t3": FAILS},
        "⊢ A2": {"t1": ["⊢ A3"], "t2": FAILS},
        "⊢ A3": {"t1": FAILS},
        "⊢ A2b": {"t1": FAILS},
        "⊢ B1": {"t1": ["⊢ B2"], "t2": ["⊢ C1", "⊢ C2"]},
        "⊢ B2": {"t1": ["⊢ B3"]},
        "⊢ C1\n\n⊢ C2": {"t1": FAILS},
        "⊢ B3": {"t2": FAILS},
    },
    "paths": {json.dumps(["t2", "t1", "t1"]): {"t2": []}},
}
CANDIDATES = {
    GW: [("t1", -0.1, 1), ("crash", -0.5, 1), ("t2", -1.0, 1), ("t3", -0.2, 1), ("t4", -0.3, 1)],
    "⊢ A1": [("t1", -0.2, 1), ("t2", -0.4, 1), ("t3", -0.1, 1)],
    "⊢ A2": [("t1", -0.2, 1), ("t2", -0.2, 1)],
    "⊢ A3": [("t1", -0.1, 1)],
    "⊢ A2b": [("t1", -0.1, 1)],
    "⊢ B1": [("t1", -0.1, 1), ("t2", -0.5, 1)],
    "⊢ B2": [("t1", -0.1, 1)],
    "⊢ B3": [("t2", -0.1, 1)],
    "⊢ C1\n\n⊢ C2": [("t1", -0.1, 1)],
}
THEOREM = Theorem("w", TW + "\n", header=HEADER)
TH1 = Theorem("t1", T1 + "\n", header=HEADER)
TH2 = Theorem("t2", T2 + "\n", header=HEADER)


class Stand:
    """A fake REPL set-up that logs every request with the pid of the process it went to."""

    def __init__(self, folder, script: dict, step_delay: float = 0.0) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        fake = FakeRepl(folder, step_delay=step_delay, script=script)
        self.log = folder / "requests.jsonl"
        self.settings = ReplSettings(command=(*fake.argv, "--requests", str(self.log)), command_timeout=30)

    def requests(self) -> list[dict]:
        return [json.loads(line) for line in self.log.read_text().splitlines()] if self.log.exists() else []

    def pids(self, kind: str) -> list[int]:
        return [r["pid"] for r in self.requests() if kind in r]


def shape(result) -> list[tuple]:
    """The search graph as goal texts and edges: what two runs must agree on."""
    graph = result.graph
    return sorted(
        (graph.nodes[u].get("goal", ""), graph.nodes[v].get("goal", ""), d["tactic"], d["kind"], d["message"])
        for u, v, d in graph.edges(data=True)
    )


async def search(stand: Stand, workers: int, costs: HandoffCosts | None = None):
    pool = ReplPool(stand.settings, workers)
    if costs is not None:
        pool.handoff = costs
    try:
        env = LeanReplEnv(pool, search_workers=workers)
        search = BestFirstSearch(env, ScriptedGenerator(CANDIDATES), SearchConfig(keep_graph=True))
        result = await search.search(THEOREM)
        await env.close()
        assert not pool._lent  # every borrowed process went back
    finally:
        await pool.close()
    return result


@pytest.mark.parametrize("handoff", ["pickling", "replay"])
async def test_four_processes_find_the_graph_and_proof_of_one(tmp_path, handoff):
    one = await search(Stand(tmp_path / "one", WIDE), 1)
    assert one.status is Status.PROVED and one.proof == ["t2", "t1", "t1", "t2"], one.reason
    if handoff == "pickling":  # slow tactics: moving a state by a pickle is cheaper than replaying its path
        stand, costs = Stand(tmp_path / "four", WIDE, step_delay=0.05), None
    else:  # pickling measured as dear: every state is moved by replaying its path
        stand, costs = Stand(tmp_path / "four", WIDE), HandoffCosts(pickle=100.0, unpickle=100.0)
    four = await search(stand, 4, costs)
    assert four.status is Status.PROVED and four.verified
    assert four.proof == one.proof
    assert shape(four) == shape(one)
    assert (four.stats.expansions, four.stats.env_calls, four.stats.nodes) == (
        one.stats.expansions,
        one.stats.env_calls,
        one.stats.nodes,
    )
    assert len(set(stand.pids("tactic"))) >= 3  # the tactics ran on several processes (and a crash replaced one)
    unpickles = [r for r in stand.requests() if "unpickleProofStateFrom" in r]
    if handoff == "pickling":
        assert unpickles and all("env" in r for r in unpickles)  # always into the process's own header env
        writers = {r["pickleTo"]: r["pid"] for r in stand.requests() if "pickleTo" in r}
        assert all(writers[r["unpickleProofStateFrom"]] != r["pid"] for r in unpickles)  # moved between processes
    else:
        assert not unpickles and not stand.pids("pickleTo")


async def test_a_state_is_rebuilt_from_its_pickle_after_its_process_died(tmp_path):
    stand = Stand(tmp_path, SCRIPT, step_delay=0.02)
    pool = ReplPool(stand.settings, 2)
    pool.handoff = HandoffCosts(pickle=0.0, unpickle=0.0)
    env = LeanReplEnv(pool, search_workers=2)
    try:
        step = await env.apply(await env.start(TH1), "subst h", 5)
        assert isinstance(step, Goals)
        env.will_expand(step)  # the search's hint: this state's process pickles it before its next tactic
        assert isinstance(await env.apply(step, "rfl", 5), Proved)
        holder = env.process.pid
        await env.process.kill()  # the process holding the state dies
        before = len(stand.requests())
        assert isinstance(await env.apply(step, "norm_num", 5), Proved)
        after = stand.requests()[before:]
        assert [r["unpickleProofStateFrom"] for r in after if "unpickleProofStateFrom" in r]
        assert not any(r.get("tactic") == "subst h" for r in after)  # not replayed: read from its file
        assert all(r["pid"] != holder for r in after)
    finally:
        await env.close()
        await pool.close()


async def test_a_search_borrows_only_idle_processes_and_gives_them_back(tmp_path):
    stand = Stand(tmp_path, SCRIPT)
    pool = ReplPool(stand.settings, 2)
    wide, neighbour = LeanReplEnv(pool, search_workers=2), LeanReplEnv(pool, search_workers=1)
    try:
        root = await wide.start(TH2)
        other = await neighbour.start(TH1)
        assert wide.process is not neighbour.process  # each theorem has a process of its own
        busy = asyncio.create_task(neighbour.apply(other, "hang", 3.0))
        async with asyncio.timeout(10):
            while not neighbour.process.busy:
                await asyncio.sleep(0.01)
        before = len(stand.requests())
        outcomes = await asyncio.gather(wide.apply(root, "omega", 5), wide.apply(root, "cheat", 5))
        assert all(isinstance(o, Proved) for o in outcomes)
        used = {r["pid"] for r in stand.requests()[before:] if "tactic" in r}
        assert used == {wide.process.pid}  # the neighbour's process was busy: not borrowed
        assert isinstance(await busy, TimedOut)
        before = len(stand.requests())
        await asyncio.gather(wide.apply(root, "omega", 5), wide.apply(root, "cheat", 5))
        used = {r["pid"] for r in stand.requests()[before:] if "tactic" in r}
        assert len(used) == 2 and wide.process.pid in used  # now idle: borrowed for one tactic
        assert {p.index for p in pool.borrowable()} == {0, 1}  # and given back
    finally:
        await wide.close()
        await neighbour.close()
        await pool.close()


def pickling_pair(stand: Stand) -> tuple[ReplPool, LeanReplEnv]:
    """Two processes for one search, with pickling taken for free: every state that moves is pickled."""
    pool = ReplPool(stand.settings, 2)
    pool.handoff = HandoffCosts(pickle=0.0, unpickle=0.0)
    return pool, LeanReplEnv(pool, search_workers=2)


async def two_at_once(env: LeanReplEnv, caplog) -> Goals:
    """The state after `subst h` on t1, then two tactics on it at once: one must move it to the other process."""
    step = await env.apply(await env.start(TH1), "subst h", 5)
    env.will_expand(step)
    with caplog.at_level(logging.WARNING, logger="lean_env.states"):
        outcomes = await asyncio.gather(env.apply(step, "rfl", 5), env.apply(step, "norm_num", 5))
    assert all(isinstance(o, Proved) for o in outcomes)
    return step


async def test_a_state_that_unpickles_with_other_goals_is_replayed_instead(tmp_path, caplog):
    # After unpickling the state prints otherwise (the REPL restores constants, not scoped notation).
    stand = Stand(tmp_path, {**SCRIPT, "unpickled": {"⊢ 2 + 2 = 4": ["⊢ 2 + 2 = 4 -- notation lost"]}}, 0.02)
    pool, env = pickling_pair(stand)
    try:
        await two_at_once(env, caplog)
        assert "pickling is not used" in caplog.text
        (borrowed,) = set(stand.pids("unpickleProofStateFrom"))
        after = [r for r in stand.requests() if r["pid"] == borrowed]
        unpickled = next(i for i, r in enumerate(after) if "unpickleProofStateFrom" in r)
        assert any(r.get("tactic") == "subst h" for r in after[unpickled:])  # then the path replayed there
    finally:
        await env.close()
        await pool.close()


async def test_a_process_lost_to_pickling_switches_pickling_off_for_the_pool(tmp_path, caplog):
    stand = Stand(tmp_path, SCRIPT, step_delay=0.02)
    pool, env = pickling_pair(stand)
    shutil.rmtree(pool.settings.shared_dir)  # the processes cannot write there: the REPL dies on the IO error
    try:
        step = await two_at_once(env, caplog)  # the states were replayed instead
        assert "pickling is switched off" in caplog.text and pool.handoff.broken
        pickles = len(stand.pids("pickleTo"))
        await env.process.kill()
        await asyncio.gather(env.apply(step, "rfl", 5), env.apply(step, "norm_num", 5))
        assert len(stand.pids("pickleTo")) == pickles == 1  # tried once, never again
    finally:
        await env.close()
        await pool.close()


@pytest.mark.skipif(__import__("sandbox").probe() is not None, reason="bubblewrap cannot run here")
async def test_states_move_by_pickling_between_sandboxed_processes(tmp_path):
    """Each process runs in its own sandbox: the pickle folder is the one place both may write."""
    from lean_env.contain import lean_policy

    fake = FakeRepl(tmp_path, step_delay=0.05, script=WIDE)
    command, policy = lean_policy(fake.argv, None)
    settings = ReplSettings(command=command, command_timeout=30, sandbox=policy)
    pool = ReplPool(settings, 4)
    try:
        assert any(m.writable and m.source == pool.settings.shared_dir for m in pool.settings.sandbox.mounts)
        env = LeanReplEnv(pool, search_workers=4)
        result = await BestFirstSearch(env, ScriptedGenerator(CANDIDATES), SearchConfig()).search(THEOREM)
        await env.close()
    finally:
        await pool.close()
    assert result.status is Status.PROVED and result.proof == ["t2", "t1", "t1", "t2"], result.reason
    assert (
        pool.handoff.broken is None and pool.handoff.unpickles >= 1
    )  # pickles written in one sandbox, read in another
