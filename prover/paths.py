"""Where the toolkit keeps its caches: data sets and the Lean project of `prover setup lean`."""

from __future__ import annotations

import os
from pathlib import Path


def home() -> Path:
    """``$LLEMMA_PROVER_HOME``, else ``~/.cache/llemma-prover``."""
    configured = os.environ.get("LLEMMA_PROVER_HOME")
    return Path(configured) if configured else Path.home() / ".cache" / "llemma-prover"


def data_home() -> Path:
    return home() / "data"


def lean_project_home() -> Path:
    """The Lean project with Mathlib and the REPL made by `prover setup lean`."""
    return home() / "lean-project"
