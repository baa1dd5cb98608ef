"""Starting a prover process in a process group of its own, and killing that group by its id."""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import signal
from collections.abc import Mapping, Sequence

KILL_WAIT = 10.0  # seconds to reap a killed group before giving up on the exit status


async def spawn(
    argv: Sequence[str],
    *,
    cwd: str | None = None,
    env: Mapping[str, str] | None = None,
    memory_limit_mb: int | None = None,
    stdin: int | None = None,
    stdout: int | None = None,
    stderr: int | None = None,
    limit: int = 1 << 16,
) -> asyncio.subprocess.Process:
    """Start ``argv`` as the leader of a new session, with ``RLIMIT_AS`` set before exec.

    The limit is inherited across exec, so it holds for bubblewrap and for the
    command it runs inside the sandbox alike.
    """

    def child_setup() -> None:  # runs in the child before exec
        if memory_limit_mb is not None:
            size = memory_limit_mb * 1024 * 1024
            resource.setrlimit(resource.RLIMIT_AS, (size, size))

    return await asyncio.create_subprocess_exec(
        *argv,
        cwd=cwd,
        env=dict(env) if env is not None else None,
        stdin=stdin,
        stdout=stdout,
        stderr=stderr,
        start_new_session=True,  # its own process group, so a kill takes its children too
        preexec_fn=child_setup if memory_limit_mb is not None else None,
        limit=limit,
    )


async def kill_group(proc: asyncio.subprocess.Process | None, wait: float = KILL_WAIT) -> None:
    """SIGKILL the process group ``proc`` leads (only the one we started) and reap it."""
    if proc is None or proc.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(TimeoutError, ProcessLookupError):
        async with asyncio.timeout(wait):
            await proc.wait()
