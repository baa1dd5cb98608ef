"""Proof environments by name: each factory gives a provider that hands out one env per theorem."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Protocol

from prover.config import EnvConfig
from search import ProofEnv, Registry, SearchConfig


class EnvProvider(Protocol):
    """Owns prover processes and lends a ``ProofEnv`` per theorem being searched."""

    language: str

    def session(self) -> AbstractAsyncContextManager[ProofEnv]:
        """A context in which one theorem is searched; the env is returned on exit."""
        ...

    async def close(self) -> None:
        """Stop every process this provider started."""
        ...


class EnvUnavailable(RuntimeError):
    """The environment cannot start here; the message names what is missing and the fix."""


EnvFactory = Callable[[EnvConfig, SearchConfig], EnvProvider]
ENVIRONMENTS: Registry[EnvFactory] = Registry("environment")


def build_env(config: EnvConfig, search: SearchConfig) -> EnvProvider:
    """The configured environment provider, or EnvUnavailable saying what to install."""
    return ENVIRONMENTS.get(config.name)(config, search)
