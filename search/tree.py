"""The search graph: proof-state nodes joined by tactic edges, with status propagation."""

from __future__ import annotations

import enum
from collections import deque
from dataclasses import dataclass, field

from search.types import Candidate, Goals


class NodeStatus(enum.StrEnum):
    OPEN = "open"  # may still lead to a proof
    PROVED = "proved"  # some edge leads to a closed proof
    DEAD = "dead"  # expanded, and every edge failed or leads to a dead node


class EdgeKind(enum.StrEnum):
    GOALS = "goals"  # led to another proof state
    PROVED = "proved"  # closed every goal
    FAILED = "failed"  # rejected by the prover (or made no progress)
    TIMED_OUT = "timed_out"
    GAVE_UP = "gave_up"  # relied on sorry or similar
    UNVERIFIED = "unverified"  # closed the goals, but the whole proof failed verification


@dataclass(slots=True, eq=False)
class Edge:
    """One tactic applied to ``src``: where it led (``dst``) or why it failed (``message``)."""

    src: Node
    tactic: str
    logprob: float
    num_tokens: int
    kind: EdgeKind
    dst: Node | None = None
    message: str = ""

    def is_dead_end(self) -> bool:
        if self.kind is EdgeKind.GOALS:
            return self.dst is not None and self.dst.status is NodeStatus.DEAD
        return self.kind is not EdgeKind.PROVED


@dataclass(slots=True, eq=False)
class Node:
    """A distinct proof state; ``parent`` is the edge of the best path found to it."""

    goals: Goals
    depth: int
    score: float  # summed step scores along the parent path
    priority: float  # what the open list orders by
    parent: Edge | None
    status: NodeStatus = NodeStatus.OPEN
    expanded: bool = False
    children: list[Edge] = field(default_factory=list)
    parents: list[Edge] = field(default_factory=list)

    def add_edge(self, candidate: Candidate, kind: EdgeKind, dst: Node | None, message: str = "") -> Edge:
        edge = Edge(self, candidate.tactic, candidate.logprob, candidate.num_tokens, kind, dst, message)
        self.children.append(edge)
        return edge

    def tactic_path(self) -> tuple[str, ...]:
        """The tactics from the root to this state along parent pointers."""
        tactics: list[str] = []
        edge = self.parent
        while edge is not None:
            tactics.append(edge.tactic)
            edge = edge.src.parent
        return tuple(reversed(tactics))

    def is_dead(self) -> bool:
        return self.expanded and self.status is not NodeStatus.PROVED and all(e.is_dead_end() for e in self.children)


def propagate_dead(node: Node) -> None:
    """Mark ``node`` dead and every ancestor whose edges are now all dead ends."""
    queue = deque([node])
    while queue:
        current = queue.popleft()
        if current.status is not NodeStatus.OPEN:
            continue
        current.status = NodeStatus.DEAD
        for edge in current.parents:
            if edge.src.status is NodeStatus.OPEN and edge.src.is_dead():
                queue.append(edge.src)


def propagate_proved(edge: Edge) -> None:
    """Mark the source of a closing edge proved, and every ancestor with an edge into a proved node."""
    queue = deque([edge.src])
    while queue:
        current = queue.popleft()
        if current.status is NodeStatus.PROVED:
            continue
        current.status = NodeStatus.PROVED
        queue.extend(parent_edge.src for parent_edge in current.parents)
