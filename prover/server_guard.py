"""The ASGI guard in front of `prover serve`: everything a request must pass before any work starts.

In order, each answered with a JSON error naming the problem: the ``Host`` header must
be an allowed name (400: a page on another site that rebinds its DNS name to 127.0.0.1
reaches the server with its own name); the bearer token must match (401, compared as
bytes, so any header value is just wrong, never an error); the body is read with a cap
that holds while it streams in, chunked or not (413), within the request timeout (408),
before any parsing and before a slot is taken. Then a concurrency slot (429 when none is
free). The work runs as a task; past the timeout (504) or when the client goes away it is
cancelled, and its slot is given back only once the task, and with it the model call or
the Lean check, has stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")
OPEN_PATHS = frozenset({"/health"})
"""Answered without a token: a liveness check says nothing about the model or the goals."""
DISCARD_LIMIT = 64 << 20
"""Bytes of a refused body read and dropped so the client sees the 413; past it the connection is closed."""
SLOTLESS_PATHS = frozenset({"/health", "/v1/models"})
"""Answered without a slot: no work behind them, and they must answer while the server is busy."""


@dataclass(frozen=True, slots=True)
class GuardConfig:
    """The limits the guard enforces."""

    token: str | None = None
    allowed_hosts: tuple[str, ...] = LOOPBACK_NAMES
    """Names the Host header may carry (port ignored); ``*`` allows any."""
    max_body_bytes: int = 1 << 20
    request_timeout: float = 60.0
    max_concurrent: int = 8


class Slots:
    """A count of requests whose work is running, against a cap (no waiting: full means 429)."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("--max-concurrent must be at least 1")
        self.capacity = capacity
        self.in_use = 0
        self.peak = 0

    def try_take(self) -> bool:
        if self.in_use >= self.capacity:
            return False
        self.in_use += 1
        self.peak = max(self.peak, self.in_use)
        return True

    def give_back(self) -> None:
        self.in_use -= 1


def host_name(value: str) -> str:
    """The name of a Host header without its port (``[::1]:80`` -> ``::1``)."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1:].split("]", 1)[0]
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


async def send_problem(
    send: Send, status: int, message: str, then: Callable[[], Awaitable[None]] | None = None
) -> None:
    """A JSON error ``{"error": {"message", "code"}}``, as every error of the server looks.

    ``then`` runs after the error has gone out and before the response is complete (which
    is when the server stops reading the request): it may still drain the request body.
    """
    body = json.dumps({"error": {"message": message, "code": status}}).encode()
    start = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if then is not None:
        start.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": start})
    await send({"type": "http.response.body", "body": body, "more_body": then is not None})
    if then is not None:
        await then()
        await send({"type": "http.response.body", "body": b"", "more_body": False})


class _TooLarge(Exception):
    pass


class _Gone(Exception):
    pass


class Guard:
    """ASGI middleware enforcing `GuardConfig` around an application (FastAPI's, here)."""

    def __init__(self, app: App, config: GuardConfig, slots: Slots | None = None) -> None:
        self.app = app
        self.config = config
        self.slots = slots or Slots(config.max_concurrent)
        self._token = f"Bearer {config.token}".encode() if config.token is not None else None
        self._hosts = {host_name(h) for h in config.allowed_hosts}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, send)  # the Lean processes start and stop with the server
            return
        if scope["type"] != "http":  # a websocket (uvicorn[standard]): nothing here speaks it, and no check ran
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})
            return
        headers = {name.lower(): value for name, value in scope.get("headers", [])}
        host = headers.get(b"host", b"").decode("latin-1")
        if "*" not in self._hosts and host_name(host) not in self._hosts:
            allowed = ", ".join(sorted(self._hosts))
            await send_problem(
                send,
                400,
                f"Host {host!r} is not served here (allowed: {allowed}); start the server with --allowed-hosts",
            )
            return
        path = scope.get("path", "")
        given = headers.get(b"authorization", b"")
        if self._token is not None and path not in OPEN_PATHS and not hmac.compare_digest(given, self._token):
            await send_problem(send, 401, "missing or wrong bearer token (Authorization: Bearer ...)")
            return
        try:
            body = await self._read_body(headers, receive)
        except _TooLarge:
            message = f"request body over {self.config.max_body_bytes} bytes (--max-body)"
            await send_problem(send, 413, message, then=lambda: self._discard(receive))
            return
        except TimeoutError:
            await send_problem(send, 408, f"the request body did not arrive within {self.config.request_timeout:g} s")
            return
        except _Gone:
            return
        replay = _replay(body, receive)
        if path in SLOTLESS_PATHS:
            await self.app(scope, replay, send)
            return
        if not self.slots.try_take():
            await send_problem(send, 429, f"busy: {self.slots.capacity} requests in flight; retry shortly")
            return
        try:
            await self._run(scope, replay, send)
        finally:
            self.slots.give_back()

    async def _read_body(self, headers: dict[bytes, bytes], receive: Receive) -> bytes:
        """The whole body, refused as soon as it passes the cap (declared or counted)."""
        limit = self.config.max_body_bytes
        declared = headers.get(b"content-length")
        if declared is not None and declared.strip().isdigit() and int(declared) > limit:
            raise _TooLarge  # (a malformed length never gets here: the HTTP parser refuses it)
        chunks: list[bytes] = []
        size = 0
        async with asyncio.timeout(self.config.request_timeout):
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    raise _Gone
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > limit:
                    raise _TooLarge
                chunks.append(chunk)
                if not message.get("more_body", False):
                    return b"".join(chunks)

    async def _discard(self, receive: Receive) -> None:
        """Read and drop the rest of a refused body (up to a bound, within the timeout), so that the client,
        still sending, reads the 413 instead of a reset connection; nothing of it is kept."""
        dropped = 0
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.config.request_timeout):
                while dropped < DISCARD_LIMIT:
                    message = await receive()
                    dropped += len(message.get("body", b""))
                    if message["type"] == "http.disconnect" or not message.get("more_body", False):
                        return

    async def _run(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the request's work as a task; past the timeout or after a disconnect, cancel it and wait
        for it to stop (the caller gives the slot back after that)."""
        state = {"started": False, "finished": False, "taken_over": False}

        async def tracked(message: Message) -> None:
            if state["taken_over"]:
                return  # the guard answered in its place
            if message["type"] == "http.response.start":
                state["started"] = True
            elif message["type"] == "http.response.body" and not message.get("more_body", False):
                state["finished"] = True  # from here on the server's own receive reports a disconnect
            await send(message)

        work = asyncio.ensure_future(self.app(scope, receive, tracked))
        gone = asyncio.ensure_future(_disconnected(receive))
        try:
            done, _ = await asyncio.wait(
                {work, gone}, timeout=self.config.request_timeout, return_when="FIRST_COMPLETED"
            )
            if work in done or state["finished"]:
                try:
                    await work
                except Exception:  # a bug in the application: answered as a 500 if nothing was sent yet
                    logger.exception("request to %s failed", scope.get("path"))
                    if not state["started"]:
                        state["taken_over"] = True
                        await send_problem(send, 500, "internal error: see the server's log")
                return
            work.cancel()
            if gone not in done and not state["started"]:
                state["taken_over"] = True
                await send_problem(send, 504, f"no answer within {self.config.request_timeout:g} s (--request-timeout)")
            state["taken_over"] = True
            with contextlib.suppress(asyncio.CancelledError):
                await work  # the model call and the Lean check end here: only then is the slot free
            logger.info("cancelled %s after %s", scope.get("path"), "a disconnect" if gone in done else "the timeout")
        finally:
            gone.cancel()


async def _disconnected(receive: Receive) -> None:
    """Returns when the client has gone away (the body was read already, so only a disconnect comes)."""
    while (await receive())["type"] != "http.disconnect":
        pass


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that gives the application the body read by the guard, then waits like the real one."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
