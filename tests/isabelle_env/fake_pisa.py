"""A PISA stand-in: a real gRPC server (package `server`, service `Server`) with PISA's command grammar.

It runs in-process (``FakePisa(script).start()``) or as a process of its own
(``python -m tests.isabelle_env.fake_pisa --port P --script S.json``) so that a hung
step can be ended by killing it. Proof states are stacks of open statements:

  {"works":  {"<statement>": ["by simp", ...]},   tactics that close a statement
   "hammer": {"<statement>": "by (metis foo)"},    what Sledgehammer finds for it
   "hang":   ["by hang"]}                          tactics that never answer
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re

import grpc

from isabelle_env import pisa_pb2 as pb
from isabelle_env import pisa_pb2_grpc as pb_grpc

APPLY = "<apply to top level state>"
OPENERS = ("have ", "show ", "then show ", "hence ", "thus ", "obtain ", "then have ")


def split_steps(text: str) -> list[str]:
    """Isabelle-like commands of a theorem text: a trailing `by ...` is a command of its own."""
    steps: list[str] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("(*"):
            continue
        if line.startswith(("fixes", "assumes", "and ", "shows")) and steps:
            steps[-1] += " " + line
            continue
        match = re.match(r"^(.*?)\s+(by .*|sledgehammer|sorry)$", line)
        if match and match.group(1) and not line.startswith("by "):
            steps.extend([match.group(1), match.group(2)])
        else:
            steps.append(line)
    return steps


class FakePisa(pb_grpc.ServerServicer):
    def __init__(self, script: dict) -> None:
        self.works: dict[str, list[str]] = script.get("works", {})
        self.hammer: dict[str, str] = script.get("hammer", {})
        self.hang: list[str] = script.get("hang", [])
        self.states: dict[str, tuple[str, ...]] = {}
        self.step_delay: float = script.get("step_delay", 0.0)
        self.instances = 0
        self.lost = 0  # commands that named a state the current Isabelle instance does not hold
        self.commands: list[str] = []
        self.server: grpc.aio.Server | None = None

    async def InitialiseIsabelle(self, request, context):
        return pb.IsaMessage(message=f"Isabelle at {request.path}")

    async def IsabelleWorkingDirectory(self, request, context):
        return pb.IsaMessage(message=f"working directory {request.path}")

    async def IsabelleContext(self, request, context):
        # PISA starts a new Isabelle here (a new PisaOS): every named state of the old one is gone.
        self.states = {}
        self.instances += 1
        return pb.IsaMessage(message=f"context {request.context}")

    async def IsabelleSetSearchWidth(self, request, context):
        return pb.IsaMessage(message="This shouldn't be used here.")

    async def IsabelleSearchIndexCommand(self, request, context):
        return pb.IsaState(state="This shouldn't be used here.")

    async def IsabelleCommand(self, request, context):
        command = request.command
        self.commands.append(command)
        return pb.IsaState(state=await self.handle(command.strip()))

    async def handle(self, command: str) -> str:
        if command == "<initialise>":
            self.states = {"default": ()}
            return "Successfully initialised"
        if command.startswith("<parse text>"):
            return "<SEP>".join(split_steps(command.removeprefix("<parse text>")))
        if command.startswith("<is finished>"):
            name = command.removeprefix("<is finished>").strip()
            if name not in self.states:
                return f"Didn't find top level state of given name: {name}"
            return "true" if self.states.get(name) == () and name != "default" else "false"
        if command.startswith("<get state>"):
            name = command.removeprefix("<get state>").strip()
            if name not in self.states:
                return f"Didn't find top level state of given name: {name}"
            return self.describe(self.states[name])
        if command.startswith("<clone>"):
            _, old, new = command.split("<clone>")
            self.states[new.strip()] = self.states[old.strip()]
            return f"Successfully copied top level state named: {old.strip()}"
        if command.startswith("<delete>"):
            self.states.pop(command.removeprefix("<delete>").strip(), None)
            return "deleted"
        if command.startswith(APPLY):
            _, old, action, new = command.split(APPLY)
            return await self.apply(old.strip(), action.strip(), new.strip())
        if command == "exit":
            return "Destroyed"
        return "Unrecognised operation."

    @staticmethod
    def describe(stack: tuple[str, ...]) -> str:
        return "proof (prove)\ngoal (1 subgoal):\n 1. " + stack[-1] if stack else ""

    async def apply(self, old: str, action: str, new: str) -> str:
        await asyncio.sleep(self.step_delay)
        if old not in self.states:
            self.lost += 1
            return f"Didn't find top level state of given name: {old}"
        stack = self.states[old]
        if action in self.hang:
            await asyncio.sleep(3600)
        if action == "normalhammer":
            found = self.hammer.get(stack[-1]) if stack else None
            if found is None:
                return "error"
            self.states[new] = stack[:-1]
            return f"{found} <hammer> {self.describe(stack[:-1])}"
        result = self.step(stack, action)
        if isinstance(result, str):
            return result
        self.states[new] = result
        return self.describe(result)

    def step(self, stack: tuple[str, ...], action: str) -> tuple[str, ...] | str:
        if action.startswith(("theorem", "lemma")):
            return (*stack, action)
        if action in ("proof -", "proof", "using assms", "done", "next") or action.startswith("using "):
            return stack
        if action.startswith(OPENERS):
            return (*stack, action)
        if action == "qed":
            return stack[:-1] if stack else "Step error: qed with nothing to close"
        if action in ("sorry", "oops"):
            return stack[:-1]
        if action.startswith(("by ", "apply ")):
            if not stack:
                return "Step error: No proof state"
            # A tactic Sledgehammer found works as an ordinary step too (Isabelle reconstructed it).
            if action in self.works.get(stack[-1], []) or action == self.hammer.get(stack[-1]):
                return stack[:-1]
            return f'Step error: Failed to finish proof\nAt command "{action.split()[0]}"'
        return f"Step error: Outer syntax error: unknown command {action.split()[0]!r}"

    async def start(self, port: int = 0) -> int:
        self.server = grpc.aio.server()
        pb_grpc.add_ServerServicer_to_server(self, self.server)
        bound = self.server.add_insecure_port(f"127.0.0.1:{port}")
        await self.server.start()
        return bound

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.stop(grace=None)


async def _serve(port: int, script: dict) -> None:
    fake = FakePisa(script)
    await fake.start(port)
    await fake.server.wait_for_termination()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--script", required=True)
    args = parser.parse_args()
    with open(args.script) as handle:
        script = json.load(handle)
    asyncio.run(_serve(args.port, script))


if __name__ == "__main__":
    main()
