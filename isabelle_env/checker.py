"""The draft-sketch-prove checker: fill a sketch's gaps with heuristics, then Sledgehammer.

The sketch is wrapped in a theory with the problem's imports and split into steps
by Isabelle itself (`<parse text>`). Every `sledgehammer` (and any `sorry`) is a
gap; each gap is filled by the first heuristic that Isabelle accepts, in the
documented order, else by Sledgehammer. The attempt succeeds when the last step
leaves proof level 0 with no error.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from isabelle_env.client import PisaClient, PisaStepError, PisaTimeout
from isabelle_env.heuristics import HEURISTICS

logger = logging.getLogger(__name__)

GAPS = ("sledgehammer", "sorry", "oops")
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
    """The outcome of checking one sketch."""

    success: bool
    proof: str = ""
    """The sketch with every gap replaced by the tactic that closed it."""
    gaps: list[Gap] = field(default_factory=list)
    error: str = ""

    @property
    def failed_gaps(self) -> list[Gap]:
        return [g for g in self.gaps if g.closed_by is None]

    def to_dict(self) -> dict[str, Any]:
        return {
            "success": self.success,
            "proof": self.proof,
            "error": self.error,
            "gaps": [{"step": g.step, "closed_by": g.closed_by, "tried": g.tried} for g in self.gaps],
        }


def theory_text(name: str, imports: tuple[str, ...] | list[str], body: str = "") -> str:
    quoted = " ".join(f'"{i}"' if "-" in i or "." in i else i for i in imports)
    return f"theory {name} imports {quoted}\nbegin\n\n{body}\n\nend\n"


def is_gap(step: str) -> bool:
    return step.strip() in GAPS


class SketchChecker:
    """Checks sketches on one PISA client; the caller owns the server (and restarts it on timeouts)."""

    def __init__(
        self,
        client: PisaClient,
        isa_path: str,
        *,
        heuristics: tuple[str, ...] = HEURISTICS,
        use_hammer: bool = True,
        step_timeout: float = 10.0,
        hammer_timeout: float = 60.0,
        working_dir: str | None = None,
    ) -> None:
        self.client = client
        self.isa_path = isa_path
        self.heuristics = heuristics
        self.use_hammer = use_hammer
        self.step_timeout = step_timeout
        self.hammer_timeout = hammer_timeout
        self.working_dir = working_dir

    async def _initialise(self, imports: tuple[str, ...] | list[str]) -> None:
        folder = Path(self.working_dir or tempfile.mkdtemp(prefix="dsp-"))
        folder.mkdir(parents=True, exist_ok=True)
        theory = folder / "Interactive.thy"
        theory.write_text(theory_text("Interactive", imports))
        await self.client.initialise(self.isa_path, str(folder), str(theory))

    async def check(self, sketch: str, imports: tuple[str, ...] | list[str] = DEFAULT_IMPORTS) -> CheckResult:
        """Fill the gaps of ``sketch`` (a theorem and its proof); raises PisaTimeout on a hung step."""
        await self._initialise(imports)
        try:
            steps = await self.client.parse_text(sketch)
        except PisaStepError as error:
            return CheckResult(False, error=f"the sketch does not parse: {error}")
        state, counter = "default", 0
        gaps: list[Gap] = []
        closed: list[str] = []
        for step in steps:
            counter += 1
            new = f"s{counter}"
            if is_gap(step):
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
        finished = await self.client.is_finished(state)
        proof = "\n".join(closed)
        failed = [g for g in gaps if g.closed_by is None]
        if failed:
            return CheckResult(False, proof, gaps, f"{len(failed)} gap(s) no heuristic or Sledgehammer closed")
        if not finished:
            return CheckResult(False, proof, gaps, "the proof is not finished after the last step")
        return CheckResult(True, proof, gaps)

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


__all__ = ["HEURISTICS", "CheckResult", "Gap", "PisaTimeout", "SketchChecker", "theory_text"]
