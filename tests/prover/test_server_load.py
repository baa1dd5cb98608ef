"""Load and fault test of `prover serve` (loopback only, bounded): 2,000 requests from 16 concurrent clients
mixing valid, malformed, oversized (declared and chunked), slow-model and pathological inputs.

The server runs in a process of its own (`tests/prover/load_server.py`). Checked: it stays up; every answer
has a documented code for its kind; model calls and slots in flight never pass the cap; the server's
peak memory grows by less than MEMORY_BOUND_MB over its idle size; `/health` answers within 1 s throughout.
The figures are printed (``pytest -s``) and recorded in docs/performance.md.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

pytest.importorskip("fastapi", reason="the server extra is not installed")

from tests.prover.test_server import GOAL, free_port, llmlean_body

REQUESTS = 2000
CLIENTS = 16
CAP = 8
TIMEOUT = 0.5
MAX_BODY = 1 << 20
MEMORY_BOUND_MB = 64
HEALTH_BOUND_S = 1.0

PROMPT = llmlean_body()["messages"][0]["content"]
PATHOLOGICAL = [
    "[STATE]" * 140_000,  # ~1 MB of openings that never close: quadratic for a backtracking regex
    "[CTX][STATE]" * 80_000,
    "[STATE]x[/STATE]" * 65,  # past the block cap
]
DEEP_JSON = ("[" * 200_000 + "]" * 200_000).encode()


def chat(content: str, **extra) -> dict:
    return {**llmlean_body(2), "messages": [{"role": "user", "content": content}], **extra}


# kind: (weight, the codes its answer may have). 429 is the documented answer for any request that needs a
# slot while CAP are taken; 413 and a wrong Host are answered before a slot is asked for.
KINDS: dict[str, tuple[int, frozenset[int]]] = {
    "valid-generate": (28, frozenset({200, 429})),
    "valid-chat": (18, frozenset({200, 429})),
    "streamed-chat": (6, frozenset({200, 429})),
    "malformed-json": (6, frozenset({422, 429})),
    "wrong-field-type": (4, frozenset({422, 429})),
    "deep-json": (3, frozenset({400, 429})),
    "no-state-block": (4, frozenset({400, 429})),
    "pathological-tags": (5, frozenset({400, 429})),
    "oversized-declared": (5, frozenset({413})),
    "oversized-chunked": (5, frozenset({413})),
    "slow-model": (8, frozenset({200, 429})),
    "slow-past-timeout": (4, frozenset({504, 429})),
    "wrong-host": (2, frozenset({400})),
    "unknown-path": (2, frozenset({404, 429})),
}


async def raw_oversized(port: int, chunked: bool) -> int:
    """A body far over the cap, sent until the server answers; the status it answered with."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    length = b"Transfer-Encoding: chunked" if chunked else b"Content-Length: 50000000"
    writer.write(b"POST /generate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n%s\r\n\r\n" % length)
    chunk = b"x" * 65536
    frame = b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk

    async def pump() -> None:
        try:
            for _ in range(256):  # up to 16 MB
                writer.write(frame)
                await writer.drain()
        except (ConnectionError, OSError):
            pass  # the server answered and closed

    sender = asyncio.ensure_future(pump())
    try:
        status_line = await asyncio.wait_for(reader.readline(), 30)
    finally:
        sender.cancel()
        writer.close()
    return int(status_line.split()[1])


async def one(client: httpx.AsyncClient, port: int, kind: str, rng: random.Random) -> int:
    url = f"http://127.0.0.1:{port}"
    if kind == "valid-generate":
        response = await client.post(f"{url}/generate", json={"input": GOAL})
    elif kind == "valid-chat":
        response = await client.post(f"{url}/v1/chat/completions", json=chat(PROMPT))
    elif kind == "streamed-chat":
        response = await client.post(f"{url}/v1/chat/completions", json=chat(PROMPT, stream=True))
        if response.status_code == 200:
            assert response.text.endswith("data: [DONE]\n\n")
    elif kind == "malformed-json":
        response = await client.post(
            f"{url}/generate", content=b'{"input": "x"', headers={"content-type": "application/json"}
        )
    elif kind == "wrong-field-type":
        response = await client.post(f"{url}/generate", json={"input": ["not", "a", "string"]})
    elif kind == "deep-json":
        response = await client.post(f"{url}/generate", content=DEEP_JSON, headers={"content-type": "application/json"})
    elif kind == "no-state-block":
        response = await client.post(f"{url}/v1/completions", json={"prompt": "prove it", "n": 1})
    elif kind == "pathological-tags":
        response = await client.post(f"{url}/v1/completions", json={"prompt": rng.choice(PATHOLOGICAL)})
    elif kind in ("oversized-declared", "oversized-chunked"):
        return await raw_oversized(port, chunked=kind == "oversized-chunked")
    elif kind == "slow-model":
        response = await client.post(f"{url}/generate", json={"input": f"{GOAL} slow:{rng.uniform(0.01, 0.1):.3f}"})
    elif kind == "slow-past-timeout":
        response = await client.post(f"{url}/generate", json={"input": f"{GOAL} slow:5"})
    elif kind == "wrong-host":
        response = await client.get(f"{url}/health", headers={"Host": "rebound.example"})
    else:
        response = await client.post(f"{url}/nowhere", json={})
    if response.status_code != 200:
        assert "error" in response.json(), response.text[:200]  # every error is JSON with a message
    return response.status_code


def memory_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} for {pid}")


async def load(port: int, pid: int) -> dict:
    rng = random.Random(2000)
    kinds = list(KINDS)
    plan = rng.choices(kinds, weights=[KINDS[k][0] for k in kinds], k=REQUESTS)
    queue: asyncio.Queue[str] = asyncio.Queue()
    for kind in plan:
        queue.put_nowait(kind)
    answers: list[tuple[str, int, float]] = []
    health: list[float] = []
    done = asyncio.Event()
    limits = httpx.Limits(max_connections=CLIENTS + 4, max_keepalive_connections=CLIENTS + 4)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:

        async def worker() -> None:
            while not queue.empty():
                kind = queue.get_nowait()
                started = time.monotonic()
                status = await one(client, port, kind, rng)
                answers.append((kind, status, time.monotonic() - started))

        async def prober() -> None:
            async with httpx.AsyncClient(timeout=10) as own:  # its own connection: never queued behind others
                while not done.is_set():
                    started = time.monotonic()
                    reply = await own.get(f"http://127.0.0.1:{port}/health")
                    assert reply.status_code == 200 and reply.json()["status"] == "ok"
                    health.append(time.monotonic() - started)
                    await asyncio.sleep(0.05)

        probe = asyncio.ensure_future(prober())
        started = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(CLIENTS)))
        wall = time.monotonic() - started
        done.set()
        await probe
        deadline = time.monotonic() + 30
        while (stats := (await client.get(f"http://127.0.0.1:{port}/_stats")).json())["slots_in_use"]:
            assert time.monotonic() < deadline, "slots were never given back"
            await asyncio.sleep(0.05)
    return {"answers": answers, "health": health, "wall": wall, "stats": stats}


def test_two_thousand_mixed_requests_from_sixteen_clients():
    port = free_port()
    argv = [sys.executable, "-m", "tests.prover.load_server", "--port", str(port)]
    argv += ["--max-concurrent", str(CAP), "--request-timeout", str(TIMEOUT), "--max-body", str(MAX_BODY)]
    server = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                assert server.poll() is None and time.monotonic() < deadline, server.stderr.read().decode()[-2000:]
                time.sleep(0.1)
        idle_kb = memory_kb(server.pid, "VmRSS")
        result = asyncio.run(load(port, server.pid))
        assert server.poll() is None  # the server stayed up
        peak_kb = memory_kb(server.pid, "VmHWM")
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)  # the server we started, by its group id
        server.wait(timeout=30)

    answers, stats = result["answers"], result["stats"]
    assert len(answers) == REQUESTS
    wrong = [(kind, status) for kind, status, _ in answers if status not in KINDS[kind][1]]
    assert wrong == [], Counter(wrong)
    assert stats["model_peak"] <= CAP and stats["slots_peak"] <= CAP
    assert stats["model_in_flight"] == 0 and stats["slots_in_use"] == 0  # cancelled work stopped; slots returned
    growth_mb = (peak_kb - idle_kb) / 1024
    assert growth_mb < MEMORY_BOUND_MB
    assert max(result["health"]) < HEALTH_BOUND_S
    codes = Counter(status for _, status, _ in answers)
    assert codes[504] > 0 and stats["model_cancelled"] >= codes[504]  # timed-out model calls were cancelled
    valid = sorted(t for kind, status, t in answers if kind == "valid-generate" and status == 200)
    figures = {
        "requests": REQUESTS,
        "clients": CLIENTS,
        "wall_s": round(result["wall"], 2),
        "requests_per_s": round(REQUESTS / result["wall"], 1),
        "codes": dict(sorted(codes.items())),
        "model_peak_in_flight": stats["model_peak"],
        "slots_peak": stats["slots_peak"],
        "model_calls_cancelled": stats["model_cancelled"],
        "server_idle_rss_mb": round(idle_kb / 1024, 1),
        "server_peak_growth_mb": round(growth_mb, 1),
        "health_max_s": round(max(result["health"]), 3),
        "health_probes": len(result["health"]),
        "valid_generate_p50_s": round(valid[len(valid) // 2], 4),
        "valid_generate_p99_s": round(valid[int(len(valid) * 0.99)], 4),
    }
    print("\nload test figures: " + json.dumps(figures))
