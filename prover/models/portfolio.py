"""The no-model generator: a fixed list of automation tactics, the baseline of every table."""

from __future__ import annotations

import math
from collections.abc import Sequence

from isabelle_env.heuristics import HEURISTICS
from search import Candidate, TacticRequest

LEAN_TACTICS: tuple[str, ...] = (
    "norm_num",
    "simp",
    "omega",
    "linarith",
    "nlinarith",
    "positivity",
    "decide",
    "ring_nf",
    "field_simp",
    "simp_all",
    "aesop",
    "rfl",
)

# The draft-sketch-prove heuristics in their documented order, then Sledgehammer.
ISABELLE_TACTICS: tuple[str, ...] = (*HEURISTICS, "sledgehammer")


class PortfolioGenerator:
    """Proposes the same tactics for every goal, equally likely, in list order."""

    def __init__(self, tactics: Sequence[str]) -> None:
        if not tactics:
            raise ValueError("the portfolio generator needs at least one tactic")
        self.tactics = tuple(tactics)
        logprob = -math.log(len(self.tactics))
        self._candidates = [Candidate(t, logprob, 1) for t in self.tactics]

    @classmethod
    def for_language(cls, language: str, tactics: Sequence[str] = ()) -> PortfolioGenerator:
        return cls(tactics or (ISABELLE_TACTICS if language == "isabelle" else LEAN_TACTICS))

    async def propose(self, requests: Sequence[TacticRequest]) -> list[list[Candidate]]:
        return [list(self._candidates) for _ in requests]
