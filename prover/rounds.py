"""Whole-proof answers in a run's records: pass@k by repair round, and the answer that proved each theorem.

A whole-proof record lists its answers (``attempts``), each with its ``sample`` (the conversation:
the first-round sample it continues) and its ``round`` (0: the first answer, then each repair).
Samples are numbered across a theorem's records in attempt order, so ``--attempts 2`` of 32 samples
is 64 conversations. A theorem counts once, at the first round and sample that proved it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

REASONING_SHOWN = 160
"""Characters of a model's reasoning a report shows (the record keeps it whole)."""


@dataclass(frozen=True, slots=True)
class Answer:
    """One whole-proof answer: its conversation, its round, whether it proved the theorem, its reasoning."""

    sample: int
    round: int
    proved: bool
    reasoning: str


def _count(value: object) -> int:
    """A count from a record (hand-edited or foreign records may hold anything)."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def answers(records: Iterable[dict[str, Any]], proved: Callable[[dict[str, Any]], bool]) -> list[Answer]:
    """A theorem's answers over its records; an answer proves only when its record counts as proved."""
    out: list[Answer] = []
    offset = 0
    for record in sorted(records, key=lambda r: _count(r.get("attempt"))):
        tried = [a for a in record.get("attempts") or [] if isinstance(a, dict)]
        counts = proved(record)
        for item in tried:
            reasoning = item.get("reasoning")
            out.append(
                Answer(
                    offset + _count(item.get("sample")),
                    _count(item.get("round")),
                    counts and item.get("verified") is True,
                    reasoning if isinstance(reasoning, str) else "",
                )
            )
        offset += 1 + max((_count(item.get("sample")) for item in tried), default=-1)
    return out


def first_proof(found: list[Answer]) -> Answer | None:
    """The answer a theorem counts at: the earliest round, then the lowest sample."""
    return min((a for a in found if a.proved), key=lambda a: (a.round, a.sample), default=None)


def pass_by_round(by_name: dict[str, list[Answer]], total: int) -> dict[int, dict[int, float]]:
    """pass@k after each round: the share of all ``total`` theorems proved within the first k samples by then.

    k runs over 1, 2, 4, ... up to the fewest samples any theorem had. A run stops repairing a theorem
    once it is proved, so for k below that count the figures after round 0 are lower bounds.
    """
    with_answers = [found for found in by_name.values() if found]
    if not with_answers or not total:
        return {}
    samples = min(1 + max(a.sample for a in found) for found in with_answers)
    last_round = max(a.round for found in with_answers for a in found)
    ks = sorted({1, samples, *(2**i for i in range(samples.bit_length()) if 2**i <= samples)})
    out: dict[int, dict[int, float]] = {}
    for k in ks:
        out[k] = {}
        for round_ in range(last_round + 1):
            solved = 0
            for found in with_answers:
                first = first_proof([a for a in found if a.sample < k and a.round <= round_])
                solved += first is not None
            out[k][round_] = solved / total
    return out


def shown(text: str, limit: int = REASONING_SHOWN) -> str:
    """Reasoning as one Markdown table cell: one line, pipes escaped, cut at ``limit`` characters."""
    flat = " ".join(text.split()).replace("|", "\\|")
    return flat if len(flat) <= limit else flat[:limit] + "…"


def markdown(name: str, by_name: dict[str, list[Answer]], total: int) -> list[str]:
    """The report's whole-proof sections of one run (nothing when it has no whole-proof answers)."""
    table = pass_by_round(by_name, total)
    if not table:
        return []
    rounds = sorted({r for row in table.values() for r in row})
    head = " | ".join("round 0" if r == 0 else f"≤ round {r}" for r in rounds)
    lines = [f"## pass@k by repair round: {name}", "", f"| k | {head} |", "|---" * (len(rounds) + 1) + "|"]
    for k, row in table.items():
        lines.append(f"| {k} | " + " | ".join(f"{row[r]:.1%}" for r in rounds) + " |")
    lines.extend(["", f"## Proofs found: {name}", "", "| theorem | round | sample | reasoning |", "|---|---|---|---|"])
    for theorem, found in sorted(by_name.items()):
        first = first_proof(found)
        if first is not None:
            lines.append(f"| {shown(theorem, 200)} | {first.round} | {first.sample} | {shown(first.reasoning)} |")
    lines.append("")
    return lines
