"""The sandbox around PISA servers: own network namespace, reached through a Unix socket; ML cannot escape."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import sandbox
from lean_env.process import split_command
from tests.isabelle_env.conftest import SCRIPT, STATEMENT
from tests.lean_env.test_contain import Listener, escape_targets

needs_bwrap = pytest.mark.skipif(sandbox.probe() is not None, reason=f"bubblewrap cannot run here: {sandbox.probe()}")
ESCAPE = "by (tactic {* escape *})"


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def escape_through_pisa(tmp_path: Path, contained: bool, monkeypatch) -> tuple[dict, Listener, dict]:
    from isabelle_env.client import PisaStepError
    from isabelle_env.replay import open_theory
    from isabelle_env.server import PisaServer, PisaSettings
    from tests.isabelle_env import fake_pisa

    monkeypatch.setenv("LLEMMA_PROVER_TOKEN", "s3cret-token")
    listener = Listener()
    isabelle_home = tmp_path / "isabelle-home"
    isabelle_home.mkdir()
    targets = escape_targets(tmp_path, listener, isabelle_home)
    script = tmp_path / "pisa.json"
    script.write_text(json.dumps({**SCRIPT, "probe": {ESCAPE: targets}}))
    settings = PisaSettings(
        isa_path="/opt/Isabelle2022",
        command=split_command(fake_pisa.command(script)),
        heap_dir=str(isabelle_home),
        start_timeout=60,
        sandbox=contained,
    )
    server = PisaServer(settings, free_port())
    try:
        client = await server.start()
        # The theory file is written in a host folder the server cannot see; it reads it (as PISA does)
        # through the inbox, and the folder's name (miniF2F..., which picks HOL) comes along.
        theory = await open_theory(client, settings.isa_path, tmp_path / "miniF2F-work", ["Complex_Main"], 10)
        if contained:
            assert (server._exchange.inbox / "miniF2F-work" / "Interactive.thy").is_file()
        await client.step(theory, STATEMENT, "s1")
        with pytest.raises(PisaStepError) as caught:
            await client.step("s1", ESCAPE, "s2")
        report = json.loads(str(caught.value).split("PROBE ", 1)[1])
        assert (await client.step("s1", "by simp", "s3")).finished  # and the server still proves
    finally:
        await server.stop()
        listener.close()
    return report, listener, targets


@needs_bwrap
async def test_isabelle_ml_in_the_sandbox_cannot_reach_the_network_files_processes_or_secrets(
    tmp_path, monkeypatch, grpc
):
    report, listener, targets = await escape_through_pisa(tmp_path, True, monkeypatch)
    planted, outside = targets["write"]
    assert report["connect"].startswith("denied") and listener.received == []
    assert report[f"write {planted}"].startswith("denied") and not Path(planted).exists()  # heaps are read-only
    assert not Path(outside).exists()
    assert report["read"].startswith("denied") and "host secret" not in json.dumps(report)
    assert report["signal"].startswith("denied")
    assert report["env"] is None


async def test_without_the_sandbox_the_same_ml_escapes(tmp_path, monkeypatch, grpc):
    report, listener, targets = await escape_through_pisa(tmp_path, False, monkeypatch)
    planted, outside = targets["write"]
    assert report["connect"] == "ok: connected" and listener.received == [b"escaped"]
    assert Path(planted).read_text() == Path(outside).read_text() == "escaped"
    assert report["read"] == "ok: host secret"
    assert report["env"] == "s3cret-token"


@needs_bwrap
async def test_a_contained_server_is_reached_through_its_socket_and_leaves_nothing_behind(tmp_path, grpc):
    from isabelle_env.server import PisaServer, PisaSettings
    from tests.isabelle_env import fake_pisa

    script = tmp_path / "pisa.json"
    script.write_text(json.dumps(SCRIPT))
    settings = PisaSettings(
        isa_path="/opt/Isabelle2022", command=split_command(fake_pisa.command(script)), start_timeout=60, sandbox=True
    )
    server = PisaServer(settings, free_port())
    client = await server.start()
    exchange = server._exchange
    assert exchange is not None and client.address == f"unix:{exchange.socket}"
    restarted = await server.restart()  # a stuck step's remedy works the same way in the sandbox
    assert restarted.address != client.address and not exchange.root.exists()
    await server.stop()
    assert server.pid is None
