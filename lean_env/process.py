"""One Lean REPL process: requests with finite timeouts, and a clean kill when anything goes wrong."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from lean_env.protocol import Command, CommandReply, ProtocolError, Reply, Request, decode, encode
from sandbox import Policy, kill_group, spawn, wrap

logger = logging.getLogger(__name__)

READ_LIMIT = 1 << 26  # one reply line may carry a large infotree


class ReplFailure(RuntimeError):
    """The request has no answer: the process was lost (and killed), or its reply was dropped."""


class ReplTimeout(ReplFailure):
    """A request did not finish in time; the process was killed."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"the Lean REPL did not answer within {seconds:g} s; it was killed and will restart")
        self.seconds = seconds


class ReplCrashed(ReplFailure):
    """The process exited or broke the protocol; the message carries its last stderr lines."""


class ReplyTooLarge(ReplFailure):
    """The reply was over ``READ_LIMIT`` bytes: it was read to its end and dropped; the process lives on."""


class StaleState(ReplFailure):
    """The process restarted since the ids in this request were made; rebuild them and retry."""


class HeaderError(RuntimeError):
    """The theorem's header (imports, options, opens) does not elaborate."""


@dataclass(frozen=True, slots=True)
class ReplSettings:
    """How to start a REPL process and how long to wait for it."""

    command: tuple[str, ...]
    cwd: str | None = None
    memory_limit_mb: int | None = None
    header_timeout: float = 600.0
    """Loading `import Mathlib` takes seconds to minutes."""
    command_timeout: float = 120.0
    """A theorem statement or a whole-proof check."""
    sandbox: Policy | None = None
    """Run the command under bubblewrap with this policy (`lean_env.contain.lean_policy`); None: uncontained."""
    shared_dir: str | None = None
    """A folder every process of a pool reads and writes at this same path (the proof-state pickles that
    move states between processes, see `lean_env.states`); a sandbox around the process must let it through."""


class ReplProcess:
    """Owns one REPL process; restarts it lazily after it was killed.

    ``generation`` counts restarts: proof-state and env ids are only valid in
    the generation that made them.
    """

    def __init__(self, settings: ReplSettings, index: int = 0) -> None:
        self.settings = settings
        self.index = index
        self.generation = 0
        self.header_loads = 0
        self.sessions = 0  # theorems currently searched in this process
        self._proc: asyncio.subprocess.Process | None = None
        self._lock = asyncio.Lock()
        self._headers: dict[str, int] = {}
        self._header_locks: dict[str, asyncio.Lock] = {}

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    @property
    def busy(self) -> bool:
        """A request is running here or waiting for its turn."""
        return self._lock.locked()

    def has_header(self, header: str) -> bool:
        return header in self._headers

    async def _start(self) -> asyncio.subprocess.Process:
        policy = self.settings.sandbox
        argv = wrap(self.settings.command, policy) if policy is not None else self.settings.command
        try:
            proc = await spawn(
                argv,
                cwd=self.settings.cwd,
                memory_limit_mb=self.settings.memory_limit_mb,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                limit=READ_LIMIT,
            )
        except FileNotFoundError as error:
            raise ReplCrashed(
                f"cannot start the Lean REPL: {error}. Check --repl-command / --lean-project, "
                "or run `prover setup lean`."
            ) from None
        self.generation += 1
        self._headers.clear()
        logger.debug("REPL %d started (pid %d, generation %d)", self.index, proc.pid, self.generation)
        return proc

    async def request(self, request: Request, timeout: float, generation: int | None = None) -> Reply:
        """Send one request and read its reply, killing the process on timeout, crash or garbage.

        A request that refers to env or proof-state ids passes the ``generation``
        they were made in; if the process has restarted since, it is not sent and
        ``StaleState`` is raised instead.
        """
        data = encode(request)  # text that cannot be sent fails here, before the process is touched
        async with self._lock:
            alive = self._proc is not None and self._proc.returncode is None
            if generation is not None and (not alive or generation != self.generation):
                raise StaleState(f"REPL {self.index} restarted; ids of generation {generation} are gone")
            return await self._request_locked(data, timeout)

    async def _request_locked(self, data: bytes, timeout: float) -> Reply:
        if self._proc is None or self._proc.returncode is not None:
            self._proc = await self._start()
        proc = self._proc
        assert proc.stdin is not None and proc.stdout is not None
        try:
            async with asyncio.timeout(timeout):
                proc.stdin.write(data)
                await proc.stdin.drain()
                text = await self._read_reply(proc)
            if text is None:
                raise ReplyTooLarge(f"the Lean REPL's reply was over {READ_LIMIT} bytes; it was dropped")
            return decode(text)
        except TimeoutError:
            await self.kill()
            raise ReplTimeout(timeout) from None
        except (ConnectionError, BrokenPipeError, asyncio.IncompleteReadError, EOFError) as error:
            detail = await self._stderr_tail(proc)
            await self.kill()
            raise ReplCrashed(self._crash_message(proc, f"{type(error).__name__}", detail)) from None
        except ProtocolError as error:
            await self.kill()
            raise ReplCrashed(f"the Lean REPL broke the protocol: {error}") from None
        except ReplyTooLarge:
            raise
        except BaseException:
            # Cancelled mid-request: the reply would arrive out of step with the next request.
            await self.kill()
            raise

    @staticmethod
    async def _read_reply(proc: asyncio.subprocess.Process) -> str | None:
        """Lines up to the blank line that ends a reply (leading blank lines skipped).

        A reply over ``READ_LIMIT`` bytes (one line past the stream's limit, or many lines) is read
        to its end, so the next request stays in step, and dropped: None.
        """
        assert proc.stdout is not None
        lines: list[str] = []
        size = 0
        oversized = False
        while True:
            try:
                raw = await proc.stdout.readline()
            except ValueError:  # a line past the stream limit: the reader dropped what it held
                oversized = True
                continue
            if not raw:
                raise EOFError("end of output" + (" in the middle of a reply" if lines or oversized else ""))
            line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            if line.strip():
                size += len(raw)
                oversized = oversized or size > READ_LIMIT
                if not oversized:
                    lines.append(line)
            elif lines or oversized:
                return None if oversized else "\n".join(lines)

    @staticmethod
    async def _stderr_tail(proc: asyncio.subprocess.Process) -> str:
        if proc.stderr is None:
            return ""
        with contextlib.suppress(TimeoutError, OSError, ValueError):
            async with asyncio.timeout(1.0):
                data = await proc.stderr.read(1 << 16)
                return data.decode("utf-8", errors="replace").strip()[-1000:]
        return ""

    def _crash_message(self, proc: asyncio.subprocess.Process, what: str, stderr: str) -> str:
        message = f"The Lean REPL closed unexpectedly ({what})."
        if self.settings.memory_limit_mb is not None:
            message += f" It may have exceeded its memory cap of {self.settings.memory_limit_mb} MB."
        message += " Possible causes: not enough memory, a crash in a tactic, a wrong --repl-command."
        if stderr:
            message += f" Its last output: {stderr}"
        return message

    async def header_env(self, header: str) -> tuple[int, int]:
        """``(env, generation)`` with ``header`` loaded, loading it once per process generation."""
        lock = self._header_locks.setdefault(header, asyncio.Lock())
        async with lock:
            if header in self._headers:  # cleared whenever the process dies
                return self._headers[header], self.generation
            reply = await self.request(Command(cmd=header), self.settings.header_timeout)
            if not isinstance(reply, CommandReply):
                raise HeaderError(f"the REPL rejected the header: {reply}")
            if reply.errors():
                raise HeaderError(f"the header does not elaborate: {reply.errors()[0].data}")
            self.header_loads += 1
            self._headers[header] = reply.env
            return reply.env, self.generation

    async def kill(self) -> None:
        """Kill the process group we started (by its id) and reap it."""
        proc, self._proc = self._proc, None
        self._headers.clear()  # env ids die with the process
        await kill_group(proc)

    async def close(self) -> None:
        await self.kill()


def default_repl_command(project: Path) -> tuple[str, ...]:
    """``lake env <project>/repl/.lake/build/bin/repl``, run inside the Lean project."""
    return ("lake", "env", str(project / "repl" / ".lake" / "build" / "bin" / "repl"))


def split_command(command: str | Sequence[str]) -> tuple[str, ...]:
    import shlex

    return tuple(shlex.split(command)) if isinstance(command, str) else tuple(command)


NEIGHBOUR_RESTARTS = 8
"""Restarts by other searches sharing a process that one request waits out before giving up."""


async def request_on_header(process: ReplProcess, header: str, text: str) -> tuple[Reply, int]:
    """The reply to ``text`` run as a command on ``header``'s environment, and the process generation it ran in.

    A restart by a neighbouring search (``StaleState``) says nothing about the command: it is run
    again on the reloaded header, up to ``NEIGHBOUR_RESTARTS`` times (then ``StaleState`` is raised).
    """
    for attempt in range(NEIGHBOUR_RESTARTS):
        env, generation = await process.header_env(header)
        try:
            reply = await process.request(Command(cmd=text, env=env), process.settings.command_timeout, generation)
        except StaleState:
            if attempt == NEIGHBOUR_RESTARTS - 1:
                raise
            continue
        return reply, generation
    raise AssertionError("unreachable")
