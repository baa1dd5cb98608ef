"""Integration with a real PISA server; runs when PISA_ADDRESS names one (and ISABELLE_PATH its Isabelle)."""

from __future__ import annotations

import os

import pytest

from isabelle_env.checker import SketchChecker
from isabelle_env.client import PisaClient

ADDRESS = os.environ.get("PISA_ADDRESS")
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not ADDRESS, reason="set PISA_ADDRESS=HOST:PORT of a running PISA server to run this"),
]

STATEMENT = """theorem real_pisa_check:
  fixes x :: real
  assumes h0: "2 * x = 4"
  shows "x = 2"""
SKETCH = f"""{STATEMENT}
proof -
  have "x * 2 = 4" using h0 sledgehammer
  then show ?thesis sledgehammer
qed"""


async def test_real_pisa_fills_the_gaps_of_a_sketch():
    client = PisaClient(ADDRESS, timeout=300, step_timeout=30)
    try:
        await client.wait_ready(60)
        isa_path = os.environ.get("ISABELLE_PATH", os.path.expanduser("~/Isabelle2022"))
        result = await SketchChecker(client, step_timeout=30).check_fresh(isa_path, SKETCH, STATEMENT, ["Complex_Main"])
        assert result.success, result.error
        assert all(gap.closed_by for gap in result.gaps)
        assert result.verdict.ok and "x = 2" in result.verdict.message  # the replay printed the proved theorem
    finally:
        await client.close()
