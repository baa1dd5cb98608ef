"""The `prover serve` command itself: where it binds, where its token comes from, and that its flags reach
the server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

pytest.importorskip("fastapi", reason="the server extra is not installed")

from tests.prover.test_server import GOAL, free_port


def listening_addresses(port: int) -> set[str]:
    """Local addresses with a socket listening on ``port`` (from /proc/net/tcp and tcp6)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        path = Path(table)
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                found.add(address)
    return found


def start_serve(port: int, *flags: str, env: dict[str, str]) -> subprocess.Popen:
    argv = [sys.executable, "-m", "prover.cli", "serve", "--port", str(port), "--generator", "portfolio", *flags]
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            stop(proc)
            raise AssertionError(f"prover serve did not start: {proc.stderr.read().decode()[-2000:]}")
        time.sleep(0.1)


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)  # the group of the server we started, by its id
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=20)


def test_serve_binds_loopback_reads_its_token_from_the_environment_and_applies_its_flags():
    port = free_port()
    env = {**os.environ, "LLEMMA_PROVER_TOKEN": "from-env"}
    flags = ["--tactics", "simp,omega,ring", "--suggestions", "2", "--max-body", "300", "--max-concurrent", "3"]
    proc = start_serve(port, *flags, env=env)
    try:
        url = f"http://127.0.0.1:{port}"
        assert listening_addresses(port) == {"0100007F"}  # 127.0.0.1 only
        assert httpx.post(f"{url}/generate", json={"input": GOAL}).status_code == 401
        auth = {"Authorization": "Bearer from-env"}
        reply = httpx.post(f"{url}/generate", json={"input": GOAL}, headers=auth)
        assert [o["output"] for o in reply.json()["outputs"]] == ["simp", "omega"]  # --tactics, --suggestions
        big = httpx.post(f"{url}/generate", json={"input": "x" * 400}, headers=auth)
        assert big.status_code == 413 and "300 bytes" in big.json()["error"]["message"]  # --max-body
        health = httpx.get(f"{url}/health").json()
        assert health["max_concurrent"] == 3 and health["check"] is False  # --max-concurrent
    finally:
        stop(proc)


def test_serve_on_a_public_address_without_a_token_refuses_to_start():
    env = {k: v for k, v in os.environ.items() if k != "LLEMMA_PROVER_TOKEN"}
    done = subprocess.run(
        [sys.executable, "-m", "prover.cli", "serve", "--host", "0.0.0.0", "--port", str(free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "--insecure-no-token" in done.stderr and "$LLEMMA_PROVER_TOKEN" in done.stderr
