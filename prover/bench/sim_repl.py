"""A simulated Lean REPL for `prover bench`: the REPL's wire format with configurable costs.

Usage: python -m prover.bench.sim_repl [--import-delay S] [--check-delay S] [--audit-delay S]
       [--landscape SEED [--step-median S] [--step-sigma X] [--step-cap S] [--fail-rate F] [--proof-rate P]
        [--proof-depth D] [--pickle-delay S] [--unpickle-delay S]]

A command without ``env`` (a header) sleeps the import cost. With ``env``: a statement
closed by ``sorry`` answers one sorry with a proof state (and the printed type when the
command asks ``#check``); a whole theorem (a statement ending in ``:= by`` and its proof)
sleeps the check cost; ``#print axioms`` sleeps the audit cost and reports ``propext``.
Without ``--landscape`` a tactic answers one goal at once.

With ``--landscape SEED`` the theorem is a search problem: a tactic's result is a function of
(SEED, goal, tactic): it fails (``--fail-rate``), closes the goal at depth ``--proof-depth`` or
deeper (``--proof-rate``), or leads to a new goal; and it sleeps a latency drawn from a
log-normal (median ``--step-median``, ``--step-sigma``, capped at ``--step-cap``), also a
function of (SEED, goal, tactic), so every process and every configuration measured side by
side sees the same tactic take the same time. A whole theorem then checks by replaying its
tactics. Proof states are pickled as the real REPL does it (``prover.bench.repl_pickling``),
each pickle and unpickle sleeping its own cost. Benchmarking only.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import statistics
import sys
import time
from typing import Any

from prover.bench.repl_pickling import pickle_state, state_reply, unpickle_state


def _info(line: int, text: str) -> dict:
    return {"severity": "info", "pos": {"line": line, "column": 0}, "endPos": {"line": line, "column": 1}, "data": text}


def _error(text: str) -> dict:
    return {"severity": "error", "pos": {"line": 1, "column": 0}, "endPos": {"line": 1, "column": 1}, "data": text}


class SimRepl:
    """The simulated REPL's state: environments (with their header) and proof states."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.pickle_delay = args.pickle_delay
        self.unpickle_delay = args.unpickle_delay
        self.env_headers: list[str] = []
        self.states: list[tuple[list[str], tuple[str, ...], str]] = []  # goals, path, header

    # -- the store pickling works on (prover.bench.repl_pickling.StateStore) ------------------

    def state_record(self, state: int) -> tuple[list[str], tuple[str, ...], str] | None:
        return self.states[state] if 0 <= state < len(self.states) else None

    def restore(self, goals: list[str], path: tuple[str, ...], header: str, *, foreign: bool, unpickled: bool) -> int:
        return self.new_state(goals, path, header)

    def new_state(self, goals: list[str], path: tuple[str, ...], header: str) -> int:
        """A new proof-state id."""
        self.states.append((goals, path, header))
        return len(self.states) - 1

    def env_header(self, env: int) -> str | None:
        return self.env_headers[env] if 0 <= env < len(self.env_headers) else None

    def import_header(self, header: str) -> None:
        time.sleep(self.args.import_delay)

    # -- requests -----------------------------------------------------------------------------

    def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        """The reply to one request."""
        if "pickleTo" in request and "proofState" in request:
            return pickle_state(self, request)
        if "unpickleProofStateFrom" in request:
            return unpickle_state(self, request)
        if "tactic" in request:
            return self.tactic(request["tactic"], request["proofState"])
        if "env" not in request:
            time.sleep(self.args.import_delay)
            return self.new_env(request["cmd"], {})
        header = self.env_header(request["env"])
        if header is None:
            return {"message": "Unknown environment."}
        text = request["cmd"]
        first = text.split("\n", 1)[0]
        if text.startswith("#print axioms "):
            time.sleep(self.args.audit_delay)
            name = first.split("_root_.")[-1].strip()
            messages = [_info(1, f"'{name}' depends on axioms: [propext]"), _info(4, f"@{name} : T")]
            return self.new_env(header, {"messages": messages})
        if first.endswith(" sorry"):
            name = first.split()[1]
            goal = f"⊢ {name}" if self.args.landscape is not None else "⊢ True"
            reply: dict[str, Any] = {"sorries": [{"proofState": self.new_state([goal], (), header), "goal": goal}]}
            if "#check" in text:
                reply["messages"] = [_info(4, f"@{name} : T")]
            return self.new_env(header, reply)
        time.sleep(self.args.check_delay)
        return self.new_env(header, self.check(first, text))

    def new_env(self, header: str, reply: dict[str, Any]) -> dict[str, Any]:
        """``reply`` with the id of a new environment of ``header``."""
        self.env_headers.append(header)
        return {**reply, "env": len(self.env_headers) - 1}

    def tactic(self, tactic: str, state: int) -> dict[str, Any]:
        """The reply to a tactic: a landscape step after its latency, else one goal at once."""
        record = self.state_record(state)
        if record is None:
            return {"message": "Unknown proof state."}
        goals, path, header = record
        if self.args.landscape is None:
            return state_reply(self.new_state(["⊢ True"], (*path, tactic), header), ["⊢ True"])
        time.sleep(self.latency(goals[0], tactic))
        after = self.step(goals[0], len(path), tactic)
        if after is None:
            return {"messages": [_error(f"{tactic} failed")], "proofState": state, "goals": []}
        return state_reply(self.new_state(after, (*path, tactic), header), after)

    def check(self, first: str, text: str) -> dict[str, Any]:
        """A whole theorem: in a landscape, its tactics replayed from the root must close the goal."""
        if self.args.landscape is None:
            return {}
        goal = f"⊢ {first.split()[1]}"
        tactics = [line.strip() for line in text.split("\n")[1:] if line.strip()]
        for depth, tactic in enumerate(tactics):
            after = self.step(goal, depth, tactic)
            if after is None or (not after and depth != len(tactics) - 1):
                return {"messages": [_error(f"{tactic} failed")]}
            if not after:
                return {}
            goal = after[0]
        return {"messages": [_error("unsolved goals")]}

    # -- the landscape --------------------------------------------------------------------------

    def _draws(self, goal: str, tactic: str) -> tuple[float, float]:
        digest = hashlib.sha256(f"{self.args.landscape}|{goal}|{tactic}".encode()).digest()
        first, second = (int.from_bytes(digest[i : i + 7], "big") / 2**56 for i in (0, 8))
        return first, second

    def step(self, goal: str, depth: int, tactic: str) -> list[str] | None:
        """The goals after ``tactic`` at ``goal`` (empty: proved), or None when it fails."""
        outcome, _ = self._draws(goal, tactic)
        if outcome < self.args.fail_rate:
            return None
        if depth + 1 >= self.args.proof_depth and outcome < self.args.fail_rate + self.args.proof_rate:
            return []
        digest = hashlib.sha256(f"{goal}|{tactic}".encode()).hexdigest()[:12]
        return [f"⊢ s{depth + 1}.{digest}"]

    def latency(self, goal: str, tactic: str) -> float:
        _, draw = self._draws(goal, tactic)
        normal = statistics.NormalDist().inv_cdf(min(max(draw, 1e-9), 1 - 1e-9))
        return min(self.args.step_cap, self.args.step_median * math.exp(self.args.step_sigma * normal))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--import-delay", type=float, default=0.5)
    parser.add_argument("--check-delay", type=float, default=0.0)
    parser.add_argument("--audit-delay", type=float, default=0.0)
    parser.add_argument("--landscape", type=int)
    parser.add_argument("--step-median", type=float, default=0.03)
    parser.add_argument("--step-sigma", type=float, default=1.0)
    parser.add_argument("--step-cap", type=float, default=2.0)
    parser.add_argument("--fail-rate", type=float, default=0.3)
    parser.add_argument("--proof-rate", type=float, default=0.01)
    parser.add_argument("--proof-depth", type=int, default=3)
    parser.add_argument("--pickle-delay", type=float, default=0.005)
    parser.add_argument("--unpickle-delay", type=float, default=0.005)
    repl = SimRepl(parser.parse_args())
    buffer: list[str] = []
    for line in sys.stdin:
        if line.strip():
            buffer.append(line)
            continue
        if not buffer:
            continue
        request = json.loads("".join(buffer))
        buffer = []
        sys.stdout.write(json.dumps(repl.handle(request), indent=1, ensure_ascii=False) + "\n\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
