"""The draft-sketch-prove gap heuristics, in the order they are tried (no gRPC needed to import)."""

from __future__ import annotations

HEURISTICS: tuple[str, ...] = (
    "by auto",
    "by simp",
    "by blast",
    "by fastforce",
    "by force",
    "by eval",
    "by presburger",
    "by sos",
    "by arith",
    "by linarith",
    "by (auto simp: field_simps)",
)
