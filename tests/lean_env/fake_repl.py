"""A stand-in for the Lean REPL executable, speaking its exact wire format for scripted theorems.

Usage: python fake_repl.py --script SCRIPT.json [--log LOG] [--import-delay SECONDS] [--step-delay SECONDS]

Requests are read up to a blank line; replies are pretty-printed JSON over several
lines followed by a blank line, like the real REPL's. The script (JSON):

  {"goals":  {"<statement text without proof>": "<initial goal>"},
   "states": {"<goal text>": {"<tactic>": <step>}},
   "paths":  {"<JSON list of the tactics from the root>": {"<tactic>": <step>}},
   "axioms": {"<tactic>": ["sorryAx"]}}

Every proof state remembers the tactic path that made it (from its theorem's root); a step
under "paths" applies only to the state made by exactly that path and wins over "states"
(two paths can reach the same goal text in states that differ where the text does not show).

A step is a list of goal texts (an empty list proves), or {"error": text} (Lean's
message form: error + `goals: []` + "Incomplete: contains sorry"), or {"lean_error":
text} (the `{"message": "Lean error: ..."}` form), or {"fault": "crash" | "hang" |
"garbage" | "oom"}, or {"sorry": true} (goals closed with a sorry warning), or
{"allocate": bytes, "goals": [...]} (a tactic that needs that much address space: out of
memory under a smaller RLIMIT_AS, else the goals), or {"varies": [[goals...], [goals...], ...]}
(a tactic whose result is not a function of the state, as under a time or heartbeat limit: the
n-th run in any process gets the n-th list, the last one from then on; runs are counted in
SCRIPT.runs), or {"huge": N} (one goal of N characters on one reply line), or
{"per_process": [goals, goals, ...]} (the goals of the Kth process started with this script:
Lean answering differently after a restart; processes are counted in SCRIPT.starts), or
{"probe": {...}}: what a hostile tactic (`by_elab`, `#eval` with IO) would try, reported as a
failed tactic whose message is `PROBE {json}` (see `probe`).
Each header load (a `cmd` without `env`, or an unpickle without one) appends a line to LOG; with
--requests, every request is appended to that file as a JSON line, with the pid of the process.
With --lean-path, each `import M` of a header needs `M.olean` in a LEAN_PATH folder, as in a real
project.

Proof states are pickled and unpickled as the real REPL does it (prover/bench/repl_pickling.py): the
file carries the state's goals, tactic path and header, so a state unpickled in another process goes
on exactly where it was; an unpickle into an environment of another header gives a state whose
tactics fail.

Whole-theorem checks (the statement's first line ending in `:= by`, then tactics indented
by two) are elaborated tactic by tactic (a tactic that fails, or that the script does not know, gets
an error spanning it on its line, as Lean reports it); the environment they return holds the theorem
with the axioms its tactics used and its printed type, which `#print axioms _root_.NAME`
and `#check @_root_.NAME` report. Optional script keys model what hostile proofs make
the real Lean do:

  "retype":    {"<tactic>": "<printed type>"}  meta code that changed the stored type
  "unchecked": ["<tactic>", ...]               meta code that added the theorem without the
                                                kernel (read by fake_lean.py / fake_safeverify.py)
  "check_faults": {"<tactic>": <fault step>}  a fault only whole-theorem checks meet
  "unpickled": {"<goal text>": [goals...]}    how a state shows after unpickling (the REPL restores
                                               constants, not scoped notation)
  "replies":   [{"contains": "<text>", "reply": {...}, "decl": [NAME, [axioms], TYPE|null]}]
               the exact reply the real REPL gives to a command containing <text>
               (the env id is filled in; "decl" is what that environment then holds)

A check whose body has `have NAME : TYPE := ...` steps is a sketch: each `have` adds `NAME : TYPE`
to the goal's hypotheses, and each gap (`:= by sorry`, `:= sorry`, or `:= by` with `sorry` alone
on the next line) is answered in `sorries` with a proof state on the have's own goal (the same
hypotheses, target TYPE) and its position, as the real REPL does (see `sketch_check`); tactics
on those proof states follow "states" like any other. A `have` whose value is a deeper block
(a filled gap) must close its goal.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import mmap
import os
import re
import resource
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # also when loaded by file (fake_pisa's probe)
from fake_sketch import HAVE, SketchElaboration

HEADER_ENV_BASE = 0


def pretty(obj: dict) -> str:
    """Multi-line JSON, as the real REPL prints its replies."""
    return json.dumps(obj, ensure_ascii=False, indent=1)


def unresolved_imports(text: str) -> list[str]:
    """Lean's complaint for each ``import M`` with no ``M.olean`` in a ``LEAN_PATH`` entry (as `lake env` sets it)."""
    entries = [e for e in os.environ.get("LEAN_PATH", "").split(os.pathsep) if e]
    missing = []
    for line in text.splitlines():
        if line.startswith("import "):
            module = line.split()[1]
            relative = module.replace(".", os.sep) + ".olean"
            if not any(os.path.isfile(os.path.join(entry, relative)) for entry in entries):
                missing.append(
                    f"unknown module prefix '{module.split('.')[0]}'\n\nNo directory '{module}' or file "
                    f"'{relative}' in the search path entries:\n" + "\n".join(entries)
                )
    return missing


class FakeRepl(SketchElaboration):
    resolve_imports = False  # --lean-path: imports must be found on LEAN_PATH, as in a real project
    pickle_delay = unpickle_delay = 0.0

    def __init__(self, script: dict, log: str | None, import_delay: float, step_delay: float = 0.0) -> None:
        self.goals: dict[str, str] = script.get("goals", {})
        self.states: dict[str, dict] = script.get("states", {})
        self.paths: dict[str, dict] = script.get("paths", {})
        self.ordinal = 1  # which process started with this script this is (see count_start)
        self.axioms: dict[str, list[str]] = script.get("axioms", {})
        self.retype: dict[str, str] = script.get("retype", {})
        self.replies: list[dict] = script.get("replies", [])
        self.check_faults: dict[str, dict] = script.get("check_faults", {})
        self.unpickled: dict[str, list[str]] = script.get("unpickled", {})
        self.log = log
        self.import_delay = import_delay
        self.step_delay = step_delay
        self.runs_file: str | None = None
        self.next_env = 0
        self.next_state = 0
        self.proof_states: dict[int, str] = {}
        self.state_paths: dict[int, tuple[str, ...]] = {}
        self.state_goals: dict[int, list[str]] = {}
        self.state_headers: dict[int, str] = {}
        self.foreign: set[int] = set()  # unpickled into an environment without their header
        self.envs: set[int] = set()
        self.env_headers: dict[int, str] = {}
        self.header = ""  # the header of the environment the current command runs in
        self.decls: dict[int, dict[str, tuple[list[str], str]]] = {}  # env -> name -> (axioms, printed type)

    def count_start(self, script_path: str) -> None:
        """Count this process in SCRIPT.starts (under a lock: pools start several at once)."""
        with open(script_path + ".starts", "a+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            handle.seek(0)
            self.ordinal = len(handle.read().split()) + 1
            handle.write(f"{os.getpid()}\n")

    def step_for(self, goal: str, path: tuple[str, ...], tactic: str):  # type: ignore[no-untyped-def]
        """The scripted step of ``tactic`` at a state: by its exact path first, then by its goal text."""
        by_path = self.paths.get(json.dumps(list(path), ensure_ascii=False), {})
        if tactic in by_path:
            return by_path[tactic]
        step = self.states.get(goal, {}).get(tactic)
        if isinstance(step, dict) and "per_process" in step:
            choices = step["per_process"]
            return choices[min(self.ordinal, len(choices)) - 1]
        return step

    def new_env(self) -> int:
        self.envs.add(self.next_env)
        self.env_headers[self.next_env] = self.header
        self.next_env += 1
        return self.next_env - 1

    def new_state(self, goal: str, path: tuple[str, ...] = (), goals: list[str] | None = None) -> int:
        self.proof_states[self.next_state] = goal
        self.state_paths[self.next_state] = path
        self.state_goals[self.next_state] = [goal] if goals is None else goals
        self.state_headers[self.next_state] = self.header
        self.next_state += 1
        return self.next_state - 1

    def state_record(self, state: int) -> tuple[list[str], tuple[str, ...], str] | None:
        if state not in self.proof_states:
            return None
        return self.state_goals[state], self.state_paths[state], self.state_headers[state]

    def restore(self, goals: list[str], path: tuple[str, ...], header: str, *, foreign: bool, unpickled: bool) -> int:
        self.header = header
        if unpickled:  # the REPL restores constants, not scoped notation: goals can print otherwise
            goals = self.unpickled.get("\n\n".join(goals), goals)
        state = self.new_state("\n\n".join(goals), path, goals)
        if foreign:
            self.foreign.add(state)
        return state

    def env_header(self, env: int) -> str | None:
        return self.env_headers.get(env)

    def import_header(self, header: str) -> None:
        self.load_header()

    def load_header(self) -> None:
        if self.log:
            with open(self.log, "a") as handle:
                handle.write(f"{os.getpid()}\n")
        time.sleep(self.import_delay)

    def handle(self, request: dict) -> dict:
        if "cmd" in request:
            self.header = self.env_headers.get(request.get("env", -1), request["cmd"])
            return self.command(request)
        if "tactic" in request:
            time.sleep(self.step_delay)
            return self.tactic(request["tactic"], request["proofState"])
        if ("pickleTo" in request and "proofState" in request) or "unpickleProofStateFrom" in request:
            # Loaded when first needed (most processes never pickle), from its file: a sandboxed stand-in sees
            # only the files named on its command line (--pickling-from), not the project's packages.
            pickling = _pickling_model()
            return (pickling.pickle_state if "pickleTo" in request else pickling.unpickle_state)(self, request)
        return {"message": f"Lean error:\nunsupported request {sorted(request)}"}

    def command(self, request: dict) -> dict:
        text = request["cmd"]
        if "env" not in request:  # a header (imports and options), or a whole file with sorries
            self.load_header()
            missing = unresolved_imports(text) if self.resolve_imports else []
            if missing:
                return {"messages": [self.message("error", missing[0])], "env": self.new_env()}
            sorries = self.file_sorries(text)
            return {"sorries": sorries, "env": self.new_env()} if sorries else {"env": self.new_env()}
        if request["env"] not in self.envs:
            return {"message": f"Lean error:\nunknown environment {request['env']}"}
        for scripted in self.replies:
            if scripted["contains"] in text:
                return self.scripted(scripted, text)
        if text.startswith("#print axioms "):
            return self.audit(text, request["env"])
        statement, _, rest = text.partition("\n")
        goal = self.goal_of(statement.removesuffix(" sorry"))
        if goal is not None and statement.endswith(" sorry"):
            return self.target(statement, goal, rest)
        if goal is not None and statement.endswith(":= by"):
            return self.check(statement, goal, rest, request["env"])
        return {"messages": [self.message("error", f"unknown statement: {text[:80]}")], "env": self.new_env()}

    def scripted(self, scripted: dict, text: str) -> dict:
        reply = json.loads(json.dumps(scripted["reply"]))
        if "message" in reply and len(reply) == 1:
            return reply  # the request itself failed: no environment
        env = self.new_env()
        reply["env"] = env
        if scripted.get("decl"):
            name, axioms, printed = scripted["decl"]
            statement = text.split("\n", 1)[0]
            self.decls[env] = {name: (axioms, printed or self.printed_type(name, statement))}
        return reply

    @staticmethod
    def signature(statement: str) -> str:
        """What follows `theorem NAME` / `example`, up to `:= by`: the theorem's type, in this stand-in."""
        words = statement.split()
        if words and words[0] in ("theorem", "lemma"):
            words = words[2:]
        elif words and words[0] == "example":
            words = words[1:]
        return " ".join(words).removesuffix(":= by").strip()

    def goal_of(self, statement: str) -> str | None:
        wanted = self.signature(statement)
        return next((g for s, g in self.goals.items() if self.signature(s) == wanted), None)

    @staticmethod
    def name_of(statement: str) -> str:
        words = statement.split()
        return words[1] if words and words[0] in ("theorem", "lemma") else "_example"

    def printed_type(self, name: str, statement: str) -> str:
        """`#check @NAME` under pp.all: the stand-in prints the signature in a fixed full form."""
        return f"@{name} : pp.all[{self.signature(statement)}]"

    def target(self, statement: str, goal: str, rest: str) -> dict:
        """`STATEMENT sorry`, optionally followed by `set_option pp.all true in #check @_root_.NAME`."""
        env = self.new_env()
        statement = statement.removesuffix(" sorry")
        name = self.name_of(statement)
        self.decls[env] = {name: (["sorryAx"], self.printed_type(name, statement))}
        messages = [self.message("warning", "declaration uses 'sorry'")]
        if "#check @_root_." in rest:
            line = 1 + rest.split("\n").index(next(x for x in rest.split("\n") if x.startswith("#check"))) + 1
            messages.append(self.message("info", self.printed_type(name, statement), line))
        sorry = {"proofState": self.new_state(goal), "pos": {"line": 1, "column": 1}, "goal": goal}
        sorry["endPos"] = {"line": 1, "column": 6}
        return {"sorries": [sorry], "messages": messages, "env": env}

    def file_sorries(self, text: str) -> list[dict]:
        """A sorry for each scripted statement in a file whose proof is `sorry`, at the sorry's line."""
        found = []
        for statement, goal in self.goals.items():
            start = text.find(statement)
            if start < 0:
                continue
            after = text[start + len(statement) :]
            if not after.lstrip().startswith("sorry"):
                continue
            at = start + len(statement) + (len(after) - len(after.lstrip()))
            line = text.count("\n", 0, at) + 1
            found.append(
                {
                    "proofState": self.new_state(goal),
                    "pos": {"line": line, "column": 2},
                    "goal": goal,
                    "endPos": {"line": line, "column": 7},
                }
            )
        return found

    @staticmethod
    def message(severity: str, data: str, line: int = 1, column: int = 0, end_column: int | None = None) -> dict:
        return {
            "severity": severity,
            "pos": {"line": line, "column": column},
            "endPos": {"line": line, "column": column + 1 if end_column is None else end_column},
            "data": data,
        }

    def check(self, statement: str, goal: str, body: str, base_env: int) -> dict:
        """A whole theorem: the statement's first line ending in `:= by`, then its tactics indented by 2.

        Like Lean, a theorem whose proof fails is still added (with `sorryAx` from error recovery).
        A body with `have NAME : TYPE := ...` steps is a sketch (see `sketch_check`).
        """
        if any(HAVE.fullmatch(line[2:]) for line in body.split("\n") if line.startswith("  have")):
            return self.sketch_check(statement, goal, body)
        env = self.new_env()
        name = self.name_of(statement)
        tactics = [line[2:] for line in body.split("\n") if line.strip()]
        used: list[str] = ["propext"]
        current: list | None = [goal]
        messages: list[dict] = []
        path: tuple[str, ...] = ()
        numbered = [(n, line[2:]) for n, line in enumerate(body.split("\n"), start=2) if line.strip()]
        for number, tactic in numbered:  # numbered as Lean numbers the lines: blank ones count
            if tactic.lstrip().startswith("--"):  # a line comment, which Lean skips
                continue
            current, path = self.check_tactic(tactic, current, path, number, messages, used)
            if current is None:
                break
        else:
            if current:
                messages.append(self.message("error", "unsolved goals\n" + current[0], 1))
                used.append("sorryAx")
        printed = next((self.retype[t] for t in tactics if t in self.retype), self.printed_type(name, statement))
        self.decls[env] = {name: (list(dict.fromkeys(used)), printed)}
        return {"messages": messages, "env": env} if messages else {"env": env}

    def check_tactic(
        self, tactic: str, current: list, path: tuple[str, ...], number: int, messages: list, used: list
    ) -> tuple[list | None, tuple[str, ...]]:
        """One tactic of a whole-theorem check: the goals after it (None once it failed, its error logged)."""
        traced = re.fullmatch(r'trace "((?:[^"\\]|\\.)*)"', tactic)
        if traced:  # `trace "..."` logs its text as an info message and changes nothing
            messages.append(self.message("info", json.loads(f'"{traced.group(1)}"'), number))
            return current, path
        step = self.step_for(current[0], path, tactic) if current else None
        path = (*path, tactic)
        step = self.check_faults.get(tactic, step)
        if isinstance(step, dict) and "fault" in step:
            step = self.fault_in_check(step)
        if not current:
            messages.append(self.message("error", "no goals to be proved", number))
        elif step is None or (isinstance(step, dict) and ("error" in step or "lean_error" in step)):
            # Like Lean, the error spans the failing tactic (after the block's two-space indent).
            messages.append(self.message("error", f"tactic {tactic!r} failed", number, 2, 2 + len(tactic)))
        elif isinstance(step, dict) and step.get("sorry"):
            messages.append(self.message("warning", "declaration uses 'sorry'", 1))
            used.append("sorryAx")
            return current[1:], path
        if any(m["severity"] == "error" for m in messages):
            used.append("sorryAx")
            return None, path
        used += self.axioms.get(tactic, [])
        return list(step) + current[1:], path

    def fault_in_check(self, step: dict) -> list | dict:
        """A fault scripted for a tactic strikes whole-theorem checks too; with "once": PATH only the first time."""
        once = step.get("once")
        if once and os.path.exists(once):
            return step.get("then", [])
        if once:
            with open(once, "w"):
                pass
        self.special(step)  # crashes or hangs the process
        return {"error": "unreachable"}

    def audit(self, text: str, env: int) -> dict:
        """`#print axioms _root_.NAME` (line 1) and `set_option pp.all true in #check @_root_.NAME` (line 4)."""
        name = text.split("\n", 1)[0].removeprefix("#print axioms ").strip().removeprefix("_root_.")
        decl = self.decls.get(env, {}).get(name)
        out_env = self.new_env()
        self.decls[out_env] = self.decls.get(env, {})
        if decl is None:
            unknown = f"unknown constant '{name}'"
            return {"messages": [self.message("error", unknown, 1), self.message("error", unknown, 4)], "env": out_env}
        axioms, printed = decl
        listed = ", ".join(axioms)
        report = f"'{name}' depends on axioms: [{listed}]" if axioms else f"'{name}' does not depend on any axioms"
        messages = [self.message("info", report, 1)]
        if "#check @_root_." in text:
            messages.append(self.message("info", printed, 4))
        return {"messages": messages, "env": out_env}

    def tactic(self, tactic: str, state_id: int) -> dict:
        if state_id not in self.proof_states:
            return {"message": f"Lean error:\nunknown proof state {state_id}"}
        goal = self.proof_states[state_id]
        if state_id in self.foreign:
            return {"message": "Lean error:\n<input>:1:0: unknown constant (the environment lacks the state's header)"}
        self.header = self.state_headers[state_id]
        path = (*self.state_paths[state_id], tactic)
        step = self.step_for(goal, self.state_paths[state_id], tactic)
        if step is None:
            return {"message": f"Lean error:\n<input>:1:0: unknown tactic {tactic!r}"}
        if isinstance(step, dict) and "huge" in step:
            step = ["x" * int(step["huge"])]
        if isinstance(step, dict):
            return self.special(step)
        return self.goals_reply(list(step), path)

    def goals_reply(self, goals: list[str], path: tuple[str, ...] = ()) -> dict:
        return {
            "proofStatus": "Completed" if not goals else "Incomplete: open goals remain",
            "proofState": self.new_state("\n\n".join(goals), path, goals),
            "goals": goals,
        }

    def earlier_runs(self, step: dict) -> int:
        """How many times ``step`` ran before, in this process or any other on the same script."""
        key = json.dumps(step, sort_keys=True, ensure_ascii=False)
        earlier = 0
        if self.runs_file and os.path.exists(self.runs_file):
            with open(self.runs_file) as handle:
                earlier = sum(line.rstrip("\n") == key for line in handle)
        if self.runs_file:
            with open(self.runs_file, "a") as handle:
                handle.write(key + "\n")
        return earlier

    def special(self, step: dict) -> dict:
        if "varies" in step:
            variants = step["varies"]
            return self.goals_reply(variants[min(self.earlier_runs(step), len(variants) - 1)])
        if "allocate" in step:
            try:  # address space only: no memory is touched when the allocation succeeds
                mmap.mmap(-1, step["allocate"]).close()
            except OSError:
                raise MemoryError from None
            return self.goals_reply(step.get("goals", []))
        fault = step.get("fault")
        if fault == "crash":
            sys.stdout.write('{"proofStatus": "Incomplete: open goals remain",\n "proofSt')
            sys.stdout.flush()
            sys.stderr.write("INTERNAL PANIC: out of fuel\n")
            sys.stderr.flush()
            os._exit(1)
        if fault == "hang":
            time.sleep(3600)
        if fault == "garbage":
            return {"__garbage__": True}
        if fault == "oom":
            hog = bytearray(1 << 34)  # beyond any test's RLIMIT_AS: raises MemoryError
            return {"size": len(hog)}
        if "probe" in step:
            return {"message": "Lean error:\nPROBE " + json.dumps(probe(step["probe"]))}
        if "lean_error" in step:
            return {"message": "Lean error:\n" + step["lean_error"]}
        if "error" in step:
            return {
                "proofStatus": "Incomplete: contains sorry",
                "proofState": self.new_state(""),
                "messages": [self.message("error", step["error"])],
                "goals": [],
            }
        if step.get("sorry"):
            return {
                "proofStatus": "Incomplete: contains sorry",
                "proofState": self.new_state(""),
                "messages": [self.message("warning", "declaration uses `sorry`")],
                "goals": [],
            }
        return {"message": "Lean error:\nbad script step"}


def _attempt(action) -> str:  # type: ignore[no-untyped-def]
    try:
        return "ok: " + str(action())
    except OSError as error:
        return f"denied: {type(error).__name__}: {error}"


def probe(targets: dict) -> dict:
    """Try to escape: connect to a TCP port on loopback, write files, read a file, signal a process,
    read an environment variable; report what worked and the address-space limit in force."""

    def connect() -> str:
        with socket.create_connection(("127.0.0.1", targets["connect"]), timeout=2) as conn:
            conn.sendall(b"escaped")
        return "connected"

    def write(path: str) -> int:
        with open(path, "w") as handle:
            return handle.write("escaped")

    def read() -> str:
        with open(targets["read"]) as handle:
            return handle.read()

    report = {"pid": os.getpid(), "rlimit_as": resource.getrlimit(resource.RLIMIT_AS)[0]}
    if "connect" in targets:
        report["connect"] = _attempt(connect)
    for path in targets.get("write", []):
        report[f"write {path}"] = _attempt(lambda path=path: write(path))
    if "read" in targets:
        report["read"] = _attempt(read)
    if "signal" in targets:
        report["signal"] = _attempt(lambda: os.kill(targets["signal"], 0))
    if "env" in targets:
        report["env"] = os.environ.get(targets["env"])
    return report


PICKLING_FROM = [
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "prover", "bench", "repl_pickling.py")
]


def _pickling_model():  # type: ignore[no-untyped-def]
    import importlib.util

    spec = importlib.util.spec_from_file_location("repl_pickling", PICKLING_FROM[0])
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--script", required=True)
    parser.add_argument("--log")
    parser.add_argument("--import-delay", type=float, default=0.0)
    parser.add_argument("--step-delay", type=float, default=0.0)
    parser.add_argument("--requests")
    parser.add_argument("--pickling-from", help="prover/bench/repl_pickling.py (named, so a sandbox mounts it)")
    parser.add_argument("--lean-path", action="store_true", help="resolve imports on LEAN_PATH")
    args = parser.parse_args()
    if args.pickling_from:
        PICKLING_FROM[0] = args.pickling_from
    with open(args.script) as handle:
        repl = FakeRepl(json.load(handle), args.log, args.import_delay, args.step_delay)
    repl.runs_file = args.script + ".runs"
    repl.count_start(args.script)
    repl.resolve_imports = args.lean_path
    buffer: list[str] = []
    for line in sys.stdin:
        if line.strip():
            buffer.append(line)
            continue
        if not buffer:
            continue
        request = json.loads("".join(buffer))
        buffer = []
        if args.requests:
            with open(args.requests, "a") as handle:
                handle.write(json.dumps({**request, "pid": os.getpid()}) + "\n")
        try:
            reply = repl.handle(request)
        except MemoryError:
            sys.stderr.write("uncaught exception: out of memory\n")
            sys.stderr.flush()
            os._exit(137)
        if reply.get("__garbage__"):
            sys.stdout.write("PANIC at Lean.Elab.Term: unreachable code\n\n")
        else:
            sys.stdout.write(pretty(reply) + "\n\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
