"""The draft-sketch-prove checker: fill a sketch's gaps with heuristics, then Sledgehammer.

The sketch (the benchmark statement, then the model's proof) passes the screen first;
Isabelle then splits it into commands (``<parse text>``), whose first must be exactly the
statement and the rest proof commands. Every ``sledgehammer`` (and any ``sorry``) is a gap;
each gap is filled by the first heuristic that Isabelle accepts, in the documented order,
else by Sledgehammer. ``oops`` is no gap: the screen refuses it, since it ends the proof at
level 0 with nothing proved. A sketch whose last step leaves proof level 0 is then replayed,
gaps filled, in a fresh theory (`isabelle_env.replay`): only that makes it a proof.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from isabelle_env.client import PisaClient, PisaStepError, PisaTimeout
from isabelle_env.heuristics import HEURISTICS
from isabelle_env.replay import check_structure, open_theory, replay, theory_text
from isabelle_env.screen import is_gap, screen
from search import Verdict

logger = logging.getLogger(__name__)

GAPS = frozenset({"sledgehammer", "sorry"})
DEFAULT_IMPORTS = (
    "Complex_Main",
    "HOL-Library.Code_Target_Numeral",
    "HOL-Computational_Algebra.Computational_Algebra",
    "HOL-Number_Theory.Number_Theory",
)


@dataclass(slots=True)
class Gap:
    """One `sledgehammer` / `sorry` of the sketch and what closed it."""

    index: int
    step: str
    closed_by: str | None = None
    tried: list[str] = field(default_factory=list)


@dataclass(slots=True)
class CheckResult:
    """The outcome of checking one sketch; ``level`` names the check that decided it."""

    success: bool
    proof: str = ""
    """The sketch with every gap replaced by the tactic that closed it."""
    gaps: list[Gap] = field(default_factory=list)
    error: str = ""
    level: str = "isabelle"
    verdict: Verdict | None = None
    """The replay's verdict, once the sketch's steps all ran."""

    @property
    def failed_gaps(self) -> list[Gap]:
        return [g for g in self.gaps if g.closed_by is None]

    def to_dict(self) -> dict[str, Any]:
        return {
            "success": self.success,
            "proof": self.proof,
            "error": self.error,
            "level": self.level,
            "gaps": [{"step": g.step, "closed_by": g.closed_by, "tried": g.tried} for g in self.gaps],
        }


class SketchChecker:
    """Checks sketches on one PISA client; the caller owns the server (and restarts it on timeouts)."""

    def __init__(
        self,
        client: PisaClient,
        *,
        heuristics: tuple[str, ...] = HEURISTICS,
        use_hammer: bool = True,
        step_timeout: float = 10.0,
        hammer_timeout: float = 60.0,
    ) -> None:
        self.client = client
        self.heuristics = heuristics
        self.use_hammer = use_hammer
        self.step_timeout = step_timeout
        self.hammer_timeout = hammer_timeout

    async def check_fresh(
        self,
        isa_path: str,
        sketch: str,
        statement: str,
        imports: tuple[str, ...] | list[str] = DEFAULT_IMPORTS,
        folder: Path | None = None,
    ) -> CheckResult:
        """Start a new Isabelle in the server for this sketch alone, then `check`."""
        # PISA picks the session by the theory file's path: a path with "miniF2F" in it runs HOL.
        folder = folder or Path(tempfile.mkdtemp(prefix="miniF2F-dsp-"))
        theory = await open_theory(self.client, isa_path, folder, imports, self.step_timeout)
        return await self.check(theory, sketch, statement)

    async def check(self, theory: str, sketch: str, statement: str) -> CheckResult:
        """Fill the gaps of ``sketch`` from the theory state ``theory``; raises PisaTimeout on a hung step."""
        refusal = screen(sketch, gaps=GAPS, statement_first=True)
        if refusal is not None:
            return CheckResult(False, error=f"refused before Isabelle: {refusal}", level="screen")
        try:
            steps = await self.client.parse_text(sketch)
        except PisaStepError as error:
            return CheckResult(False, error=f"the sketch does not parse: {error}")
        refusal = check_structure(steps, statement, GAPS)
        if refusal is not None:
            return CheckResult(False, error=f"refused: {refusal}", level="screen")
        state = theory
        gaps: list[Gap] = []
        closed: list[str] = []
        for step in steps:
            new = self.client.new_name("s")
            if is_gap(step, GAPS):
                gap = Gap(len(gaps), step)
                gaps.append(gap)
                tactic = await self._fill(state, new, gap)
                if tactic is None:
                    # Keep going past the failed gap so that every failing gap is reported.
                    await self.client.step(state, "sorry", new, self.step_timeout)
                    closed.append(step)
                else:
                    closed.append(tactic)
                state = new
                continue
            try:
                result = await self.client.step(state, step, new, self.step_timeout)
            except PisaStepError as error:
                return CheckResult(False, proof="\n".join([*closed, step]), gaps=gaps, error=f"{step!r}: {error}")
            closed.append(step)
            state = result.name
        proof = "\n".join(closed)
        failed = [g for g in gaps if g.closed_by is None]
        if failed:
            return CheckResult(False, proof, gaps, f"{len(failed)} gap(s) no heuristic or Sledgehammer closed")
        if not await self.client.is_finished(state):
            return CheckResult(False, proof, gaps, "the proof is not finished after the last step")
        verdict = await replay(self.client, theory, statement, "\n".join(closed[1:]), self.step_timeout)
        if not verdict.ok:
            return CheckResult(
                False, proof, gaps, f"the filled sketch failed its replay: {verdict.message}", verdict.level
            )
        return CheckResult(True, proof, gaps, verdict=verdict)

    async def _fill(self, state: str, new: str, gap: Gap) -> str | None:
        for tactic in self.heuristics:
            gap.tried.append(tactic)
            try:
                await self.client.step(state, tactic, new, self.step_timeout)
            except PisaStepError:
                continue
            gap.closed_by = tactic
            return tactic
        if not self.use_hammer:
            return None
        gap.tried.append("sledgehammer")
        try:
            tactic = await self.client.hammer(state, new, self.hammer_timeout)
        except PisaStepError as error:
            logger.info("gap %d: %s", gap.index, error)
            return None
        gap.closed_by = tactic
        return tactic


__all__ = ["GAPS", "HEURISTICS", "CheckResult", "Gap", "PisaTimeout", "SketchChecker", "theory_text"]
