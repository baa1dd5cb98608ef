"""`prover serve`'s application in a process of its own, for the load test, with a model whose speed the
request chooses and a ``GET /_stats`` beside it that reports the peaks the test checks.

Usage: python -m tests.prover.load_server --port P [--max-concurrent N] [--request-timeout S]

A goal containing ``slow:SECONDS`` makes the model take that long (an asyncio sleep, cancelled
like any model call); other goals answer at once.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re

import uvicorn

from prover.models import PortfolioGenerator
from prover.server import ServerConfig, create_app

SLOW = re.compile(r"slow:(\d+(?:\.\d+)?)")


class Model:
    """Counts calls in flight (and their peak); sleeps as long as the goal asks."""

    def __init__(self) -> None:
        self.in_flight = 0
        self.peak = 0
        self.cancelled = 0
        self.calls = 0

    async def propose(self, requests):
        self.in_flight += 1
        self.calls += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            match = SLOW.search(requests[0].goal)
            if match:
                await asyncio.sleep(float(match.group(1)))
            return await PortfolioGenerator(["simp", "omega", "linarith"]).propose(requests)
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        finally:
            self.in_flight -= 1


def with_stats(app, model: Model):  # type: ignore[no-untyped-def]
    """The guarded app, with ``GET /_stats`` answered beside it (test instrumentation, not the server's)."""

    async def router(scope, receive, send):  # type: ignore[no-untyped-def]
        if scope["type"] == "http" and scope["path"] == "/_stats":
            stats = {
                "model_peak": model.peak,
                "model_in_flight": model.in_flight,
                "model_calls": model.calls,
                "model_cancelled": model.cancelled,
                "slots_peak": app.slots.peak,
                "slots_in_use": app.slots.in_use,
            }
            body = json.dumps(stats).encode()
            await send(
                {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]}
            )
            await send({"type": "http.response.body", "body": body})
            return
        await app(scope, receive, send)

    return router


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--max-concurrent", type=int, default=8)
    parser.add_argument("--request-timeout", type=float, default=0.5)
    parser.add_argument("--max-body", type=int, default=1 << 20)
    args = parser.parse_args()
    model = Model()
    config = ServerConfig(
        port=args.port,
        max_concurrent=args.max_concurrent,
        request_timeout=args.request_timeout,
        max_body_bytes=args.max_body,
    )
    app = create_app(model, config)
    uvicorn.run(with_stats(app, model), host="127.0.0.1", port=args.port, log_level="critical")


if __name__ == "__main__":
    main()
