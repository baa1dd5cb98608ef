"""The last word on an Isabelle proof: replayed in a fresh theory, it must prove the benchmark's proposition.

PISA's protocol (Portal-to-ISAbelle, ``PisaOneStage.scala`` / ``PisaOS.scala``):

- ``IsabelleContext`` starts a new Isabelle (a new ``PisaOS``) for a theory file whose
  header gives the imports; ``<initialise>`` names its toplevel state ``default``. That
  state is outside any theory: a theory begins by stepping the header
  ``theory Interactive imports ... begin`` (as draft-sketch-prove's checker does).
- ``<parse text> T`` splits T into commands with Isabelle's own parser (each text runs to
  the next command, comments included); nothing runs.
- ``<apply to top level state> A <apply to top level state> STEP <apply to top level state> B``
  runs STEP's commands from state A and names the result B; failures answer ``Step error: ...``.
- ``<is finished> B`` is ``true`` at proof level 0: after a finished theorem, but equally
  at theory level after ``oops``. It never says what was proved.
- ``<get fact definition> B <get fact definition> NAME`` prints the theorem NAME of B's
  theory (``Element.pretty_statement``). ``thm NAME`` prints only to Isabelle's output,
  which PISA does not return, so this is the PISA-visible form of ``thm``.

The check: the model text passes the screen; Isabelle's split of it starts with exactly
the benchmark statement and continues with proof commands only; every step runs without
error from a theory that has just begun; the last leaves proof level 0; and the theorem
then stored under the statement's name prints exactly as the benchmark statement closed
by ``sorry`` prints in the same fresh theory. Each replay starts from the state right
after the header, so nothing an earlier attempt did can be in its theory.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from isabelle_env.client import PisaClient, PisaError, PisaStepError, PisaTimeout
from isabelle_env.keywords import GOAL_COMMANDS
from isabelle_env.lexer import LexError, significant
from isabelle_env.screen import Refusal, is_gap, same_statement, screen, screen_step
from search import Verdict

logger = logging.getLogger(__name__)

METHOD = "isabelle: replayed in a fresh theory, proved proposition compared with the statement's"
FACT = "<get fact definition>"
UNKNOWN_COMMAND = "Unrecognised operation."
PISA_SOURCE = "https://github.com/albertqjiang/Portal-to-ISAbelle"
CHECKED_NAME = "llemma_checked"  # given to a statement that names no theorem


def theory_text(name: str, imports: tuple[str, ...] | list[str], body: str = "") -> str:
    """A theory file: the header PISA reads, then ``body``."""
    quoted = " ".join(f'"{i}"' if "-" in i or "." in i else i for i in imports)
    return f"theory {name} imports {quoted}\nbegin\n\n{body}\n\nend\n"


def theory_header(imports: tuple[str, ...] | list[str]) -> str:
    """The command that begins theory ``Interactive`` with these imports."""
    return theory_text("Interactive", imports).split("\nbegin", 1)[0] + "\nbegin"


async def open_theory(
    client: PisaClient, isa_path: str, folder: Path, imports: tuple[str, ...] | list[str], timeout: float
) -> str:
    """A new Isabelle in the server, a theory with ``imports`` begun in it; the name of that state."""
    folder.mkdir(parents=True, exist_ok=True)
    theory = folder / "Interactive.thy"
    theory.write_text(theory_text("Interactive", imports))
    await client.initialise(isa_path, str(folder), str(theory))
    return (await client.step("default", theory_header(imports), client.new_name("thy"), timeout)).name


def named_statement(statement: str) -> tuple[str, str]:
    """The theorem name a statement stores its result under, and the statement sure to carry one."""
    tokens = significant(statement)
    named = len(tokens) >= 3 and tokens[1].kind == "word" and tokens[2].text in (":", "[")
    if named and tokens[0].text in GOAL_COMMANDS:
        return tokens[1].text, statement
    head = tokens[0] if tokens else None
    if head is None or head.text not in GOAL_COMMANDS:
        raise ValueError(f"the statement does not start with one of {', '.join(GOAL_COMMANDS)}: {statement[:80]!r}")
    cut = head.start + len(head.text)
    return CHECKED_NAME, f"{statement[:cut]} {CHECKED_NAME}:{statement[cut:]}"


def check_structure(steps: list[str], statement: str, gaps: frozenset[str] = frozenset()) -> Refusal | None:
    """Isabelle's split must start with the statement itself and go on with proof commands (or gaps)."""
    if not steps or not same_statement(steps[0], statement):
        first = steps[0] if steps else ""
        return Refusal(
            " ".join(first.split())[:200],
            "is the first command, and it is not the benchmark statement (a statement must not be continued "
            "or replaced)",
        )
    for step in steps[1:]:
        if gaps and is_gap(step, gaps):
            continue
        refusal = screen_step(step)
        if refusal is not None:
            return refusal
    return None


def _fact_text(reply: str) -> str:
    return re.sub(r"\s+", " ", reply).strip()


async def proved_proposition(client: PisaClient, state: str, name: str) -> str:
    """How Isabelle prints the theorem ``name`` of ``state``'s theory (PisaError if there is none)."""
    reply = await client.command(f"{FACT} {state} {FACT} {name}")
    if reply.strip() == UNKNOWN_COMMAND:  # an older PISA: its answer would compare equal to itself
        raise PisaError(f"this PISA does not know {FACT}: build PISA from {PISA_SOURCE}")
    if not reply.strip():
        raise PisaStepError(f"Isabelle prints nothing for the theorem {name}")
    return _fact_text(reply)


async def replay(client: PisaClient, theory: str, statement: str, proof: str, step_timeout: float) -> Verdict:
    """Check ``proof`` (the text after the statement) from the fresh theory state ``theory``.

    A PisaTimeout propagates: the caller owns the server and restarts it.
    """
    refusal = screen(proof)
    if refusal is not None:
        return Verdict(False, f"refused before Isabelle: {refusal}", METHOD, "screen")
    try:
        name, statement = named_statement(statement)
    except (ValueError, LexError) as error:
        return Verdict(False, str(error), METHOD, "screen")
    text = f"{statement}\n{proof}"
    try:
        steps = await client.parse_text(text)
    except PisaStepError as error:
        return Verdict(False, f"the proof does not parse: {error}", METHOD, "isabelle")
    refusal = check_structure(steps, statement)
    if refusal is not None:
        return Verdict(False, f"refused: {refusal}", METHOD, "screen")
    try:
        expected = await client.step(theory, f"{statement}\nsorry", client.new_name("ref"), step_timeout)
        wanted = await proved_proposition(client, expected.name, name)
        state = theory
        for step in steps:
            state = (await client.step(state, step, client.new_name("v"), step_timeout)).name
        if not await client.is_finished(state):
            return Verdict(False, "goals remain after the last step", METHOD, "isabelle")
        proved = await proved_proposition(client, state, name)
    except PisaTimeout:
        raise
    except PisaError as error:  # a step error, or no theorem of that name (PISA answers with a gRPC error)
        return Verdict(False, f"the replay failed: {error}", METHOD, "isabelle")
    if proved != wanted:
        return Verdict(False, f"the proof's {name} is {proved!r}, not the benchmark's {wanted!r}", METHOD, "isabelle")
    return Verdict(True, f"{name}: {proved}", METHOD, "isabelle")


__all__ = ["METHOD", "check_structure", "named_statement", "open_theory", "replay", "theory_text"]
