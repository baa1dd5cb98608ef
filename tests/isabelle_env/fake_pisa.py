"""A PISA stand-in: a real gRPC server (package `server`, service `Server`) with PISA's command grammar.

It models what Portal-to-ISAbelle's ``PisaOneStage.scala`` / ``PisaOS.scala`` and Isabelle
do with each request:

- ``IsabelleContext`` starts a new Isabelle: every named state of the old one is gone;
  ``<initialise>`` names its toplevel state ``default`` ("Toplevel state 'default' is ready").
  A state the instance does not hold answers "Didn't find top level state of given name: X".
- ``default`` is outside any theory: only ``theory ... begin`` runs there; anything else is
  "Bad context for command". Theory commands are refused inside a proof the same way.
- ``<parse text>`` splits at command keywords (comments stay with the command before them);
  a step runs all its commands; an error answers ``Step error: ...`` and names no new state.
- ``<is finished>`` is ``true`` at proof level 0 (toplevel, theory, also after ``oops``).
- ``sorry``/``\\<proof>`` close a goal, ``oops`` drops the theorem, ``tactic``/``raw_tactic``
  with ``Skip_Proof.cheat_tac`` close any goal once quick_and_dirty is on (as Isabelle's
  cheat_tac demands), a ``method_setup`` method built on cheat_tac closes any goal, and an
  axiom ``False`` closes any goal that uses it: what real Isabelle does with these exploits.
- ``<get fact definition> S <get fact definition> N`` prints theorem N of S's theory, or
  fails the call (PISA lets the Isabelle exception escape).

- ``IsabelleContext`` reads the theory file it is given, as ``PisaOS`` does (``Files.readString``):
  a file the server cannot see fails the call.

It runs in-process (``FakePisa(script).start()``) or as a process of its own (``command(script)``:
``python fake_pisa.py --port P --script S.json --stubs DIR``, which needs nothing of the project but
the ``isabelle_env`` folder, so it runs in the sandbox too) so that a hung step can be ended by
killing it. Goals are keyed by their command text, comments and layout aside:

  {"works":  {"<goal>": ["by simp", ...]},     methods that close a goal (after by/apply)
   "hammer": {"<goal>": "by (metis foo)"},      what Sledgehammer finds for it
   "hang":   ["by hang"],                       steps that never answer
   "slow":   {"by slow": 0.5},                  steps that answer after so many seconds
   "proves_instead": {"by odd": "\\"True\\""},     a closing method that stores another proposition
   "step_delay": 0.01,
   "probe":  {"<step>": {...}}}                 ML that tries to escape (tests/lean_env/fake_repl.py's probe)
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import re
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path

import grpc

if __name__ == "__main__":  # a process of its own: the project's folder comes from --stubs
    sys.path.insert(0, str(Path(sys.argv[sys.argv.index("--stubs") + 1]).parent))

from isabelle_env import pisa_pb2 as pb
from isabelle_env import pisa_pb2_grpc as pb_grpc
from isabelle_env.lexer import tokenize

STUBS = Path(__file__).resolve().parents[2] / "isabelle_env"
PROBE_FROM = [Path(__file__).resolve().parents[1] / "lean_env" / "fake_repl.py"]
APPLY = "<apply to top level state>"
FACT = "<get fact definition>"
LOST = "Didn't find top level state of given name: "
GOALS = ("theorem", "lemma", "corollary", "proposition", "schematic_goal")
OPENERS = ("have", "show", "hence", "thus", "obtain", "consider")
THEORY_LEVEL = [
    "theory",
    "axiomatization",
    "consts",
    "definition",
    "declare",
    "setup",
    "local_setup",
    "ML",
    "ML_val",
    "ML_command",
    "ML_file",
    "method_setup",
    "attribute_setup",
    "oracle",
    "notation",
    "lemmas",
    "fun",
    "primrec",
    "datatype",
    "end",
]
PROOF_LEVEL = [
    "proof",
    "qed",
    "by",
    "apply",
    "done",
    "next",
    "using",
    "unfolding",
    "then",
    "from",
    "with",
    "note",
    "fix",
    "assume",
    "define",
    "let",
    "case",
    "also",
    "moreover",
    "finally",
    "ultimately",
    "sorry",
    "oops",
    "ML_prf",
    "sledgehammer",
    "nitpick",
    "supply",
    "include",
    "including",
    "subgoal",
]
COMMANDS = frozenset((*GOALS, *OPENERS, *THEORY_LEVEL, *PROOF_LEVEL))


class Abort(Exception):
    """An exception PISA does not catch: the call fails with gRPC status UNKNOWN."""


def squash(text: str) -> str:
    """A command's text, comments and layout aside."""
    kept = "".join(t.text for t in tokenize(text) if t.kind not in ("comment", "formal_comment"))
    return " ".join(kept.split())


def commands(text: str) -> list[str]:
    """Isabelle's split into commands: each runs up to the next command keyword (ValueError: no command first)."""
    tokens = [t for t in tokenize(text) if t.kind not in ("space", "comment", "formal_comment")]
    starts = [
        t.start
        for t in tokens
        if (t.kind == "word" and t.text in COMMANDS) or (t.kind == "symbol" and t.text == "\\<proof>")
    ]
    if tokens and (not starts or starts[0] != tokens[0].start):
        raise ValueError(f"Outer syntax error: command expected, but {tokens[0].text!r} was found")
    cuts = [0, *starts[1:], len(text)] if starts else [0, len(text)]
    return [text[a:b] for a, b in itertools.pairwise(cuts) if text[a:b].strip()]


def rendering(statement: str) -> str:
    """How Isabelle prints a stored theorem: its proposition, without the theorem's and premises' names."""
    body = squash(statement).split(None, 1)[1]
    body = re.sub(r"^[\w']+(\[[^]]*\])?:\s*", "", body) if re.match(r"^[\w']+(\[[^]]*\])?:(?!:)", body) else body
    return re.sub(r"\b(assumes|and)\s+[\w']+:(?!:)\s*", r"\1 ", body)


@dataclass(frozen=True, slots=True)
class State:
    """One named toplevel state: outside any theory, in a theory, or in a proof of ``theorem``."""

    mode: str = "toplevel"
    facts: tuple[tuple[str, str], ...] = ()
    cheats: frozenset[str] = frozenset()  # methods set up with cheat_tac, axioms stating False, quick_and_dirty
    goals: tuple[str, ...] = ()
    theorem: tuple[str, str] | None = None  # (name, proposition) of the theorem being proved
    used: tuple[str, ...] = field(default=())  # facts chained in by using/from/with


class FakePisa(pb_grpc.ServerServicer):
    def __init__(self, script: dict) -> None:
        self.works: dict[str, list[str]] = script.get("works", {})
        self.hammer: dict[str, str] = script.get("hammer", {})
        self.hang: list[str] = script.get("hang", [])
        self.slow: dict[str, float] = script.get("slow", {})
        self.proves_instead: dict[str, str] = script.get("proves_instead", {})
        self.step_delay: float = script.get("step_delay", 0.0)
        self.probes: dict[str, dict] = script.get("probe", {})
        self.theory = ""
        self.states: dict[str, State] | None = None  # None: no Isabelle yet (PISA's pisaos is null)
        self.instances = 0
        self.lost = 0  # commands that named a state the current Isabelle instance does not hold
        self.commands: list[str] = []
        self.server: grpc.aio.Server | None = None

    async def InitialiseIsabelle(self, request, context):
        return pb.IsaMessage(message=f"----------Path to Isabelle source----------\n{request.path}")

    async def IsabelleWorkingDirectory(self, request, context):
        return pb.IsaMessage(message=f"----------Path to Isabelle working directory----------\n{request.path}")

    async def IsabelleContext(self, request, context):
        # PisaOneStage builds a new PisaOS here: a new Isabelle, none of the old named states.
        try:  # and PisaOS reads the theory file first
            self.theory = Path(request.context).read_text()
        except OSError as error:
            await context.abort(grpc.StatusCode.UNKNOWN, f"java.nio.file.NoSuchFileException: {error}")
        self.states = {}
        self.instances += 1
        return pb.IsaMessage(message=f"----------Path to Isabelle theory file----------\n{request.context}")

    async def IsabelleSetSearchWidth(self, request, context):
        return pb.IsaMessage(message="This shouldn't be used here.")

    async def IsabelleSearchIndexCommand(self, request, context):
        return pb.IsaState(state="This shouldn't be used here.")

    async def IsabelleCommand(self, request, context):
        self.commands.append(request.command)
        try:
            return pb.IsaState(state=await self.handle(request.command.strip()))
        except Abort as error:
            await context.abort(grpc.StatusCode.UNKNOWN, str(error))

    def _get(self, name: str) -> State | None:
        found = (self.states or {}).get(name)
        if found is None:
            self.lost += 1
        return found

    async def handle(self, command: str) -> str:
        if self.states is None:
            raise Abort("java.lang.NullPointerException (no IsabelleContext yet)")
        if command.startswith("<initialise>"):
            self.states["default"] = State()
            return "Toplevel state 'default' is ready"
        if command.startswith("<parse text>"):
            try:
                return "<SEP>".join(commands(command.removeprefix("<parse text>").strip()))
            except ValueError as error:  # PISA lets Isabelle's parse error escape
                raise Abort(f"{error}") from None
        if command.startswith(("<is finished>", "<get state>")):
            tag = "<is finished>" if command.startswith("<is finished>") else "<get state>"
            name = command.removeprefix(tag).strip()
            state = self._get(name)
            if state is None:
                return LOST + name
            return ("false" if state.mode == "proof" else "true") if tag == "<is finished>" else describe(state)
        if command.startswith(FACT):
            _, name, fact = command.split(FACT)
            return self.fact(name.strip(), fact.strip())
        if command.startswith("<clone>"):
            _, old, new = command.split("<clone>")
            self.states[new.strip()] = self.states[old.strip()]
            return f"Successfully copied top level state named: {new.strip()}"
        if command.startswith("<delete>"):
            name = command.removeprefix("<delete>").strip()
            if self.states.pop(name, None) is None:
                return LOST + name
            return f"Successfully deleted state named: {name}"
        if command.startswith(APPLY):
            _, old, action, new = command.split(APPLY)
            return await self.apply(old.strip(), action.strip(), new.strip())
        if command == "exit":
            return "Exited"
        return "Unrecognised operation."

    def fact(self, name: str, fact: str) -> str:
        state = self._get(name)
        if state is None:
            return LOST + name
        found = dict(state.facts).get(fact)
        if found is None:
            raise Abort(f'de.unruh.isabelle.control.IsabelleMLException: Undefined fact: "{fact}"')
        return found

    async def apply(self, old: str, action: str, new: str) -> str:
        await asyncio.sleep(self.step_delay)
        state = self._get(old)
        if state is None:
            return LOST + old
        if action in self.hang:
            await asyncio.sleep(3600)
        await asyncio.sleep(self.slow.get(action, 0.0))
        if action in self.probes:
            return "Step error: PROBE " + json.dumps(probe(self.probes[action]))
        if action.startswith("normalhammer"):
            found = self.hammer.get(state.goals[-1]) if state.goals else None
            if found is None:
                return "Step error: Outer syntax error: command expected, but identifier error was found"
            result = self.run(state, found)
            if isinstance(result, str):
                return result
            self.states[new] = result
            return f"{found} <hammer> {describe(result)}"
        try:
            result = self.run(state, action.removeprefix("<allow more time>").strip())
        except ValueError as error:
            return f"Step error: {error}"
        if isinstance(result, str):
            return result
        self.states[new] = result
        return describe(result)

    def run(self, state: State, text: str) -> State | str:
        for command in commands(text):
            state = self.command(state, command)
            if isinstance(state, str):
                return state
        return state

    def command(self, state: State, text: str) -> State | str:
        squashed = squash(text)
        head = squashed.split()[0] if squashed else ""
        if head not in COMMANDS and head != "\\<proof>":
            return f"Step error: Outer syntax error: command expected, but {head!r} was found"
        if state.mode == "toplevel":
            if head == "theory" and "begin" in squashed.split():
                return State(mode="theory")
            return f'Step error: Bad context for command "{head}"'
        if state.mode == "theory":
            return self.theory_command(state, head, text)
        if head in THEORY_LEVEL or head in GOALS:
            return f'Step error: Bad context for command "{head}"'
        return self.proof_command(state, head, squashed)

    def theory_command(self, state: State, head: str, text: str) -> State | str:
        squashed = squash(text)
        if head in GOALS:
            name = re.match(r"^\w+\s+([\w']+)", squashed)
            named = name.group(1) if name and re.match(r"^\w+\s+[\w']+(\[[^]]*\])?:(?!:)", squashed) else ""
            return replace(state, mode="proof", goals=(squashed,), theorem=(named, rendering(text)), used=())
        if head == "end":
            return State()
        if head == "axiomatization":  # the corpus's axioms contradict each other: they prove anything
            axioms = re.findall(r"([\w']+):\s*\"([^\"]*)\"", squashed)
            return replace(state, facts=(*state.facts, *axioms), cheats=state.cheats | {n for n, _ in axioms})
        if head == "declare" and "quick_and_dirty" in squashed:
            return replace(state, cheats=state.cheats | {"quick_and_dirty"})
        if head == "method_setup" and "cheat_tac" in squashed:
            return replace(state, cheats=state.cheats | {squashed.split()[1]})
        if head == "oracle":  # an oracle's theorems are whatever its ML function returns
            return replace(state, cheats=state.cheats | {squashed.split()[1]})
        if head in ("ML", "setup", "local_setup") and "add_axiom" in squashed:  # ML adding an axiom
            return replace(state, cheats=state.cheats | set(re.findall(r"Binding.name \"(\w+)\"", squashed)))
        if head in THEORY_LEVEL:
            return state  # ML, setup, oracle, consts, definitions: accepted, effects not modelled
        return f'Step error: Bad context for command "{head}"'

    def proof_command(self, state: State, head: str, squashed: str) -> State | str:
        if head in ("sorry", "\\<proof>"):
            return self.close(state, squashed)
        if head == "oops":
            return replace(state, mode="theory", goals=(), theorem=None, used=())
        if head in OPENERS:
            return replace(state, goals=(*state.goals, squashed), used=())
        if head in ("using", "from", "with", "note", "unfolding"):
            cheats = {"quick_and_dirty"} if "quick_and_dirty" in squashed else set()
            return replace(state, used=(*state.used, *squashed.split()[1:]), cheats=state.cheats | cheats)
        if head == "qed":
            return self.close(state, squashed) if state.goals else "Step error: qed with nothing to close"
        if head == "done":
            if state.goals and state.goals[-1].startswith("solved: "):
                return self.close(state, squashed)
            return 'Step error: Failed to finish proof\nAt command "done"'
        if head in ("by", "apply"):
            if not state.goals:
                return "Step error: No proof state"
            if not self.closes(state, squashed):
                return f'Step error: Failed to finish proof\nAt command "{head}"'
            if head == "apply":
                return replace(state, goals=(*state.goals[:-1], f"solved: {state.goals[-1]}"))
            return self.close(state, squashed)
        return state  # proof, then, fix, assume, next, ML_prf, sledgehammer, ...: no goal changes

    def closes(self, state: State, squashed: str) -> bool:
        # Isabelle decodes `\ddd` in quoted text before it reads a method name from it (Symbol_Pos).
        squashed = re.sub(r"\\(\d{3})", lambda m: chr(int(m[1])), squashed)
        method = squashed.split(None, 1)[1] if len(squashed.split()) > 1 else ""
        goal = state.goals[-1]
        if method in self.works.get(goal, []) or squashed in self.works.get(goal, []):
            return True
        if squashed == self.hammer.get(goal) or squashed in self.proves_instead:
            return True
        words = set(re.findall(r"[\w'.]+", squashed)) | set(state.used)
        if "cheat_tac" in squashed and re.search(r"\b(tactic|raw_tactic)\b", squashed):
            return "quick_and_dirty" in state.cheats or "quick_and_dirty" in squashed
        return bool(words & (state.cheats - {"quick_and_dirty"}))

    def close(self, state: State, squashed: str) -> State:
        goals = state.goals[:-1]
        if goals or state.theorem is None:
            return replace(state, goals=goals, used=())
        name, proposition = state.theorem
        proposition = self.proves_instead.get(squashed, proposition)
        facts = (*state.facts, (name, proposition)) if name else state.facts
        return replace(state, mode="theory", goals=(), theorem=None, facts=facts, used=())

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


def command(script: Path, pid_file: Path | None = None) -> str:
    """The `--pisa-command` that starts this stand-in on ``{port}`` as a process of its own."""
    here = Path(__file__).resolve()
    line = f"{sys.executable} {here} --port {{port}} --script {script} --stubs {STUBS} --probe-from {PROBE_FROM[0]}"
    return line + (f" --pid-file {pid_file}" if pid_file is not None else "")


def describe(state: State) -> str:
    """PISA's state text (Toplevel.string_of_state): the goal in a proof, nothing at theory level."""
    if state.mode != "proof" or not state.goals:
        return ""
    return "proof (prove)\ngoal (1 subgoal):\n 1. " + state.goals[-1]


async def _serve(port: int, script: dict, pid_file: str | None) -> None:
    fake = FakePisa(script)
    await fake.start(port)
    if pid_file:
        with open(pid_file, "a") as handle:
            handle.write(f"{os.getpid()}\n")
    await fake.server.wait_for_termination()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--script", required=True)
    parser.add_argument("--pid-file", help="append this process's id here once it serves (counts starts)")
    parser.add_argument("--stubs", help="the project's isabelle_env folder (stubs and lexer)")
    parser.add_argument("--probe-from", help="the file with the escape probe (tests/lean_env/fake_repl.py)")
    args = parser.parse_args()
    if args.probe_from:
        PROBE_FROM[0] = Path(args.probe_from)
    with open(args.script) as handle:
        script = json.load(handle)
    asyncio.run(_serve(args.port, script, args.pid_file))


if __name__ == "__main__":
    main()
