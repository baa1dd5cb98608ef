"""The values that cross between the parts: theorems, proof states, outcomes, results."""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass, field
from typing import Any, Literal

from search.sketch import SketchRecord

Language = Literal["lean4", "isabelle"]


@dataclass(frozen=True, slots=True)
class Theorem:
    """A statement to prove, as the benchmark gives it.

    Equality and hashing use only ``name`` and ``statement``: the same theorem
    loaded from two sources with different metadata is the same target.
    """

    name: str
    statement: str
    header: str = field(default="", compare=False)
    language: Language = field(default="lean4", compare=False)
    informal_statement: str | None = field(default=None, compare=False)
    informal_proof: str | None = field(default=None, compare=False)
    split: str | None = field(default=None, compare=False)
    source: str | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Goals:
    """One proof state: the pretty-printed goals and the backend's handle on it.

    ``text`` identifies the state for the search (two states with the same text
    are one node); ``handle`` is opaque to everything but the environment that
    made it (a REPL proofState id, a Dojo TacticState, a PISA state name).
    """

    text: str
    num_goals: int = 1
    handle: Any = field(default=None, compare=False, hash=False)


@dataclass(frozen=True, slots=True)
class Proved:
    """The tactic closed every goal."""

    message: str = ""


@dataclass(frozen=True, slots=True)
class Failed:
    """The tactic was rejected; ``message`` is the prover's error text."""

    message: str


@dataclass(frozen=True, slots=True)
class TimedOut:
    """The tactic did not finish within its time limit."""

    seconds: float


@dataclass(frozen=True, slots=True)
class GaveUp:
    """The tactic (or the state it left) relies on ``sorry``, ``admit`` or similar."""

    reason: str = "sorry"


Outcome = Goals | Proved | Failed | TimedOut | GaveUp


VerificationLevel = Literal["screen", "repl", "kernel", "leandojo", "isabelle"]
"""How far a proof was checked, weakest to strongest for Lean: ``screen`` (refused as text,
before any prover saw it), ``repl`` (elaborated whole in a fresh REPL environment, axioms
audited, statement compared), ``kernel`` (also replayed through Lean's kernel against the
statement compiled alone); ``leandojo`` and ``isabelle`` name the other backends' checks."""
VERIFICATION_LEVELS: tuple[str, ...] = ("screen", "repl", "kernel", "leandojo", "isabelle")


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One message of the prover on a checked proof, positioned in the proof text as the search gave it.

    Lines count from 1 and columns from 0, as Lean reports them; ``line`` is None for a message
    that points outside the proof (or nowhere), ``end_line`` None when its end is unknown.
    """

    severity: str
    text: str
    line: int | None = None
    column: int = 0
    end_line: int | None = None
    end_column: int = 0

    def __str__(self) -> str:
        where = "" if self.line is None else f"{self.line}:{self.column}: "
        return f"{self.severity} {where}{self.text}"


@dataclass(frozen=True, slots=True)
class Verdict:
    """The answer of a whole-proof check: a proof counts only when ``ok``.

    ``level`` is the check the verdict comes from (one of ``VERIFICATION_LEVELS``);
    a rejection names the level that refused the proof.
    """

    ok: bool
    message: str = ""
    method: str = ""
    level: str = ""
    messages: tuple[str, ...] = ()
    """What the prover printed during the check, kept for the record (never read as the verdict)."""
    diagnostics: tuple[Diagnostic, ...] = ()
    """The same messages, positioned in the proof as given to ``verify`` (for error feedback to a model)."""


@dataclass(frozen=True, slots=True)
class Candidate:
    """One generated tactic with its model log-probability and length in tokens."""

    tactic: str
    logprob: float = 0.0
    num_tokens: int = 1
    reasoning: str = ""
    """A chat model's text around the proof it wrote (its reasoning); empty for plain completions."""
    answer: str = ""
    """A chat model's whole answer, the assistant turn a repair conversation repeats; empty otherwise."""


@dataclass(frozen=True, slots=True)
class Repair:
    """One failed turn of an error-feedback conversation: the model's answer and what the check said."""

    answer: str
    """The model's whole answer (repeated as the assistant turn)."""
    proof: str
    """The code it wrote: the diagnostics' positions are lines and columns of this text."""
    round: int
    """The repair round the answer came from (0: the first sample)."""
    message: str
    """Why the proof failed, in one line (the verdict's reason)."""
    diagnostics: tuple[Diagnostic, ...] = ()


@dataclass(frozen=True, slots=True)
class TacticRequest:
    """What a generator is asked: the goal text, the theorem and the tactics so far."""

    goal: str
    theorem: Theorem
    tactics: tuple[str, ...] = ()
    prefix: str = ""
    """Text the tactic must start with (LeanCopilot's prefix); the model continues it."""
    seed: int | None = None
    """Seed of this generation (from the attempt's seed and the expansion, see `request_seed`);
    None leaves sampling unseeded."""
    samples: int | None = None
    """Candidates wanted for this request; None: the generator's own count (``--samples``)."""
    repairs: tuple[Repair, ...] = ()
    """Earlier failed answers of this conversation, oldest first (error-feedback repair)."""


def request_seed(seed: int | None, expansion: int) -> int | None:
    """The seed of the generation for ``expansion`` of a search seeded with ``seed`` (31 bits, so any
    server takes it); None when the search has no seed."""
    if seed is None:
        return None
    digest = hashlib.sha256(f"{seed}:{expansion}".encode()).digest()
    return int.from_bytes(digest[:4], "big") >> 1


class Status(enum.StrEnum):
    """How one proof attempt ended."""

    PROVED = "proved"
    FAILED = "failed"  # the search space was exhausted
    BUDGET = "budget"  # a budget (expansions, time, calls) ran out first
    ERROR = "error"  # the environment or the model failed


@dataclass(slots=True)
class SearchStats:
    """Counters and timers of one search; each is filled by the part that spends it."""

    expansions: int = 0
    env_calls: int = 0
    model_calls: int = 0
    tokens: int = 0
    nodes: int = 0
    time_model: float = 0.0
    time_env: float = 0.0
    time_search: float = 0.0
    wall_time: float = 0.0
    unused_model_calls: int = 0
    """Model calls made ahead of their turn (a search on several processes) that the search never used."""
    unused_env_calls: int = 0
    """Tactics run ahead of their turn that the search never recorded."""

    def to_dict(self) -> dict[str, float | int]:
        return {name: getattr(self, name) for name in self.__slots__}


@dataclass(slots=True)
class Attempt:
    """One whole proof tried by the whole-proof strategy, kept for pass@k.

    ``sample`` is the conversation it belongs to (the index of the first-round sample) and
    ``round`` the repair round that wrote it (0: the first answer).
    """

    proof: str
    verified: bool
    message: str = ""
    verdict: Verdict | None = None
    round: int = 0
    sample: int = 0
    reasoning: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The record's view: the proof, the verdict, where it stands in the conversations, Lean's messages."""
        messages = [] if self.verdict is None else [str(d) for d in self.verdict.diagnostics]
        return {
            "proof": self.proof,
            "verified": self.verified,
            "message": self.message,
            "level": "" if self.verdict is None else self.verdict.level,
            "round": self.round,
            "sample": self.sample,
            "reasoning": self.reasoning,
            "messages": messages,
        }


@dataclass(slots=True)
class SearchResult:
    """The record of one proof attempt on one theorem."""

    name: str
    status: Status
    proof: list[str] | str | None = None
    verified: bool = False
    verdict: Verdict | None = None
    stats: SearchStats = field(default_factory=SearchStats)
    reason: str = ""
    attempts: list[Attempt] = field(default_factory=list)
    graph: Any = None  # a networkx.DiGraph when the search kept it
    sketches: list[SketchRecord] = field(default_factory=list)
    """The sketches a sketch-and-decompose attempt tried, with their gaps (other strategies: none)."""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view (the graph is written separately, see search.graph)."""
        return {
            "name": self.name,
            "status": self.status.value,
            "proof": self.proof,
            "verified": self.verified,
            "verification": None
            if self.verdict is None
            else {
                "ok": self.verdict.ok,
                "message": self.verdict.message,
                "method": self.verdict.method,
                "level": self.verdict.level,
                "messages": list(self.verdict.messages),
            },
            "stats": self.stats.to_dict(),
            "reason": self.reason,
            "attempts": [attempt.to_dict() for attempt in self.attempts],
            **({"sketches": [s.to_dict() for s in self.sketches]} if self.sketches else {}),
        }
