"""Inside a sandbox without network: run a server command and expose its loopback TCP port as a Unix socket.

Usage (as a script, inside the sandbox): python -I relay.py --socket PATH --port PORT -- COMMAND ARGS...

The sandbox has its own network namespace, so its loopback is not the host's: a
client outside reaches the server only through the Unix socket, which lives in a
folder mounted into the sandbox. The socket appears once the server accepts TCP
connections, so its existence is the readiness signal. The relay exits with the
command's status; bubblewrap's PID namespace ends everything else with it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import subprocess
import sys

POLL = 0.05


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError, OSError):
        while data := await reader.read(1 << 16):
            writer.write(data)
            await writer.drain()
    with contextlib.suppress(ConnectionError, OSError):
        writer.close()


async def _forward(port: int, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
    try:
        server_reader, server_writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        client_writer.close()
        return
    await asyncio.gather(_pipe(client_reader, server_writer), _pipe(server_reader, client_writer))


async def _ready(port: int, child: subprocess.Popen[bytes]) -> bool:
    while child.poll() is None:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(POLL)
            continue
        writer.close()
        return True
    return False


async def relay(socket_path: str, port: int, command: list[str]) -> int:
    """Start ``command``; once it listens on ``port``, forward ``socket_path`` to it until it exits."""
    child = subprocess.Popen(command)
    if await _ready(port, child):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(socket_path)
        server = await asyncio.start_unix_server(lambda r, w: _forward(port, r, w), path=socket_path)
        async with server:
            while child.poll() is None:
                await asyncio.sleep(POLL * 4)
    return child.wait()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--socket", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the server command after --")
    sys.exit(asyncio.run(relay(args.socket, args.port, command)))


if __name__ == "__main__":
    main()
