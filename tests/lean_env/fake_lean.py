"""A stand-in for `lean -o FILE.olean FILE.lean`, for the kernel level's compile step.

Usage: python fake_lean.py --script SCRIPT.json -o OUT.olean FILE.lean

It elaborates the file's theorem the way fake_repl.py does (same script) and writes,
in place of Lean's binary .olean, a JSON file with what SafeVerify reads from one: the
imports and each new constant (name, kind, type, axioms), and whether the kernel
would accept it on replay (False when a tactic listed under "unchecked" in the script
added it behind the kernel's back). Like `lean`, it exits 1 and prints the error
messages when the file has errors; warnings (a `sorry`) do not fail it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def fake_repl_module(path: str | None):  # type: ignore[no-untyped-def]
    """fake_repl.py, from beside this file or from --fake-repl (a file argument: mounted in a sandbox)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("fake_repl", path or Path(__file__).with_name("fake_repl.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--script", required=True)
    parser.add_argument("--fake-repl", help="fake_repl.py (default: beside this file)")
    parser.add_argument("-o", dest="out", required=True)
    parser.add_argument("file")
    args = parser.parse_args()
    script = json.loads(Path(args.script).read_text())
    text = Path(args.file).read_text()
    lines = text.split("\n")
    start = next(i for i, line in enumerate(lines) if line.startswith(("theorem ", "lemma ", "example ")))
    imports = [line.split()[1] for line in lines[:start] if line.startswith("import ")]
    statement, body = lines[start], "\n".join(lines[start + 1 :])
    repl = fake_repl_module(args.fake_repl).FakeRepl(script, None, 0.0)
    base = repl.new_env()
    goal = repl.goal_of(statement.removesuffix(" sorry"))
    if goal is None:
        print(f"{args.file}:{start + 1}:0: error: unknown statement", file=sys.stderr)
        return 1
    if statement.endswith(" sorry"):
        reply = repl.target(statement, goal, "")
        print(f"{args.file}:{start + 1}:0: warning: declaration uses 'sorry'")
    else:
        reply = repl.check(statement, goal, body, base)
    errors = [m for m in reply.get("messages", []) if m["severity"] == "error"]
    for message in reply.get("messages", []):
        print(f"{args.file}:{message['pos']['line']}:0: {message['severity']}: {message['data']}")
    if errors:
        return 1
    unchecked = set(script.get("unchecked", []))
    used = {line.strip() for line in body.split("\n")}
    constants = [
        {"name": name, "kind": "theorem", "type": printed, "axioms": axioms, "kernel_ok": not (used & unchecked)}
        for name, (axioms, printed) in repl.decls[reply["env"]].items()
    ]
    Path(args.out).write_text(json.dumps({"imports": imports, "constants": constants}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
