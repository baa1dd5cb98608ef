"""Whole-proof checks through the REPL pool: concurrent theorems are checked on different processes."""

from __future__ import annotations

import json
import sys

from lean_env.process import ReplSettings
from lean_env.repl_env import LeanReplProvider, ReplPool
from search import Theorem
from tests.lean_env.conftest import FAKE_REPL, HEADER, SCRIPT, T1

THEOREM = Theorem("t1", T1 + "\n", header=HEADER)


async def test_concurrent_whole_proof_sessions_check_on_different_processes(tmp_path):
    script = tmp_path / "script.json"
    script.write_text(json.dumps(SCRIPT))
    pool = ReplPool(ReplSettings(command=(sys.executable, str(FAKE_REPL), "--script", str(script))), 2)
    provider = LeanReplProvider(pool)
    try:
        async with provider.session() as first, provider.session() as second:
            # A whole-proof search never starts the theorem; its checks alone must claim a process.
            verdicts = [await env.verify(THEOREM, "subst h\nrfl") for env in (first, second, first)]
            assert all(v.ok for v in verdicts), verdicts
            assert first.process is not None and second.process is not None
            assert first.process is not second.process
            assert sorted(p.sessions for p in pool.processes) == [1, 1]
        assert [p.sessions for p in pool.processes] == [0, 0]
    finally:
        await provider.close()
