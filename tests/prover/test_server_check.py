"""`prover serve --check`: client text screened before it reaches Lean, headers in a bounded LRU, and a
timed-out check that stops its Lean process."""

from __future__ import annotations

import json

import httpx
import pytest

pytest.importorskip("fastapi", reason="the server extra is not installed")

from lean_env.process import ReplSettings
from lean_env.repl_env import LeanReplProvider, ReplPool
from prover.models import PortfolioGenerator
from tests.lean_env.conftest import FakeRepl
from tests.prover.test_server import GOAL, llmlean_body, serve, wait_idle

CTX = "import Mathlib\n\ntheorem t1 (x : ℕ) (h : x = 2) : x + x = 4 := by\n"


def provider_for(tmp_path, *extra: str) -> tuple[LeanReplProvider, FakeRepl]:
    fake = FakeRepl(tmp_path)
    argv = (*fake.argv, "--requests", str(tmp_path / "requests.jsonl"), *extra)
    return LeanReplProvider(ReplPool(ReplSettings(command=argv), 1)), fake


def sent_to_lean(tmp_path) -> str:
    path = tmp_path / "requests.jsonl"
    return path.read_text() if path.exists() else ""


def chat(server, context: str, goal: str = GOAL, n: int = 4) -> httpx.Response:
    prompt = f"[CTX]\n{context}\n[/CTX]\n[STATE]\n{goal}\n[/STATE]\n[TAC]\n"
    body = {**llmlean_body(n), "messages": [{"role": "user", "content": prompt}]}
    return httpx.post(f"{server.url}/v1/chat/completions", json=body, timeout=60)


def test_suggestions_checked_in_lean_drop_errors(tmp_path):
    provider, _ = provider_for(tmp_path)
    tactics = ["bad", "linarith", "subst h", "cheat", "omega"]
    with serve(PortfolioGenerator(tactics), provider, check=True) as server:
        data = httpx.post(f"{server.url}/v1/chat/completions", json=llmlean_body(4), timeout=60).json()
    assert all(p.pid is None for p in provider.pool.processes)  # the server stopped its REPL on shutdown
    contents = [c["message"]["content"] for c in data["choices"]]
    # `subst h` leaves a goal; `cheat` closes it but fails the whole-proof check (sorryAx);
    # `bad` fails, `linarith` and `omega` are unknown to this goal.
    assert contents == ["subst h"]
    assert data["object"] == "chat.completion" and data["choices"][0]["finish_reason"] == "stop"


@pytest.mark.parametrize(
    ("header_line", "named"),
    [
        ('#eval IO.Process.run {cmd := "sh"}', "#eval"),
        ("set_option debug.skipKernelTC true", "debug.skipKernelTC"),
        ("open Nat in #eval 1", "open Nat in"),
        ("namespace Evil", "namespace Evil"),
    ],
)
def test_a_header_line_outside_the_allow_list_is_refused_before_lean(tmp_path, header_line, named):
    provider, _ = provider_for(tmp_path)
    with serve(PortfolioGenerator(["subst h"]), provider, check=True) as server:
        reply = chat(server, f"import Mathlib\n{header_line}\n\ntheorem t1 : True := by\n")
    assert reply.status_code == 400
    message = reply.json()["error"]["message"]
    assert message.startswith("[CTX] header refused") and named in message
    assert header_line not in sent_to_lean(tmp_path)


def test_comments_in_the_header_are_dropped_and_allowed_lines_pass(tmp_path):
    provider, _ = provider_for(tmp_path)
    context = (
        "/- Copyright (c) 2024.\n   Released under Apache 2.0. -/\nimport Mathlib  -- everything\n"
        "set_option maxHeartbeats 400000\n/-! # A module doc -/\nopen BigOperators Real\n\n"
        "/-- the doc of t1 -/\ntheorem t1 (x : ℕ) (h : x = 2) : x + x = 4 := by\n"
    )
    with serve(PortfolioGenerator(["subst h"]), provider, check=True) as server:
        reply = chat(server, context, n=1)
    assert reply.status_code == 200, reply.text
    requests = [json.loads(line) for line in sent_to_lean(tmp_path).splitlines()]
    headers = [r["cmd"] for r in requests if "cmd" in r and "env" not in r]
    assert "import Mathlib\nset_option maxHeartbeats 400000\nopen BigOperators Real\n\n" in headers


@pytest.mark.parametrize(
    "goal",
    [
        "x : ℕ\n⊢ x = x := rfl\ntheorem evil : False := sorry",
        'x : ℕ\n⊢ x = x := by\n  trivial\n#eval IO.FS.writeFile "/tmp/x" ""',
        "x : ℕ\n⊢ x = x := by by_elab pure ()",
    ],
)
def test_a_goal_holding_a_command_is_refused_before_lean(tmp_path, goal):
    provider, _ = provider_for(tmp_path)
    with serve(PortfolioGenerator(["subst h"]), provider, check=True) as server:
        reply = chat(server, CTX, goal)
    assert reply.status_code == 400 and reply.json()["error"]["message"].startswith("goal refused")
    assert "evil" not in sent_to_lean(tmp_path) and "IO.FS" not in sent_to_lean(tmp_path)


def test_a_goal_or_header_lean_rejects_is_a_400_with_leans_message(tmp_path):
    provider, _ = provider_for(tmp_path, "--lean-path")  # `import Mathlib` needs LEAN_PATH: the header fails
    with serve(PortfolioGenerator(["subst h"]), provider, check=True) as server:
        header = chat(server, CTX)
        assert header.status_code == 400
        assert "the [CTX] header does not elaborate" in header.json()["error"]["message"]
    provider, _ = provider_for(tmp_path)
    with serve(PortfolioGenerator(["subst h"]), provider, check=True) as server:
        statement = chat(server, CTX, "y : ℕ\n⊢ y = y")  # not a statement the stand-in knows
        assert statement.status_code == 400
        assert "the goal does not elaborate" in statement.json()["error"]["message"]


def test_loaded_headers_are_a_bounded_lru(tmp_path):
    provider, _ = provider_for(tmp_path)
    process = provider.pool.processes[0]
    with serve(PortfolioGenerator(["subst h"]), provider, check=True, max_headers=2) as server:
        pids = []
        for beats in (100000, 200000, 300000):
            header = f"import Mathlib\nset_option maxHeartbeats {beats}\n"
            assert chat(server, header + "\ntheorem t1 : True := by\n", n=1).status_code == 200
            pids.append(process.pid)
        third = "import Mathlib\nset_option maxHeartbeats 300000\n\n"
        # The third header evicted the first: the process that held it was restarted to free it.
        assert pids[0] == pids[1] != pids[2]
        assert process.has_header(third) and not process.has_header(third.replace("300000", "100000"))


def test_a_timed_out_check_stops_its_lean_process(tmp_path):
    provider, _ = provider_for(tmp_path)
    with serve(PortfolioGenerator(["hang"]), provider, check=True, request_timeout=1.0, tactic_timeout=60) as server:
        reply = chat(server, CTX, n=1)
        assert reply.status_code == 504
        wait_idle(server)
        assert provider.pool.processes[0].pid is None  # the hanging REPL was killed, not left running
        assert httpx.post(f"{server.url}/generate", json={"input": GOAL}).status_code == 200  # and serves on


def test_an_oversized_header_or_goal_is_refused_before_screening(tmp_path):
    provider, _ = provider_for(tmp_path)
    with serve(PortfolioGenerator(["subst h"]), provider, check=True) as server:
        header = chat(server, "import Mathlib\n" * 2000 + "theorem t1 : True := by\n")
        goal = chat(server, CTX, "x : ℕ\n⊢ " + " + ".join(["x"] * 20000) + " = x")
    assert header.status_code == 400 and "[CTX] header is over 16384 characters" in header.json()["error"]["message"]
    assert goal.status_code == 400 and "goal is over 32768 characters" in goal.json()["error"]["message"]
    assert sent_to_lean(tmp_path) == ""
