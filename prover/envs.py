"""Proof environments by name: each factory gives a provider that hands out one env per theorem."""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from prover.config import EnvConfig
from search import ProofEnv, Registry, SearchConfig

if TYPE_CHECKING:
    from lean_env.kernel import KernelSettings
    from lean_env.repl_env import ReplPool
    from lean_env.verifier import ReplVerifier


logger = logging.getLogger(__name__)


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
    factory = ENVIRONMENTS.get(config.name)
    if config.search_workers > 1 and config.name != "lean-repl":
        logger.warning("--search-workers is for --env lean-repl; %s searches on one process each", config.name)
    return factory(config, search)


def repl_pool(config: EnvConfig) -> ReplPool:
    """The REPL process pool the configuration names, or EnvUnavailable saying what is missing."""
    import shutil

    from lean_env.process import ReplSettings, default_repl_command, split_command
    from lean_env.repl_env import ReplPool
    from prover.paths import lean_project_home

    project = Path(config.lean_project).expanduser() if config.lean_project else lean_project_home()
    if config.repl_command:
        command = split_command(config.repl_command)
        cwd = str(project) if config.lean_project else None
    else:
        command = default_repl_command(project)
        if not Path(command[-1]).exists():
            raise EnvUnavailable(
                f"The Lean REPL is not built at {command[-1]}. Run `prover setup lean` "
                "(or pass --lean-project DIR of a project with Mathlib and the REPL, or --repl-command CMD)."
            )
        cwd = str(project)
    if not command or (shutil.which(command[0]) is None and not Path(command[0]).exists()):
        raise EnvUnavailable(
            f"Cannot run {command[0] if command else '(empty command)'!r}: not found. "
            "Install Lean with `prover setup lean` or fix --repl-command."
        )
    policy = None
    if contained(config):
        from lean_env.contain import LakeEnvError, lean_policy

        try:
            command, policy = lean_policy(command, cwd)
        except LakeEnvError as error:
            raise EnvUnavailable(str(error)) from None
    settings = ReplSettings(command=command, cwd=cwd, memory_limit_mb=config.memory_limit_mb, sandbox=policy)
    return ReplPool(settings, config.workers)


def contained(config: EnvConfig) -> bool:
    """Whether prover processes run under bubblewrap (``--sandbox``); ``on`` without it is refused."""
    import sandbox

    try:
        return sandbox.resolve(config.sandbox)
    except sandbox.SandboxUnavailable as error:
        raise EnvUnavailable(str(error)) from None


def sandbox_state(config: EnvConfig) -> str:
    """One line for the run manifest: whether prover processes are contained, and how."""
    import sandbox

    if config.name == "leandojo":
        return "off: LeanDojo starts its own processes (the REPL verifier, when configured, is contained)"
    if config.name == "isabelle" and config.pisa_address:
        return f"off: the PISA servers at {', '.join(config.pisa_address)} are not started by us"
    return sandbox.describe(config.sandbox)


def lean_verifier(config: EnvConfig, pool: ReplPool) -> ReplVerifier:
    """The Lean verifier at the configured level, or EnvUnavailable when the kernel checker is missing."""
    from lean_env.verifier import ReplVerifier

    kernel = None
    if config.verify == "kernel":
        from lean_env.kernel import KernelChecker

        kernel = KernelChecker(kernel_settings(config))
    return ReplVerifier(pool.pick, allowed_axioms=config.axioms, level=config.verify, kernel=kernel)


def kernel_settings(config: EnvConfig) -> KernelSettings:
    """How the kernel level compiles and replays: `--kernel-command`, or the SafeVerify set up in the project."""
    from lean_env.kernel import KernelSettings, installed_settings
    from lean_env.process import split_command
    from prover.paths import lean_project_home

    project = Path(config.lean_project).expanduser() if config.lean_project else lean_project_home()
    if config.kernel_command:
        lean = split_command(config.lean_command) if config.lean_command else ("lake", "env", "lean")
        cwd = str(project) if config.lean_project or not config.lean_command else None
        return KernelSettings(
            lean_command=lean, checker_command=split_command(config.kernel_command), cwd=cwd, sandbox=contained(config)
        )
    settings = installed_settings(project)
    if settings is None:
        raise EnvUnavailable(
            f"--verify kernel needs SafeVerify in the Lean project {project}: run `prover setup lean --verifier` "
            "(or pass --kernel-command 'CMD {target} {submission}')"
        )
    from dataclasses import replace

    if config.lean_command:
        settings = replace(settings, lean_command=split_command(config.lean_command))
    return replace(settings, sandbox=contained(config))


@ENVIRONMENTS.register("lean-repl")
def _lean_repl(config: EnvConfig, search: SearchConfig) -> EnvProvider:
    from lean_env.repl_env import LeanReplProvider
    from lean_env.setup import project_versions
    from prover.paths import lean_project_home

    project = Path(config.lean_project).expanduser() if config.lean_project else lean_project_home()
    versions = project_versions(project) if config.lean_project or not config.repl_command else {}
    pool = repl_pool(config)
    return LeanReplProvider(pool, lean_verifier(config, pool), versions=versions, search_workers=config.search_workers)


@ENVIRONMENTS.register("leandojo")
def _leandojo(config: EnvConfig, search: SearchConfig) -> EnvProvider:
    from lean_env.dojo import DojoSource, LeanDojoProvider

    missing = [
        flag
        for flag, value in [
            ("--dojo-repo", config.dojo_repo),
            ("--dojo-commit", config.dojo_commit),
            ("--dojo-file", config.dojo_file),
        ]
        if not value
    ]
    if missing:
        raise EnvUnavailable(f"--env leandojo needs {', '.join(missing)} (the traced repository holding the theorems)")
    # Found proofs are checked by the REPL verifier when a REPL is configured, else by LeanDojo.
    pool = verifier = None
    if config.repl_command or config.lean_project:
        pool = repl_pool(config)
        verifier = lean_verifier(config, pool)
    elif config.verify == "kernel":
        raise EnvUnavailable("--verify kernel with --env leandojo needs a REPL too: pass --lean-project DIR")
    source = DojoSource(config.dojo_repo, config.dojo_commit, config.dojo_file)  # type: ignore[arg-type]
    return LeanDojoProvider(source, tactic_timeout=search.tactic_timeout, verifier_pool=pool, verifier=verifier)


@ENVIRONMENTS.register("isabelle")
def _isabelle(config: EnvConfig, search: SearchConfig) -> EnvProvider:
    try:
        from isabelle_env.env import IsabelleProvider
        from isabelle_env.server import PisaSettings
    except ImportError as error:
        raise EnvUnavailable(
            f"the Isabelle backend needs grpcio: pip install 'llemma-prover[isabelle]' ({error})"
        ) from None
    from lean_env.process import split_command

    isa_path = config.isa_path or str(Path.home() / "Isabelle2022")
    settings = PisaSettings(
        isa_path=isa_path,
        jar=config.pisa_jar,
        command=split_command(config.pisa_command) if config.pisa_command else (),
        step_timeout=search.tactic_timeout,
        sandbox=not config.pisa_address and contained(config),  # a server at --pisa-address is not ours to contain
    )
    if not (config.pisa_address or config.pisa_jar or config.pisa_command):
        raise EnvUnavailable(
            "no PISA server: pass --pisa-address HOST:PORT of a running one, or --pisa-jar PATH to start our own "
            "(`prover setup isabelle` says how to get Isabelle2022, Java 11, the jar and the heaps)"
        )
    for address in config.pisa_address:
        host, _, port = address.rpartition(":")
        if not host or not port.isdigit():
            raise EnvUnavailable(f"--pisa-address {address!r} is not HOST:PORT (several: HOST:PORT,HOST:PORT)")
        if config.pisa_address.count(address) > 1:
            raise EnvUnavailable(
                f"--pisa-address names {address} twice: a PISA server holds one Isabelle and checks one problem "
                "at a time, so list each server once (run more servers for more parallel checks)"
            )
    return IsabelleProvider(settings, ports=config.pisa_ports, addresses=config.pisa_address)
