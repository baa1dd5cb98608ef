from __future__ import annotations

import os
from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"

INTEGRATION = "integration"
"""The marker of the tests against a real system (Lean REPL, PISA, LeanDojo, GPU): the only ones
that may skip under ``--strict-skips``, because only they need something a clean machine lacks."""


@pytest.fixture
def shared_data() -> Path:
    """../shared/data beside the project, or a skip saying it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA}")
    return SHARED_DATA


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--strict-skips",
        action="store_true",
        help="print every skip and fail the run when a test other than the real-system integration tests "
        f"(marked `{INTEGRATION}`: Lean, PISA, LeanDojo, GPU) is skipped (on by default where CI=true)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"{INTEGRATION}: needs a real Lean REPL, PISA server, LeanDojo repository or GPU; skips without one"
    )
    if config.getoption("--strict-skips") or os.environ.get("CI", "").lower() == "true":
        config.pluginmanager.register(SkipLedger(), "strict-skips")


class SkipLedger:
    """Collects every skip of the run; a skip outside the integration tests fails it."""

    def __init__(self) -> None:
        self.allowed: list[str] = []
        self.refused: list[str] = []

    def _note(self, report: pytest.TestReport | pytest.CollectReport) -> None:
        if not report.skipped:
            return
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        reason = reason.removeprefix("Skipped: ")
        line = f"{report.nodeid}: {reason}"
        # A module skipped as a whole (a CollectReport) is never allowed: skip per test.
        marked = isinstance(report, pytest.TestReport) and INTEGRATION in report.keywords
        (self.allowed if marked else self.refused).append(line)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self._note(report)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        self._note(report)

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if self.refused and exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter) -> None:  # type: ignore[no-untyped-def]
        terminalreporter.write_sep("=", "skip summary")
        terminalreporter.write_line(
            f"{len(self.allowed)} real-system integration test(s) skipped, {len(self.refused)} other(s) skipped"
        )
        for line in self.allowed:
            terminalreporter.write_line(f"allowed  {line}")
        for line in self.refused:
            terminalreporter.write_line(f"REFUSED  {line}")
        if self.refused:
            terminalreporter.write_line(
                "--strict-skips: only the integration tests may skip; install the extras "
                "(pip install -e '.[test,hf,ray,server,isabelle]'), put ../shared beside the project, "
                "and skip per test where a package is really used, never a whole module"
            )
