"""What a PISA server (and the Isabelle it starts) may see inside the sandbox, and how we reach it.

PISA serves gRPC on a fixed TCP port, and Isabelle runs model-written ML, which can
open sockets. So the server gets a network namespace of its own like every other
prover process, and the sandbox's relay (`sandbox/relay.py`) exposes its loopback
port as a Unix socket in a folder shared with the host: the client connects to
``unix:PATH``; nothing inside can reach the host's loopback or the network.

Read-only inside: the system, Isabelle (``--isa-path``), Isabelle's user folder
with the prebuilt heaps (``~/.isabelle``: a writable one would let ML code plant a
heap or a settings file that later checks load), Java, the jar and the command's
file arguments, and an inbox where the client copies each theory file before
pointing PISA at it. Writable: the private /tmp and the socket's folder.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

from isabelle_env.client import PisaClient
from sandbox import RELAY, Mount, Policy, command_mounts, host_env, path_mounts

INBOX = "/pisa/inbox"
SOCKET_DIR = "/pisa/socket"
SOCKET_NAME = "grpc.sock"
ISABELLE_VARIABLES = ("JAVA_HOME", "ISABELLE_HOME_USER", "ISABELLE_IDENTIFIER")


class Exchange:
    """The host folders shared with one contained server: its inbox and its socket's folder."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="pisa-sandbox-"))
        self.inbox = self.root / "inbox"
        self.sockets = self.root / "socket"
        self.inbox.mkdir()
        self.sockets.mkdir()

    @property
    def socket(self) -> Path:
        return self.sockets / SOCKET_NAME

    @property
    def address(self) -> str:
        return f"unix:{self.socket}"

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def relayed(argv: list[str], port: int) -> list[str]:
    """The server command run behind the relay that exposes ``port`` as the exchange's socket."""
    return [
        sys.executable,
        "-I",
        str(RELAY),
        "--socket",
        f"{SOCKET_DIR}/{SOCKET_NAME}",
        "--port",
        str(port),
        "--",
        *argv,
    ]


def pisa_policy(
    argv: list[str], exchange: Exchange, isa_path: str, heap_dir: str | None, env: dict[str, str]
) -> Policy:
    """The policy for a PISA server command (already wrapped by `relayed`)."""
    variables = {k: os.environ[k] for k in ISABELLE_VARIABLES if k in os.environ}
    isabelle_home = heap_dir or str(Path.home() / ".isabelle")
    mounts = (
        *command_mounts(argv),
        *path_mounts([isa_path, isabelle_home, *(v for k, v in variables.items() if k == "JAVA_HOME")]),
        Mount(str(exchange.inbox), INBOX),
        Mount(str(exchange.sockets), SOCKET_DIR, writable=True),
    )
    return Policy(mounts=tuple({m.inside: m for m in mounts}.values()), env=host_env(extra={**variables, **env}))


class InboxClient(PisaClient):
    """A client of a contained server: each theory file is copied into the server's inbox first."""

    def __init__(self, exchange: Exchange, *, timeout: float, step_timeout: float) -> None:
        super().__init__(exchange.address, timeout=timeout, step_timeout=step_timeout)
        self.exchange = exchange

    async def initialise(self, isa_path: str, working_directory: str, theory_file: str) -> str:
        """As `PisaClient.initialise`, with the theory seen through the inbox.

        The copy keeps the folder's and the file's names: PISA picks Isabelle's session by the
        path (a path naming ``miniF2F`` runs HOL). The previous copy is gone by then (Isabelle read
        it when it started).
        """
        for old in self.exchange.inbox.iterdir():
            shutil.rmtree(old, ignore_errors=True)
        folder = Path(working_directory).name or "work"
        (self.exchange.inbox / folder).mkdir()
        shutil.copyfile(theory_file, self.exchange.inbox / folder / Path(theory_file).name)
        inside = f"{INBOX}/{folder}"
        return await super().initialise(isa_path, inside, f"{inside}/{Path(theory_file).name}")
