"""A stand-in for the Lean REPL executable, speaking its exact wire format for scripted theorems.

Usage: python fake_repl.py --script SCRIPT.json [--log LOG] [--import-delay SECONDS] [--step-delay SECONDS]

Requests are read up to a blank line; replies are pretty-printed JSON over several
lines followed by a blank line, like the real REPL's. The script (JSON):

  {"goals":  {"<statement text without proof>": "<initial goal>"},
   "states": {"<goal text>": {"<tactic>": <step>}},
   "axioms": {"<tactic>": ["sorryAx"]}}

A step is a list of goal texts (an empty list proves), or {"error": text} (Lean's
message form: error + `goals: []` + "Incomplete: contains sorry"), or {"lean_error":
text} (the `{"message": "Lean error: ..."}` form), or {"fault": "crash" | "hang" |
"garbage" | "oom"}, or {"sorry": true} (goals closed with a sorry warning), or {"probe": {...}}:
what a hostile tactic (`by_elab`, `#eval` with IO) would try, reported as a failed tactic whose
message is `PROBE {json}` (see `probe`).
Each header load (a `cmd` without `env`) appends a line to LOG. With --lean-path, each `import M`
of a header needs `M.olean` in a LEAN_PATH folder, as in a real project.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import sys
import time

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


class FakeRepl:
    resolve_imports = False  # --lean-path: imports must be found on LEAN_PATH, as in a real project

    def __init__(self, script: dict, log: str | None, import_delay: float, step_delay: float = 0.0) -> None:
        self.goals: dict[str, str] = script.get("goals", {})
        self.states: dict[str, dict] = script.get("states", {})
        self.axioms: dict[str, list[str]] = script.get("axioms", {})
        self.log = log
        self.import_delay = import_delay
        self.step_delay = step_delay
        self.next_env = 0
        self.next_state = 0
        self.proof_states: dict[int, str] = {}
        self.envs: set[int] = set()

    def new_env(self) -> int:
        self.envs.add(self.next_env)
        self.next_env += 1
        return self.next_env - 1

    def new_state(self, goal: str) -> int:
        self.proof_states[self.next_state] = goal
        self.next_state += 1
        return self.next_state - 1

    def handle(self, request: dict) -> dict:
        if "cmd" in request:
            return self.command(request)
        if "tactic" in request:
            time.sleep(self.step_delay)
            return self.tactic(request["tactic"], request["proofState"])
        return {"message": f"Lean error:\nunsupported request {sorted(request)}"}

    def command(self, request: dict) -> dict:
        text = request["cmd"]
        if "env" not in request:  # a header (imports and options), or a whole file with sorries
            if self.log:
                with open(self.log, "a") as handle:
                    handle.write(f"{os.getpid()}\n")
            time.sleep(self.import_delay)
            missing = unresolved_imports(text) if self.resolve_imports else []
            if missing:
                return {"messages": [self.message("error", missing[0])], "env": self.new_env()}
            sorries = self.file_sorries(text)
            return {"sorries": sorries, "env": self.new_env()} if sorries else {"env": self.new_env()}
        if request["env"] not in self.envs:
            return {"message": f"Lean error:\nunknown environment {request['env']}"}
        if "#print axioms" in text:
            return self.check(text)
        for statement, goal in self.goals.items():
            if text.strip() == statement.strip() + " sorry":
                return {
                    "sorries": [
                        {
                            "proofState": self.new_state(goal),
                            "pos": {"line": 1, "column": 1},
                            "goal": goal,
                            "endPos": {"line": 1, "column": 6},
                        }
                    ],
                    "messages": [self.message("warning", "declaration uses `sorry`")],
                    "env": self.new_env(),
                }
        return {"messages": [self.message("error", f"unknown statement: {text[:80]}")], "env": self.new_env()}

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
    def message(severity: str, data: str) -> dict:
        return {"severity": severity, "pos": {"line": 1, "column": 0}, "endPos": {"line": 1, "column": 1}, "data": data}

    def check(self, text: str) -> dict:
        """A whole theorem: statement := by, indented tactics, then #print axioms NAME."""
        head, _, tail = text.partition("\n")
        name = text.rsplit("#print axioms", 1)[1].strip()
        statement = head.removesuffix(" by").rstrip()
        goal = next((g for s, g in self.goals.items() if s.removesuffix(" by").rstrip() == statement), None)
        env = self.new_env()
        if goal is None:
            return {"messages": [self.message("error", "statement mismatch")], "env": env}
        body = tail.split("\n\n#print axioms")[0]
        tactics = [line[2:] for line in body.split("\n") if line.strip()]
        used: list[str] = ["propext"]
        current = [goal]
        messages = []
        for tactic in tactics:
            if not current:
                return {"messages": [self.message("error", "no goals to be proved")], "env": env}
            step = self.states.get(current[0], {}).get(tactic)
            if step is None or (isinstance(step, dict) and ("error" in step or "lean_error" in step)):
                return {"messages": [self.message("error", f"tactic {tactic!r} failed")], "env": env}
            if isinstance(step, dict) and step.get("sorry"):
                messages.append(self.message("warning", "declaration uses `sorry`"))
                step = []
            used += self.axioms.get(tactic, [])
            current = list(step) + current[1:]
        if current:
            return {"messages": [self.message("error", "unsolved goals\n" + current[0])], "env": env}
        listed = ", ".join(dict.fromkeys(used))
        messages.append(self.message("info", f"'{name}' depends on axioms: [{listed}]"))
        return {"messages": messages, "env": env}

    def tactic(self, tactic: str, state_id: int) -> dict:
        if state_id not in self.proof_states:
            return {"message": f"Lean error:\nunknown proof state {state_id}"}
        goal = self.proof_states[state_id]
        step = self.states.get(goal, {}).get(tactic)
        if step is None:
            return {"message": f"Lean error:\n<input>:1:0: unknown tactic {tactic!r}"}
        if isinstance(step, dict):
            return self.special(step)
        return {
            "proofStatus": "Completed" if not step else "Incomplete: open goals remain",
            "proofState": self.new_state("\n\n".join(step)),
            "goals": list(step),
        }

    def special(self, step: dict) -> dict:
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--script", required=True)
    parser.add_argument("--log")
    parser.add_argument("--import-delay", type=float, default=0.0)
    parser.add_argument("--step-delay", type=float, default=0.0)
    parser.add_argument("--lean-path", action="store_true", help="resolve imports on LEAN_PATH")
    args = parser.parse_args()
    with open(args.script) as handle:
        repl = FakeRepl(json.load(handle), args.log, args.import_delay, args.step_delay)
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
