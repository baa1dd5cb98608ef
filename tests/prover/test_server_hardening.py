"""The third red team's findings on `prover serve`, each a test that fails without its fix."""

from __future__ import annotations

import asyncio
import threading

import pytest

from lean_env.screen import screen_header
from prover.models.threads import in_thread
from prover.suggest import header_of


def test_an_attribute_line_stays_with_its_declaration_and_an_unclosed_one_does_not_run_on():
    assert header_of("import Mathlib\n\n@[simp]\ntheorem x : True := trivial") == "import Mathlib\n\n"
    # `@[` never closed on its line is not an attribute of the later declaration
    assert header_of("import Mathlib\n@[\nx]\ntheorem y : True := trivial").endswith("x]\n")


@pytest.mark.parametrize(
    ("header", "refused"),
    [
        ("import Mathlib\nset_option maxHeartbeats 0", True),  # 0 switches the limit off
        ("import Mathlib\nset_option maxRecDepth 100000000000000000000", True),
        ("import Mathlib\nset_option maxHeartbeats 400000", False),
        ("import Mathlib\nopen scoped BigOperators Real", False),
        ("import Mathlib\nopen scoped Lean", True),
    ],
)
def test_client_header_options_are_bounded_and_open_scoped_is_an_open(header, refused):
    assert (screen_header(header) is not None) is refused


def test_a_goal_with_a_comment_is_refused_before_it_can_reshape_the_theorem():
    from prover.server_check import CheckProblem, screened
    from prover.suggest import goal_theorem

    with pytest.raises(CheckProblem, match="no comments"):
        screened(goal_theorem("⊢ True := trivial --", "import Mathlib\n"))
    assert screened(goal_theorem("x : ℕ\n⊢ x = x", "import Mathlib\n")).statement.startswith("theorem")


async def test_a_cancelled_model_call_returns_only_once_its_thread_has_ended():
    """vLLM's engine cannot be interrupted: the server's slot must stay taken until the work stopped."""
    entered, release = threading.Event(), threading.Event()

    def blocking() -> str:
        entered.set()
        release.wait(timeout=30)
        return "done"

    task = asyncio.ensure_future(in_thread(blocking))
    await asyncio.to_thread(entered.wait, 30)
    task.cancel()
    await asyncio.sleep(0.05)  # every chance to finish early; it must not
    assert not task.done()
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_a_websocket_never_reaches_the_app_past_the_guard():
    pytest.importorskip("fastapi", reason="the server extra is not installed")
    from prover.server_guard import Guard, GuardConfig

    reached: list[str] = []

    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        reached.append(scope["type"])

    sent: list[dict] = []

    async def send(message):  # type: ignore[no-untyped-def]
        sent.append(message)

    async def receive():  # type: ignore[no-untyped-def]
        return {"type": "websocket.connect"}

    guard = Guard(app, GuardConfig(token="secret", allowed_hosts=("localhost",)))
    scope = {"type": "websocket", "headers": [(b"host", b"evil.example")], "path": "/"}
    await guard(scope, receive, send)
    assert reached == [] and sent == [{"type": "websocket.close", "code": 1008}]


def test_max_connections_reaches_uvicorn():
    from prover.server import ServerConfig
    from prover.suggest_cli import uvicorn_options

    assert uvicorn_options(ServerConfig(max_connections=7))["limit_concurrency"] == 7
