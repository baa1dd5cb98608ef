from __future__ import annotations

import pytest

STATEMENT = 'theorem t: fixes x :: real assumes h0: "2 * x = 4" shows "x = 2"'
HAVE = 'have c0: "x * 2 = 4" using h0'
SHOW = "then show ?thesis"
SKETCH = f"""theorem t:
  fixes x :: real
  assumes h0: "2 * x = 4"
  shows "x = 2"
proof -
  (* multiply out *)
  {HAVE} sledgehammer
  {SHOW} sledgehammer
qed"""

SCRIPT = {
    "works": {HAVE: ["by simp", "by arith"], STATEMENT: ["by simp"]},
    "hammer": {SHOW: "by (metis c0 mult.commute)"},
    "hang": ["by hang"],
}


# The order the README and DSP (Jiang et al., 2023) give, written out: the checker must follow it.
DOCUMENTED_HEURISTICS = [
    "by auto",
    "by simp",
    "by blast",
    "by fastforce",
    "by force",
    "by eval",
    "by presburger",
    "by sos",
    "by arith",
    "by linarith",
    "by (auto simp: field_simps)",
]


@pytest.fixture
def grpc():
    """grpc, or a skip for the tests that speak to a PISA server when the isabelle extra is not installed."""
    return pytest.importorskip("grpc", reason="the isabelle extra (grpcio) is not installed")


@pytest.fixture
async def fake_pisa(grpc):
    from isabelle_env.client import PisaClient
    from tests.isabelle_env.fake_pisa import FakePisa

    fake = FakePisa(SCRIPT)
    port = await fake.start()
    client = PisaClient(f"127.0.0.1:{port}", timeout=10, step_timeout=2)
    await client.wait_ready(10)
    yield fake, client
    await client.close()
    await fake.stop()
