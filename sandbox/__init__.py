"""Process supervision and containment shared by the prover backends (imports nothing of ours).

- `spawn` / `kill_group`: a prover process in a process group of its own, with a memory limit,
  killed by its group id.
- `Policy`, `wrap`, `resolve`: the bubblewrap sandbox every prover process runs in where it works.
- `relay.py`: run inside a sandbox, exposes a server's loopback port as a Unix socket.
"""

from __future__ import annotations

from pathlib import Path

from sandbox.bwrap import (
    FIX,
    MODES,
    Mode,
    Mount,
    Policy,
    SandboxUnavailable,
    command_mounts,
    describe,
    host_env,
    path_mounts,
    probe,
    resolve,
    version,
    wrap,
)
from sandbox.process import kill_group, spawn

RELAY = Path(__file__).with_name("relay.py")

__all__ = [
    "FIX",
    "MODES",
    "RELAY",
    "Mode",
    "Mount",
    "Policy",
    "SandboxUnavailable",
    "command_mounts",
    "describe",
    "host_env",
    "kill_group",
    "path_mounts",
    "probe",
    "resolve",
    "spawn",
    "version",
    "wrap",
]
