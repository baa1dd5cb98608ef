"""Sketches in the Lean REPL: elaborate a sketch once, then search each gap from its own proof state.

The sketch (``lean_env.sketch``) is sent as one command on the header's environment, like the
statement at a search's start. The REPL answers each ``sorry`` with its goal, its position and a
``proofState`` (tactic sorries first, then term sorries: leanprover-community/repl's
``InfoTree.sorries``), so the sorries are matched to the gaps by position, never by order. A
sketch that does not elaborate cleanly, or whose sorries are not exactly its gaps (one gap
elaborated twice, or never), is rejected with the reason.

``GapEnv`` is the ``ProofEnv`` of one gap: the best-first search runs in it unchanged. Its root
is the gap's proof state; after a restart of the process the sketch is elaborated again and the
gap's new proof state taken (then the search's paths are replayed as usual).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from lean_env.process import ReplProcess, request_on_header
from lean_env.protocol import CommandReply
from lean_env.repl_env import LeanReplEnv
from lean_env.sketch import GapSite, SketchPlan
from lean_env.states import StateLost
from lean_env.verify import kept_messages
from search import Theorem, Verdict

GAP_METHOD = "lean-repl gap closed in its proof state"


class SketchRejected(Exception):
    """Lean did not accept the sketch as a proof with open gaps; the message says why."""


@dataclass(frozen=True, slots=True)
class OpenGap:
    """A gap as Lean reported it: where it is, what it asks and the proof state to start from."""

    site: GapSite
    goal: str
    proof_state: int


@dataclass(frozen=True, slots=True)
class Elaboration:
    """The gaps of an elaborated sketch, valid in one generation of one process."""

    gaps: tuple[OpenGap, ...]
    generation: int
    messages: tuple[str, ...] = ()


async def elaborate(process: ReplProcess, plan: SketchPlan) -> Elaboration:
    """Elaborate the sketch on the header's environment; ``SketchRejected`` when it is not a sound sketch."""
    reply, generation = await request_on_header(process, plan.theorem.header, plan.command)
    if not isinstance(reply, CommandReply):
        raise SketchRejected(f"Lean rejected the sketch: {getattr(reply, 'message', reply)}")
    errors = reply.errors()
    if errors:
        where = _body_line(plan, errors[0].pos.line)
        raise SketchRejected(f"the sketch does not elaborate ({where}): {errors[0].data}")
    return Elaboration(_match(plan, reply), generation, kept_messages(reply))


def _body_line(plan: SketchPlan, line: int) -> str:
    body_line = line - plan.first_line + 1
    return f"line {body_line}" if body_line >= 1 else "in the statement"


def _match(plan: SketchPlan, reply: CommandReply) -> tuple[OpenGap, ...]:
    """Each gap with the one sorry Lean reported at its position."""
    by_position = {plan.position(gap): gap for gap in plan.gaps}
    found: dict[int, OpenGap] = {}
    for sorry in reply.sorries or []:
        where = (sorry.pos.line, sorry.pos.column) if sorry.pos is not None else None
        gap = by_position.get(where) if where is not None else None
        if gap is None:
            raise SketchRejected(f"Lean reported a sorry that is not a gap of the sketch (at {where})")
        if gap.index in found:
            raise SketchRejected(
                f"{gap.label()} is elaborated more than once (under a tactic that runs it on several "
                "goals): write one `have` per goal"
            )
        if sorry.proof_state is None:
            raise SketchRejected(f"Lean gave no proof state for {gap.label()}")
        found[gap.index] = OpenGap(gap, sorry.goal, sorry.proof_state)
    missing = [gap.label() for gap in plan.gaps if gap.index not in found]
    if missing:
        raise SketchRejected(f"{', '.join(missing)}: never elaborated by Lean (on a branch that does not run)")
    return tuple(found[gap.index] for gap in plan.gaps)


class GapEnv(LeanReplEnv):
    """One gap's ``ProofEnv``: searches start at the gap's proof state, on the process that elaborated it."""

    def __init__(self, parent: LeanReplEnv, plan: SketchPlan, elaboration: Elaboration, gap: OpenGap) -> None:
        super().__init__(parent.pool, parent.verifier, replay_timeout=parent.replay_timeout)
        if parent.process is None:
            raise ValueError("start the sketch's environment before searching its gaps")
        self.home = parent.process
        self.plan = plan
        self.gap = gap
        self._known = elaboration.generation

    def _pick(self, theorem: Theorem) -> ReplProcess:
        return self.home  # proof-state ids live in the process that made them

    async def _root(self, process: ReplProcess) -> tuple[int, str, int]:
        """The gap's proof state, elaborating the sketch again when its process restarted since."""
        if process.generation != self._known or process.pid is None:
            try:
                elaboration = await elaborate(process, self.plan)
            except SketchRejected as error:
                raise StateLost(f"the sketch no longer elaborates after a restart: {error}") from None
            self.gap = elaboration.gaps[self.gap.site.index]
            self._known = elaboration.generation
        return self.gap.proof_state, self.gap.goal, self._known

    async def verify(self, theorem: Theorem, proof: Sequence[str] | str) -> Verdict:
        # A gap's proof counts only inside the assembled sketch, which the verifier checks whole.
        return Verdict(True, "closed in the gap's proof state; checked whole once the sketch is assembled", GAP_METHOD)
