"""Proof-state pickling as the REPL stand-ins model it (the tests' fake REPL and the bench's simulated one).

What the real REPL does (leanprover-community/repl, ``REPL/Main.lean`` and ``REPL/Snapshots.lean``,
present since its v4.9.0 tag):

- ``{"pickleTo": FILE, "proofState": n}`` writes the state to FILE (``saveModuleData``: its environment's
  imports, the constants added since them, and the elaborator's state) and answers the state's goals
  as a proof-step reply under a new ``proofState`` id; an unknown id answers
  ``{"message": "Unknown proof State."}``.
- ``{"unpickleProofStateFrom": FILE, "env"?: m}`` reads it back and answers a new ``proofState`` id with
  its goals. With ``env`` the saved constants are added to that environment, so it must hold the same
  header (an unknown id answers ``{"message": "Unknown environment."}``; one of another header gives a
  state whose tactics do not know the header's declarations); without ``env`` the saved imports are
  loaded again, which costs what loading the header costs.
- A file that cannot be written or read is an uncaught IO error: the process prints
  ``uncaught exception: ...`` and exits.

Here FILE holds JSON: the header, the goals and the tactic path (scripted steps key on paths).
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any, NoReturn, Protocol

UNKNOWN_STATE = "Unknown proof State."
UNKNOWN_ENV = "Unknown environment."


def state_reply(state: int, goals: list[str]) -> dict[str, Any]:
    """A proof-step reply showing ``goals`` under the id ``state``."""
    status = "Incomplete: open goals remain" if goals else "Completed"
    return {"proofStatus": status, "proofState": state, "goals": list(goals)}


def uncaught(error: BaseException) -> NoReturn:
    """What the REPL does with an IO error it does not catch: the message on stderr, and exit."""
    sys.stdout.flush()
    sys.stderr.write(f"uncaught exception: {error}\n")
    sys.stderr.flush()
    os._exit(1)


class StateStore(Protocol):
    """What a stand-in keeps that pickling needs: its proof states, its environments' headers."""

    pickle_delay: float
    unpickle_delay: float

    def state_record(self, state: int) -> tuple[list[str], tuple[str, ...], str] | None:
        """The goals, tactic path and header of a state, or None when the id is unknown."""
        ...

    def restore(self, goals: list[str], path: tuple[str, ...], header: str, *, foreign: bool, unpickled: bool) -> int:
        """A new state with these goals and path; ``foreign``: its environment lacks its header;
        ``unpickled``: read from a file (else the pickled state answered under a new id)."""
        ...

    def env_header(self, env: int) -> str | None:
        """The header an environment was made from, or None when the id is unknown."""
        ...

    def import_header(self, header: str) -> None:
        """Load a header's imports again (an unpickle without an environment)."""
        ...


def pickle_state(store: StateStore, request: dict[str, Any]) -> dict[str, Any]:
    """The reply to ``{"pickleTo": FILE, "proofState": n}``."""
    record = store.state_record(request["proofState"])
    if record is None:
        return {"message": UNKNOWN_STATE}
    goals, path, header = record
    time.sleep(store.pickle_delay)
    try:
        with open(request["pickleTo"], "w", encoding="utf-8") as handle:
            json.dump({"header": header, "goals": goals, "path": list(path)}, handle, ensure_ascii=False)
    except OSError as error:
        uncaught(error)
    return state_reply(store.restore(goals, path, header, foreign=False, unpickled=False), goals)


def unpickle_state(store: StateStore, request: dict[str, Any]) -> dict[str, Any]:
    """The reply to ``{"unpickleProofStateFrom": FILE, "env"?: m}``."""
    env = request.get("env")
    here = None if env is None else store.env_header(env)
    if env is not None and here is None:
        return {"message": UNKNOWN_ENV}
    try:
        with open(request["unpickleProofStateFrom"], encoding="utf-8") as handle:
            saved = json.load(handle)
    except (OSError, ValueError) as error:
        uncaught(error)
    time.sleep(store.unpickle_delay)
    if here is None:
        store.import_header(saved["header"])
        here = saved["header"]
    foreign = here != saved["header"]
    state = store.restore(saved["goals"], tuple(saved["path"]), saved["header"], foreign=foreign, unpickled=True)
    goals = store.state_record(state)[0]  # type: ignore[index]
    return state_reply(state, goals)
