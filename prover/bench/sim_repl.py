"""A simulated Lean REPL for `prover bench`: the REPL's wire format with configurable costs.

Usage: python -m prover.bench.sim_repl [--import-delay S] [--check-delay S] [--audit-delay S]

A command without ``env`` (a header) sleeps the import cost. With ``env``: a statement
closed by ``sorry`` answers one sorry with a proof state (and the printed type when the
command asks ``#check``); a whole theorem (a statement ending in ``:= by`` and its proof)
sleeps the check cost; ``#print axioms`` sleeps the audit cost and reports ``propext``.
A tactic answers one goal. Benchmarking only.
"""

from __future__ import annotations

import argparse
import json
import sys
import time


def _info(line: int, text: str) -> dict:
    return {"severity": "info", "pos": {"line": line, "column": 0}, "endPos": {"line": line, "column": 1}, "data": text}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--import-delay", type=float, default=0.5)
    parser.add_argument("--check-delay", type=float, default=0.0)
    parser.add_argument("--audit-delay", type=float, default=0.0)
    args = parser.parse_args()
    envs = states = 0
    buffer: list[str] = []
    for line in sys.stdin:
        if line.strip():
            buffer.append(line)
            continue
        if not buffer:
            continue
        request = json.loads("".join(buffer))
        buffer = []
        reply: dict
        if "cmd" in request and "env" not in request:
            time.sleep(args.import_delay)
            reply = {"env": envs}
        elif "cmd" in request:
            text = request["cmd"]
            first = text.split("\n", 1)[0]
            if text.startswith("#print axioms "):
                time.sleep(args.audit_delay)
                name = first.split("_root_.")[-1].strip()
                reply = {"messages": [_info(1, f"'{name}' depends on axioms: [propext]"), _info(4, f"@{name} : T")]}
            elif first.endswith(" sorry"):
                name = first.split()[1]
                reply = {"sorries": [{"proofState": states, "goal": "⊢ True"}]}
                if "#check" in text:
                    reply["messages"] = [_info(4, f"@{name} : T")]
                states += 1
            else:
                time.sleep(args.check_delay)
                reply = {}
            reply["env"] = envs
        else:
            reply = {"proofState": states, "goals": ["⊢ True"], "proofStatus": "Incomplete: open goals remain"}
            states += 1
        if "env" in reply:
            envs += 1
        sys.stdout.write(json.dumps(reply, indent=1) + "\n\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
