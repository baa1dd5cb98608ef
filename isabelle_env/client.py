"""A typed async client for PISA's tagged command strings over gRPC (grpc.aio).

Every call has a deadline. Isabelle itself does not honour client deadlines: a
step that passes its deadline leaves the server busy, which is why the caller
(`PisaServer`) restarts the server after a `PisaTimeout`.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from dataclasses import dataclass

import grpc

from isabelle_env import pisa_pb2 as pb
from isabelle_env import pisa_pb2_grpc as pb_grpc

logger = logging.getLogger(__name__)

MAX_MESSAGE = 10 * 1024 * 1024
APPLY = "<apply to top level state>"
HAMMER = "<hammer>"
ERROR_MARKERS = ("Step error", "Unknown error", "error:")
LOST_STATE = "Didn't find top level state of given name"


class PisaError(RuntimeError):
    """The PISA server could not be reached or failed outside of a proof step."""


class PisaTimeout(PisaError):
    """A call passed its deadline; Isabelle may still be busy with it."""

    def __init__(self, what: str, seconds: float) -> None:
        super().__init__(f"PISA did not answer {what} within {seconds:g} s")
        self.seconds = seconds


class PisaStepError(PisaError):
    """Isabelle rejected a step; ``message`` is its error text."""


class PisaStateLost(PisaError):
    """The server does not hold a state we named: its Isabelle was replaced (another initialisation)."""


@dataclass(frozen=True, slots=True)
class StepResult:
    """The new state's name, its text, and whether the proof is finished (proof level 0)."""

    name: str
    text: str
    finished: bool


def is_error(reply: str) -> bool:
    return any(marker in reply for marker in ERROR_MARKERS)


class PisaClient:
    """One connection to one PISA server (one theory at a time)."""

    def __init__(self, address: str, *, timeout: float = 30.0, step_timeout: float = 10.0) -> None:
        self.address = address
        self.timeout = timeout
        self.step_timeout = step_timeout
        self._channel = grpc.aio.insecure_channel(
            address,
            options=[("grpc.max_send_message_length", MAX_MESSAGE), ("grpc.max_receive_message_length", MAX_MESSAGE)],
        )
        self._stub = pb_grpc.ServerStub(self._channel)
        self._names = itertools.count()

    def new_name(self, prefix: str = "s") -> str:
        """A state name not used before on this connection (PISA silently overwrites a reused one)."""
        return f"{prefix}{next(self._names)}"

    async def wait_ready(self, timeout: float) -> None:
        """Return once the server accepts connections (a health check, not a sleep)."""
        try:
            async with asyncio.timeout(timeout):
                await self._channel.channel_ready()
        except TimeoutError:
            raise PisaTimeout("the connection", timeout) from None

    async def _call(self, method, request, what: str, timeout: float):  # type: ignore[no-untyped-def]
        try:
            return await method(request, timeout=timeout)
        except grpc.aio.AioRpcError as error:
            if error.code() == grpc.StatusCode.DEADLINE_EXCEEDED:
                raise PisaTimeout(what, timeout) from None
            raise PisaError(f"PISA at {self.address} failed on {what}: {error.code().name} {error.details()}") from None

    async def initialise(self, isa_path: str, working_directory: str, theory_file: str) -> str:
        """Point the server at Isabelle, a working directory and a theory file; create state `default`."""
        await self._call(self._stub.InitialiseIsabelle, pb.IsaPath(path=isa_path), "InitialiseIsabelle", self.timeout)
        await self._call(
            self._stub.IsabelleWorkingDirectory,
            pb.IsaPath(path=working_directory),
            "IsabelleWorkingDirectory",
            self.timeout,
        )
        await self._call(
            self._stub.IsabelleContext, pb.IsaContext(context=theory_file), "IsabelleContext", self.timeout
        )
        return await self.command("<initialise>", self.timeout)

    async def command(self, text: str, timeout: float | None = None) -> str:
        """One tagged command; the reply's state text."""
        timeout = timeout if timeout is not None else self.timeout
        reply = await self._call(
            self._stub.IsabelleCommand, pb.IsaCommand(command=text), text.split(">")[0] + ">", timeout
        )
        if reply.state.startswith(LOST_STATE):
            # PISA answers this as text; taken as a state it would silently continue someone else's proof.
            raise PisaStateLost(f"PISA at {self.address}: {reply.state.strip()}")
        return reply.state

    async def step(self, state: str, action: str, new_state: str, timeout: float | None = None) -> StepResult:
        """Apply an Isar/apply step to a named state, giving a new named state."""
        reply = await self.command(
            f"{APPLY} {state} {APPLY} {action} {APPLY} {new_state}",
            timeout if timeout is not None else self.step_timeout,
        )
        if is_error(reply):
            raise PisaStepError(reply.strip())
        return StepResult(new_state, reply, await self.is_finished(new_state))

    async def get_state(self, name: str) -> str:
        return await self.command(f"<get state> {name}")

    async def is_finished(self, name: str) -> bool:
        return (await self.command(f"<is finished> {name}")).strip() == "true"

    async def parse_text(self, text: str) -> list[str]:
        """Isabelle's split of a theory text into its commands."""
        reply = await self.command(f"<parse text> {text}")
        if is_error(reply):
            raise PisaStepError(reply.strip())
        return [step.strip() for step in reply.split("<SEP>") if step.strip()]

    async def clone(self, name: str, new_name: str) -> None:
        await self.command(f"<clone> {name} <clone> {new_name}")

    async def delete(self, name: str) -> None:
        await self.command(f"<delete> {name}")

    async def hammer(self, state: str, new_state: str, timeout: float = 60.0) -> str:
        """Run Sledgehammer on a state; the tactic it found (the new state holds the result)."""
        reply = await self.command(f"{APPLY} {state} {APPLY} normalhammer {APPLY} {new_state}", timeout)
        if reply.strip() == "error" or is_error(reply) or HAMMER not in reply:
            raise PisaStepError(f"Sledgehammer found nothing: {reply.strip()[:300]}")
        return reply.split(HAMMER, 1)[0].strip()

    async def exit(self) -> None:
        try:
            await self.command("exit", self.timeout)
        except PisaError as error:
            logger.debug("exit: %s", error)

    async def close(self) -> None:
        await self._channel.close()
