"""The proof-search contract and the search algorithms.

This package imports nothing else of the project: environments (``lean_env``,
``isabelle_env``) and the application (``prover``) depend on it, never the
other way round.
"""

from __future__ import annotations

from search.best_first import BestFirstSearch, SearchConfig
from search.protocols import ProofEnv, TacticGenerator
from search.registry import Registry, UnknownNameError
from search.types import (
    VERIFICATION_LEVELS,
    Attempt,
    Candidate,
    Failed,
    GaveUp,
    Goals,
    Outcome,
    Proved,
    SearchResult,
    SearchStats,
    Status,
    TacticRequest,
    Theorem,
    TimedOut,
    Verdict,
    VerificationLevel,
    request_seed,
)
from search.whole_proof import WholeProofConfig, WholeProofSearch

__all__ = [
    "VERIFICATION_LEVELS",
    "Attempt",
    "BestFirstSearch",
    "Candidate",
    "Failed",
    "GaveUp",
    "Goals",
    "Outcome",
    "ProofEnv",
    "Proved",
    "Registry",
    "SearchConfig",
    "SearchResult",
    "SearchStats",
    "Status",
    "TacticGenerator",
    "TacticRequest",
    "Theorem",
    "TimedOut",
    "UnknownNameError",
    "Verdict",
    "VerificationLevel",
    "WholeProofConfig",
    "WholeProofSearch",
    "request_seed",
]
