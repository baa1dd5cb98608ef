"""A PISA stand-in: a real gRPC server (package `server`, service `Server`) with PISA's command grammar.

It runs in-process (``FakePisa(script).start()``) or as a process of its own
(``command(script)``: ``python fake_pisa.py --port P --script S.json --stubs DIR``, which needs
nothing of the project but the gRPC stubs' folder, so it runs in the sandbox too) so that a hung
step can be ended by killing it. Like PISA, ``IsabelleContext`` reads the theory file it is
given. Proof states are stacks of open statements:

  {"works":  {"<statement>": ["by simp", ...]},   tactics that close a statement
   "hammer": {"<statement>": "by (metis foo)"},    what Sledgehammer finds for it
   "hang":   ["by hang"],                          tactics that never answer
   "probe":  {"<tactic>": {...}}}                  ML that tries to escape (tests/lean_env/fake_repl.py's probe)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
from pathlib import Path

import grpc

if __name__ == "__main__":  # a process of its own: the stubs' folder comes from --stubs
    sys.path.insert(0, str(Path(sys.argv[sys.argv.index("--stubs") + 1]).parent))

from isabelle_env import pisa_pb2 as pb
from isabelle_env import pisa_pb2_grpc as pb_grpc

STUBS = Path(__file__).resolve().parents[2] / "isabelle_env"
PROBE_FROM = [Path(__file__).resolve().parents[1] / "lean_env" / "fake_repl.py"]

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
        self.probes: dict[str, dict] = script.get("probe", {})
        self.theory = ""
        self.states: dict[str, tuple[str, ...]] = {}
        self.commands: list[str] = []
        self.server: grpc.aio.Server | None = None

    async def InitialiseIsabelle(self, request, context):
        return pb.IsaMessage(message=f"Isabelle at {request.path}")

    async def IsabelleWorkingDirectory(self, request, context):
        return pb.IsaMessage(message=f"working directory {request.path}")

    async def IsabelleContext(self, request, context):
        try:  # PISA's PisaOS reads the theory file it is pointed at
            self.theory = Path(request.context).read_text()
        except OSError as error:
            await context.abort(grpc.StatusCode.UNKNOWN, f"java.nio.file.NoSuchFileException: {error}")
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
            return "true" if self.states.get(name) == () and name != "default" else "false"
        if command.startswith("<get state>"):
            return self.describe(self.states.get(command.removeprefix("<get state>").strip(), ()))
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
        if old not in self.states:
            return f"Unknown error: no state named {old}"
        stack = self.states[old]
        if action in self.hang:
            await asyncio.sleep(3600)
        if action in self.probes:
            return "Step error: PROBE " + json.dumps(probe(self.probes[action]))
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


def probe(targets: dict) -> dict:
    """The Lean stand-in's escape attempts, loaded from its file (``--probe-from``: mounted in a sandbox)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("fake_repl", PROBE_FROM[0])
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.probe(targets)


def command(script: Path) -> str:
    """The `--pisa-command` that starts this stand-in on ``{port}`` as a process of its own."""
    here = Path(__file__).resolve()
    return f"{sys.executable} {here} --port {{port}} --script {script} --stubs {STUBS} --probe-from {PROBE_FROM[0]}"


async def _serve(port: int, script: dict) -> None:
    fake = FakePisa(script)
    await fake.start(port)
    await fake.server.wait_for_termination()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--script", required=True)
    parser.add_argument("--stubs", help="the folder of the gRPC stubs (isabelle_env)")
    parser.add_argument("--probe-from", help="the file with the escape probe (tests/lean_env/fake_repl.py)")
    args = parser.parse_args()
    if args.probe_from:
        PROBE_FROM[0] = Path(args.probe_from)
    with open(args.script) as handle:
        script = json.load(handle)
    asyncio.run(_serve(args.port, script))


if __name__ == "__main__":
    main()
