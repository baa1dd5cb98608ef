"""Without an extra, only the tests that really use it skip; `--strict-skips` fails a run that skips others.

Each run is a pytest of its own in which the extras' packages (ray, torch, grpc) cannot be imported,
as on a machine that installed the project without them.
"""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Runs pytest with the named packages unimportable (`import ray` raises ImportError).
WITHOUT = (
    "import sys; sys.modules.update(dict.fromkeys(sys.argv[1].split(','))); "
    "import pytest; sys.exit(pytest.main(sys.argv[2:]))"
)


def pytest_without(packages: str, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    env.pop("CI", None)  # strictness is what these runs choose with --strict-skips, not the caller's CI=true
    return subprocess.run(
        [sys.executable, "-c", WITHOUT, packages, "-p", "no:cacheprovider", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def outcomes(junit: Path) -> dict[str, str]:
    """``test name -> passed | skipped | failed`` from a JUnit XML report."""
    found = {}
    for case in ET.parse(junit).iter("testcase"):
        kinds = {child.tag for child in case}
        found[case.get("name")] = next((k for k in ("failure", "error", "skipped") if k in kinds), "passed")
    return found


NEED_NOTHING = [
    "tests/prover/test_batch.py::test_sigkill_mid_run_then_resume_records_each_theorem_once[0]",
    "tests/prover/test_batch.py::test_a_crashing_worker_is_recorded_and_the_run_completes",
    "tests/prover/test_generators.py::test_portfolio_lists_per_language_and_override",
    "tests/prover/test_generators.py::test_batching_serves_concurrent_requests_with_fewer_calls",
    "tests/prover/test_generators.py::test_openai_completions_body_and_candidates",
    "tests/isabelle_env/test_dsp.py::test_prompts_render_and_parse",
    "tests/isabelle_env/test_minif2f_isabelle.py::test_isabelle_jsonl",
]
NEED_AN_EXTRA = [
    "tests/prover/test_batch.py::test_ray_mode_gives_the_same_records_as_local_mode",
    "tests/prover/test_generators.py::test_hf_cuts_candidates_at_the_stop_string",
    "tests/isabelle_env/test_checker.py::test_a_hung_step_times_out",
]


def test_without_the_extras_only_the_tests_using_them_skip(tmp_path):
    junit = tmp_path / "junit.xml"
    done = pytest_without("ray,torch,grpc", f"--junitxml={junit}", *NEED_NOTHING, *NEED_AN_EXTRA)
    assert done.returncode == 0, done.stdout[-3000:]
    found = outcomes(junit)
    assert {found[test.split("::")[1]] for test in NEED_NOTHING} == {"passed"}, found
    assert {found[test.split("::")[1]] for test in NEED_AN_EXTRA} == {"skipped"}, found
    assert "the ray extra is not installed" in done.stdout and "grpcio" in done.stdout


def test_strict_skips_fails_on_any_skip_but_the_integration_tests():
    integration = "tests/lean_env/test_real_repl.py"
    refused = pytest_without("ray", "--strict-skips", integration, NEED_AN_EXTRA[0])
    assert refused.returncode == 1, refused.stdout[-3000:]
    assert "skip summary" in refused.stdout
    assert f"REFUSED  {NEED_AN_EXTRA[0]}: the ray extra is not installed" in refused.stdout
    allowed = pytest_without("ray", "--strict-skips", integration)
    assert allowed.returncode == 0, allowed.stdout[-3000:]
    assert "REFUSED" not in allowed.stdout
