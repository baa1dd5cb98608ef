from __future__ import annotations

import pytest

STATEMENT = 'theorem t: fixes x :: real assumes h0: "2 * x = 4" shows "x = 2"'
STATEMENT_TEXT = 'theorem t:\n  fixes x :: real\n  assumes h0: "2 * x = 4"\n  shows "x = 2"'
HAVE = 'have c0: "x * 2 = 4"'  # a goal of the sketch, as Isabelle splits it off (`using` is a command too)
SHOW = "show ?thesis"
PROOF = f"""proof -
  (* multiply out *)
  {HAVE} using h0 sledgehammer
  then {SHOW} sledgehammer
qed"""
SKETCH = f"{STATEMENT_TEXT}\n{PROOF}"

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


class Connected:
    """A server someone else runs: the fixture's client."""

    def __init__(self, client) -> None:
        self.client = client
        self.restarts = 0

    async def start(self):
        return self.client


def env_on(client):  # type: ignore[no-untyped-def]
    """An Isabelle environment on the stand-in the fixture started."""
    from isabelle_env.env import IsabelleEnv
    from isabelle_env.server import PisaSettings

    return IsabelleEnv(Connected(client), PisaSettings(isa_path="/opt/Isabelle2022"))
