"""Starting, health-checking, restarting and stopping PISA servers (only the ones we started)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from isabelle_env.client import PisaClient, PisaError, PisaTimeout
from isabelle_env.contain import Exchange, InboxClient, pisa_policy, relayed
from sandbox import kill_group, spawn, wrap

logger = logging.getLogger(__name__)


class PisaUnavailable(RuntimeError):
    """PISA cannot start here; the message says what is missing and how to get it."""


@dataclass(frozen=True, slots=True)
class PisaSettings:
    """Where Isabelle and PISA live, and how long to wait."""

    isa_path: str
    """The Isabelle2022 installation (the folder with bin/isabelle)."""
    jar: str | None = None
    """PISA-assembly-0.1.jar; the server class is chosen by port."""
    command: tuple[str, ...] = ()
    """A whole command starting a server on ``{port}`` instead of the jar (any PISA speaker)."""
    start_timeout: float = 300.0
    step_timeout: float = 10.0
    call_timeout: float = 120.0
    heap_dir: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    sandbox: bool = False
    """Run each server under bubblewrap (`isabelle_env.contain`), reached through a Unix socket."""

    def argv(self, port: int) -> list[str]:
        if self.command:
            return [part.format(port=port) for part in self.command]
        if not self.jar:
            raise PisaUnavailable("no PISA jar given: pass --pisa-jar PATH, or --pisa-address of a running server")
        return ["java", "-cp", self.jar, f"pisa.server.PisaOneStageServer{port}"]


def check_heaps(settings: PisaSettings) -> None:
    """Isabelle's HOL heaps must be built before PISA can start a session."""
    if settings.command:
        return  # a stand-in or a custom launcher: nothing of Isabelle to check
    heap_root = Path(settings.heap_dir or Path.home() / ".isabelle")
    heaps = list(heap_root.glob("Isabelle*/heaps/*/HOL")) if heap_root.exists() else []
    if not heaps:
        raise PisaUnavailable(
            f"no HOL heap under {heap_root}. Build it once: "
            f"{settings.isa_path}/bin/isabelle build -b -D {settings.isa_path}/src/HOL/ -j 8"
        )


class PisaServer:
    """One PISA server process on one port, with a client connected to it."""

    def __init__(self, settings: PisaSettings, port: int) -> None:
        self.settings = settings
        self.port = port
        self.address = f"127.0.0.1:{port}"
        self.client: PisaClient | None = None
        self._proc: asyncio.subprocess.Process | None = None
        self._exchange: Exchange | None = None
        self.restarts = 0

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    async def start(self) -> PisaClient:
        check_heaps(self.settings)
        argv = self.settings.argv(self.port)
        exchange = Exchange() if self.settings.sandbox else None
        if exchange is not None:
            argv = relayed(argv, self.port)
            policy = pisa_policy(argv, exchange, self.settings.isa_path, self.settings.heap_dir, self.settings.env)
            argv = wrap(argv, policy)
        try:
            self._proc = await spawn(
                argv,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
                env=None if exchange is not None else {**os.environ, **self.settings.env},
            )
        except FileNotFoundError as error:
            if exchange is not None:
                exchange.remove()
            raise PisaUnavailable(
                f"cannot start PISA ({error.filename} not found); see `prover setup isabelle`"
            ) from None
        self._exchange = exchange
        timeouts = {"timeout": self.settings.call_timeout, "step_timeout": self.settings.step_timeout}
        client = InboxClient(exchange, **timeouts) if exchange is not None else PisaClient(self.address, **timeouts)
        try:
            if exchange is not None:
                await self._socket_ready(exchange)
            await client.wait_ready(self.settings.start_timeout)
        except PisaError as error:
            await client.close()
            await self.stop()
            if isinstance(error, PisaTimeout):
                raise PisaUnavailable(
                    f"PISA did not answer on {client.address} within {self.settings.start_timeout:g} s"
                ) from None
            raise PisaUnavailable(f"PISA on {client.address} did not start: {error}") from None
        self.client = client
        return client

    async def _socket_ready(self, exchange: Exchange) -> None:
        """The relay makes the socket once PISA listens inside: its existence is the health check."""
        try:
            async with asyncio.timeout(self.settings.start_timeout):
                while not exchange.socket.exists():
                    if self._proc is None or self._proc.returncode is not None:
                        raise PisaError("the sandboxed server exited before it listened (--sandbox off to compare)")
                    await asyncio.sleep(0.05)
        except TimeoutError:
            raise PisaTimeout("the start", self.settings.start_timeout) from None

    async def restart(self) -> PisaClient:
        """Isabelle ignores client deadlines: a step past its limit needs a fresh server."""
        logger.warning("restarting the PISA server on port %d", self.port)
        self.restarts += 1
        await self.stop()
        return await self.start()

    async def stop(self) -> None:
        """Stop the process group we started, by its id."""
        client, self.client = self.client, None
        if client is not None:
            await client.close()
        proc, self._proc = self._proc, None
        await kill_group(proc)
        exchange, self._exchange = self._exchange, None
        if exchange is not None:
            exchange.remove()


class PisaPool:
    """PISA servers lent to one theory at a time: a server holds ONE Isabelle, which a new theory replaces.

    ``InitialiseIsabelle``/``IsabelleContext`` start a fresh Isabelle in the server with none of
    the earlier named states, so two problems on one server would destroy each other's states.
    Parallelism means several servers; the pool holds ours and other people's alike.
    """

    def __init__(self, servers: Sequence[PisaServer | RemotePisa]) -> None:
        self.servers = list(servers)
        self._free: asyncio.Queue[PisaServer | RemotePisa] = asyncio.Queue()
        for server in self.servers:
            self._free.put_nowait(server)

    @classmethod
    def of_ports(cls, settings: PisaSettings, ports: Sequence[int]) -> PisaPool:
        """Servers we start, one per port."""
        return cls([PisaServer(settings, port) for port in ports])

    @classmethod
    def of_addresses(cls, settings: PisaSettings, addresses: Sequence[str]) -> PisaPool:
        """Servers someone else runs, one per HOST:PORT."""
        return cls([RemotePisa(address, settings) for address in addresses])

    @contextlib.asynccontextmanager
    async def lease(self):  # type: ignore[no-untyped-def]
        server = await self._free.get()
        try:
            if server.client is None:
                await server.start()
            yield server
        finally:
            self._free.put_nowait(server)

    async def close(self) -> None:
        await asyncio.gather(*(server.stop() for server in self.servers))


class RemotePisa:
    """A server someone else runs (`--pisa-address`): never started or stopped by us."""

    def __init__(self, address: str, settings: PisaSettings) -> None:
        self.address = address
        self.settings = settings
        self.client: PisaClient | None = None
        self.restarts = 0

    async def start(self) -> PisaClient:
        client = PisaClient(self.address, timeout=self.settings.call_timeout, step_timeout=self.settings.step_timeout)
        try:
            await client.wait_ready(30)
        except PisaError:
            await client.close()
            raise PisaUnavailable(
                f"no PISA server answers at {self.address}: start one there, or fix --pisa-address"
            ) from None
        self.client = client
        return client

    async def restart(self) -> PisaClient:
        raise PisaUnavailable(
            f"the PISA server at {self.address} is stuck on a step past its limit and is not ours to restart"
        )

    async def stop(self) -> None:
        if self.client is not None:
            await self.client.close()
            self.client = None
