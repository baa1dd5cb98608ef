"""`prover doctor`: one line per component, with the exact fix when it is missing."""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata

from prover.paths import data_home, lean_project_home


@dataclass(frozen=True, slots=True)
class Check:
    """The state of one component."""

    name: str
    ok: bool
    detail: str
    fix: str = ""


def _version_of(command: list[str]) -> str | None:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = (done.stdout or done.stderr).strip().splitlines()
    return text[0] if done.returncode == 0 and text else None


def _executable(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    elan = os.path.expanduser(f"~/.elan/bin/{name}")
    return elan if os.path.exists(elan) else None


def check_lean() -> Check:
    lean = _executable("lean")
    if lean is None:
        return Check("Lean toolchain", False, "lean not found on PATH or in ~/.elan/bin", "prover setup lean")
    return Check("Lean toolchain", True, _version_of([lean, "--version"]) or lean)


def check_lake() -> Check:
    lake = _executable("lake")
    if lake is None:
        return Check("lake", False, "lake not found", "prover setup lean")
    return Check("lake", True, _version_of([lake, "--version"]) or lake)


def check_repl() -> Check:
    project = lean_project_home()
    binary = project / "repl" / ".lake" / "build" / "bin" / "repl"
    if binary.exists():
        return Check("Lean REPL", True, f"{binary} (project {project})")
    return Check(
        "Lean REPL",
        False,
        f"no REPL build at {binary}",
        "prover setup lean   (or pass --lean-project DIR / --repl-command CMD)",
    )


def check_kernel_verifier() -> Check:
    """SafeVerify for `--verify kernel`, as `prover setup lean --verifier` installs it."""
    import json

    from lean_env.kernel import MARKER, VERIFIER_DIR

    marker = lean_project_home() / VERIFIER_DIR / MARKER
    if not marker.is_file():
        return Check(
            "kernel verifier",
            False,
            "SafeVerify is not installed (only `--verify repl` is available)",
            "prover setup lean --verifier",
        )
    info = json.loads(marker.read_text())
    return Check(
        "kernel verifier", True, f"SafeVerify {info.get('commit', '?')[:10]} for Lean {info.get('lean_version')}"
    )


def _package(display: str, module: str, distribution: str, fix: str) -> Check:
    if importlib.util.find_spec(module) is None:
        return Check(display, False, "not installed", fix)
    try:
        version = metadata.version(distribution)
    except metadata.PackageNotFoundError:
        version = "installed"
    return Check(display, True, version)


def check_leandojo() -> Check:
    return _package("LeanDojo", "lean_dojo", "lean-dojo", "pip install 'llemma-prover[lean]'")


def check_isabelle() -> Check:
    isabelle = shutil.which("isabelle")
    if isabelle is None:
        return Check("Isabelle", False, "isabelle not found on PATH", "prover setup isabelle")
    return Check("Isabelle", True, isabelle)


def check_pisa() -> Check:
    address = os.environ.get("PISA_ADDRESS")
    if not address:
        return Check(
            "PISA server", False, "PISA_ADDRESS is not set", "export PISA_ADDRESS=HOST:PORT of a running server"
        )
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host or "127.0.0.1", int(port)), timeout=3):
            return Check("PISA server", True, f"{address} accepts connections")
    except (OSError, ValueError) as error:
        return Check("PISA server", False, f"{address} unreachable ({error})", "start PISA or fix PISA_ADDRESS")


def check_sandbox() -> Check:
    import sandbox

    return Check("sandbox", sandbox.probe() is None, sandbox.describe("auto"), sandbox.FIX)


def check_gpu() -> Check:
    smi = shutil.which("nvidia-smi")
    if smi is not None:
        name = _version_of([smi, "--query-gpu=name,memory.total", "--format=csv,noheader"])
        if name:
            return Check("GPU", True, name)
    return Check("GPU", False, "no NVIDIA GPU visible", "none needed: --generator portfolio runs on the CPU")


def check_torch() -> Check:
    return _package("torch", "torch", "torch", "pip install 'llemma-prover[hf]'")


def check_transformers() -> Check:
    return _package("transformers", "transformers", "transformers", "pip install 'llemma-prover[hf]'")


def check_vllm() -> Check:
    return _package("vLLM", "vllm", "vllm", "pip install 'llemma-prover[vllm]' (needs a CUDA GPU)")


def check_ray() -> Check:
    return _package("Ray", "ray", "ray", "pip install 'llemma-prover[ray]'")


def check_minif2f() -> Check:
    path = data_home() / "minif2f" / "lean4" / "minif2f.jsonl"
    if path.is_file():
        return Check("miniF2F data", True, str(path))
    return Check("miniF2F data", False, f"not at {path}", "prover data get minif2f")


CHECKS: tuple[Callable[[], Check], ...] = (
    check_lean,
    check_lake,
    check_repl,
    check_kernel_verifier,
    check_leandojo,
    check_isabelle,
    check_pisa,
    check_sandbox,
    check_gpu,
    check_torch,
    check_transformers,
    check_vllm,
    check_ray,
    check_minif2f,
)


def run_checks() -> list[Check]:
    return [check() for check in CHECKS]
