"""Model calls that block run in a worker thread, and a caller that gives up waits for the thread to end.

Cancelling an ``asyncio.to_thread`` call returns at once while the thread runs on: the server would
free a request's slot with the model still working for a client that is gone. Here a cancelled call
signals ``stop`` (for work that can stop early, such as hf generation at its next token) and returns,
as cancelled, only once the thread has finished.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


async def in_thread(call: Callable[..., T], *args: object, stop: threading.Event | None = None) -> T:
    """``call(*args)`` in a worker thread; on cancellation, ``stop`` is set and the thread is waited for."""
    work = asyncio.ensure_future(asyncio.to_thread(call, *args))
    try:
        return await asyncio.shield(work)
    except asyncio.CancelledError:
        if stop is not None:
            stop.set()
        await asyncio.wait({work})
        raise
