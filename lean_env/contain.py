"""What a Lean REPL process may see inside the sandbox.

Read-only: the system, the REPL command's executable and file arguments, the Lean
project (its working directory) and the toolchain. Writable: only a private /tmp.
``lake env CMD`` is resolved outside the sandbox: Lake opens its workspace files
for writing (``.lake/lakefile.olean.trace``) even when nothing is stale, which a
read-only project refuses, and a writable project would let model-written code
rewrite Mathlib's compiled files for every later check. So Lake runs once on the
host, where no model text reaches it, and the sandbox runs ``CMD`` with the
variables Lake sets (``LEAN_PATH``, ``LEAN_SYSROOT``, ...).
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from sandbox import Policy, command_mounts, host_env, path_mounts

LAKE_TIMEOUT = 600.0  # the first `lake env` of a project elaborates its lakefile
_DUMP = "import json, os; print(json.dumps(dict(os.environ)))"
TOOLCHAIN_VARIABLES = ("ELAN_HOME",)


class LakeEnvError(RuntimeError):
    """``lake env`` could not be run on the host to learn the environment of the REPL."""


def is_lake_env(command: Sequence[str]) -> bool:
    return len(command) > 2 and Path(command[0]).name == "lake" and command[1] == "env"


@functools.lru_cache(maxsize=16)
def lake_environment(lake: str, cwd: str | None) -> dict[str, str]:
    """The variables ``lake env`` sets or changes in ``cwd``, read by running it on the host (once)."""
    try:
        done = subprocess.run(
            [lake, "env", sys.executable, "-I", "-c", _DUMP],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=LAKE_TIMEOUT,
            check=False,
            start_new_session=True,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise LakeEnvError(f"cannot run `{lake} env` in {cwd or os.getcwd()}: {error}") from None
    if done.returncode != 0:
        raise LakeEnvError(
            f"`{lake} env` failed in {cwd or os.getcwd()} (exit {done.returncode}): {done.stderr.strip()[-500:]}. "
            "Run `prover setup lean`, or check --lean-project."
        )
    try:
        seen = json.loads(done.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise LakeEnvError(f"`{lake} env` printed no environment: {done.stdout[-300:]!r}") from None
    return {name: value for name, value in seen.items() if os.environ.get(name) != value}


def _listed_paths(variables: dict[str, str]) -> list[str]:
    """Absolute paths named in Lake's variables (search paths, sysroot), not the host's PATH."""
    return [part for name, value in variables.items() if name != "PATH" for part in value.split(os.pathsep) if part]


def lean_policy(command: Sequence[str], cwd: str | None) -> tuple[tuple[str, ...], Policy]:
    """The command to run inside the sandbox and the policy it runs under."""
    argv = tuple(command)
    lake_vars: dict[str, str] = {}
    if is_lake_env(argv):
        lake_vars = dict(lake_environment(argv[0], cwd))
        argv = argv[2:]
    elan_home = os.environ.get("ELAN_HOME", str(Path.home() / ".elan"))
    mounts = (
        *command_mounts(argv, cwd),
        *path_mounts([p for p in (cwd, elan_home) if p]),
        *path_mounts(_listed_paths(lake_vars)),
    )
    unique = tuple({m.inside: m for m in mounts}.values())
    env = host_env(extra={**{k: os.environ[k] for k in TOOLCHAIN_VARIABLES if k in os.environ}, **lake_vars})
    return argv, Policy(mounts=unique, env=env, cwd=cwd)
