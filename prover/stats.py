"""Statistics for comparing runs: Wilson score intervals and the exact McNemar test.

Pass rates on a few hundred theorems move by several points between runs that differ only in
their seed; a report says which differences are larger than that.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

ALPHA = 0.05


def wilson_interval(successes: int, trials: int, confidence: float = 1 - ALPHA) -> tuple[float, float]:
    """The Wilson score interval of a binomial proportion (good at 0 %, 100 % and small samples)."""
    if trials <= 0:
        return 0.0, 1.0
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def mcnemar_exact(gained: int, lost: int) -> float:
    """Two-sided p-value of the exact McNemar test: a binomial test (p = 1/2) on the discordant pairs."""
    n = gained + lost
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(min(gained, lost) + 1)) / 2**n
    return min(1.0, 2 * tail)


@dataclass(frozen=True, slots=True)
class Comparison:
    """A run against a baseline on the theorems both attempted."""

    shared: int
    gained: int
    """Theorems this run proved and the baseline did not."""
    lost: int
    """Theorems the baseline proved and this run did not."""
    p_value: float

    @property
    def within_noise(self) -> bool:
        return self.p_value >= ALPHA

    def to_dict(self) -> dict[str, float | int | bool]:
        return {
            "shared": self.shared,
            "gained": self.gained,
            "lost": self.lost,
            "p_value": self.p_value,
            "within_noise": self.within_noise,
        }


def compare(baseline: set[str], other: set[str], shared: set[str]) -> Comparison:
    """Paired comparison of the theorems proved by two runs, restricted to ``shared``."""
    gained = len((other - baseline) & shared)
    lost = len((baseline - other) & shared)
    return Comparison(len(shared), gained, lost, mcnemar_exact(gained, lost))
