"""What a sketch-and-decompose attempt keeps: each sketch tried, and for each of its gaps what closed it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

GapStatus = Literal["closed", "open", "not tried"]
SketchStatus = Literal["proved", "refused", "not elaborated", "gap open", "rejected"]


@dataclass(frozen=True, slots=True)
class GapRecord:
    """One gap of a sketch: its goal, and the tactic path that closed it or why none did."""

    index: int
    name: str
    line: int
    """1-based line of the gap in the sketch as recorded."""
    goal: str
    status: GapStatus
    proof: tuple[str, ...] = ()
    seconds: float = 0.0
    expansions: int = 0
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "name": self.name,
            "line": self.line,
            "goal": self.goal,
            "status": self.status,
            "proof": list(self.proof),
            "seconds": self.seconds,
            "expansions": self.expansions,
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True)
class SketchRecord:
    """One sketch: the text sent to the prover, how far it got, and the assembled proof when it got there."""

    sketch: str
    status: SketchStatus
    message: str = ""
    gaps: tuple[GapRecord, ...] = ()
    proof: str | None = None
    """The sketch with every gap filled (what the whole-proof check saw), once all gaps closed."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "sketch": self.sketch,
            "status": self.status,
            "message": self.message,
            "gaps": [gap.to_dict() for gap in self.gaps],
            "proof": self.proof,
        }
