"""DSP against PISA servers that hold one Isabelle each: concurrency must not change any record."""

from __future__ import annotations

import asyncio
import json

import pytest

from prover.config import EnvConfig, ProveConfig, merge
from prover.envs import EnvUnavailable, build_env
from prover.runner import Runner
from search import Candidate, SearchConfig
from tests.isabelle_env.conftest import HAVE, PROOF, SCRIPT, STATEMENT, STATEMENT_TEXT
from tests.isabelle_env.fake_pisa import FakePisa

NAMES = [f"p{i}" for i in range(8)]


def extra(index: int) -> str:
    """A step that problem ``index`` has more of than the problems before it."""
    return HAVE.replace("c0", f"c{index}")


class SketchModel:
    """Problem p<i> gets a sketch with i more steps, written a little later than p<i-1>'s.

    The problems then start and finish at different times, as in a real run, so that one
    problem's initialisation falls in the middle of another's check.
    """

    async def propose(self, requests):
        out = []
        for request in requests:
            index = int(request.theorem.name.removeprefix("p"))
            await asyncio.sleep(0.03 * index)
            more = "".join(f"  {extra(k)} sledgehammer\n" for k in range(1, index + 1))
            out.append([Candidate(PROOF.replace("  then show", more + "  then show"), -1.0, 10)])
        return out


def script() -> dict:
    """What the stand-in proves: the shared script, per problem name."""
    works = dict(SCRIPT["works"])
    for index, name in enumerate(NAMES):
        works[STATEMENT.replace("theorem t:", f"theorem {name}:")] = SCRIPT["works"][STATEMENT]
        works[extra(index + 1)] = SCRIPT["works"][HAVE]
    return {**SCRIPT, "works": works, "step_delay": 0.01}


def bench(tmp_path):
    path = tmp_path / "p.jsonl"
    rows = [
        {
            "problem_name": name,
            "informal_statement": "If 2x = 4, show x = 2.",
            "informal_proof": "Divide by 2.",
            "formal_statement": STATEMENT_TEXT.replace("theorem t:", f"theorem {name}:"),
        }
        for name in NAMES
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


async def run(tmp_path, addresses: list[str], concurrency: int, out: str) -> dict[str, dict]:
    config = merge(
        ProveConfig(),
        {
            "env": {"name": "isabelle", "pisa_address": ",".join(addresses), "isa_path": "/opt/Isabelle2022"},
            "run": {"benchmark": str(bench(tmp_path)), "strategy": "dsp", "out": str(tmp_path / out)},
            "search": {"tactic_timeout": 5.0},
            "generator": {"prompt": "dsp"},
        },
        "test",
    )
    config = merge(config, {"run": {"concurrency": concurrency}}, "test")
    await Runner(config, generator=SketchModel(), report=False).run()
    lines = (tmp_path / out / "results.jsonl").read_text().splitlines()
    return {r["name"]: r for r in map(json.loads, lines)}


def outcome(records: dict[str, dict]) -> dict[str, tuple]:
    return {name: (r["status"], r["proof"], r["verified"]) for name, r in records.items()}


async def test_concurrency_8_gives_the_records_of_concurrency_1_on_one_server(tmp_path):
    fake = FakePisa(script())
    address = f"127.0.0.1:{await fake.start()}"
    try:
        one = await run(tmp_path, [address], 1, "c1")
        eight = await run(tmp_path, [address], 8, "c8")
    finally:
        await fake.stop()
    assert sorted(one) == NAMES and all(r["status"] == "proved" for r in one.values()), one
    assert outcome(eight) == outcome(one)
    assert all(HAVE in r["proof"] for r in eight.values())


async def test_several_addresses_share_the_problems_one_at_a_time_each(tmp_path):
    fakes = [FakePisa(script()) for _ in range(2)]
    addresses = [f"127.0.0.1:{await fake.start()}" for fake in fakes]
    try:
        eight = await run(tmp_path, addresses, 8, "c8")
    finally:
        for fake in fakes:
            await fake.stop()
    assert sorted(eight) == NAMES and all(r["status"] == "proved" for r in eight.values())
    assert all(fake.instances > 0 for fake in fakes)  # both servers checked problems
    assert sum(fake.instances for fake in fakes) == len(NAMES)  # one Isabelle per problem
    assert all(fake.lost == 0 for fake in fakes)  # no problem lost its states to another's initialisation


@pytest.mark.parametrize(
    ("addresses", "complaint"),
    [("127.0.0.1:8000,127.0.0.1:8000", "names 127.0.0.1:8000 twice"), ("localhost", "is not HOST:PORT")],
)
def test_addresses_are_checked_before_anything_starts(addresses, complaint):
    env = EnvConfig(name="isabelle", pisa_address=tuple(addresses.split(",")))
    with pytest.raises(EnvUnavailable, match=complaint):
        build_env(env, SearchConfig())
