"""Draft, sketch, prove end to end over real gRPC to a PISA stand-in running as its own process."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest

from prover.config import ProveConfig, merge
from prover.models.prompts import PROMPTS
from prover.runner import Runner
from search import Candidate, TacticRequest, Theorem
from tests.isabelle_env.conftest import PROOF, SCRIPT, STATEMENT, STATEMENT_TEXT


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def problems(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def row(name, proof="Divide by 2.", statement=STATEMENT_TEXT):
    return {
        "problem_name": name,
        "informal_statement": "If 2x = 4, show x = 2.",
        "informal_proof": proof,
        "formal_statement": statement.replace("theorem t:", f"theorem {name}:"),
    }


class SketchModel:
    """Writes one sketch per problem; problem `hangs` gets a step that never answers."""

    def __init__(self):
        self.requests: list[TacticRequest] = []

    async def propose(self, requests):
        self.requests.extend(requests)
        out = []
        for request in requests:
            proof = PROOF
            if "hangs" in request.theorem.name:
                proof = PROOF.replace("using h0 sledgehammer", "using h0 by hang")
            out.append([Candidate(proof, -1.0, 10)])
        return out


def dsp_config(tmp_path, bench, port, pid_file=None, **run):
    script = tmp_path / "pisa.json"
    renamed = {k.replace("theorem t:", "theorem NAME:"): v for k, v in SCRIPT["works"].items()}
    names = ("ok", "hangs", "after")
    works = {**SCRIPT["works"], **{k.replace("NAME", n): v for k, v in renamed.items() for n in names}}
    script.write_text(json.dumps({**SCRIPT, "works": works}))
    from tests.isabelle_env import fake_pisa  # grpc: only the tests that start a server need it

    command = fake_pisa.command(script, pid_file)
    # The pid file is the test's window into the server process, which the sandbox (rightly) closes.
    sandbox = "off" if pid_file is not None else "auto"
    env = {"pisa_command": command, "pisa_ports": [port], "isa_path": "/opt/Isabelle2022", "sandbox": sandbox}
    return merge(
        ProveConfig(),
        {
            "env": {"name": "isabelle", **env},
            "run": {"benchmark": str(bench), "strategy": "dsp", "out": str(tmp_path / "run"), "concurrency": 1, **run},
            "search": {"tactic_timeout": 1.0},
            "generator": {"prompt": "dsp"},
        },
        "test",
    )


async def test_a_hung_step_restarts_the_server_and_the_batch_goes_on(tmp_path):
    bench = problems(tmp_path / "p.jsonl", [row("ok"), row("hangs"), row("after")])
    model = SketchModel()
    config = dsp_config(tmp_path, bench, free_port())
    summary = await Runner(config, generator=model).run()
    records = {r["name"]: r for r in map(json.loads, (tmp_path / "run" / "results.jsonl").read_text().splitlines())}
    assert records["ok"]["status"] == "proved" and records["ok"]["verified"]
    assert "by simp" in records["ok"]["proof"] and "by (metis c0 mult.commute)" in records["ok"]["proof"]
    assert "gap 0: by simp" in records["ok"]["reason"]
    assert records["hangs"]["status"] == "failed" and "restarted" in records["hangs"]["reason"]
    assert records["after"]["status"] == "proved"  # on the restarted server
    assert summary["proved"] == 2
    assert "Formal:\ntheorem ok:" in PROMPTS.get("dsp").render(model.requests[0])


async def test_a_problem_past_its_time_is_budget_and_our_server_restarts(tmp_path):
    bench = problems(tmp_path / "p.jsonl", [row("hangs"), row("after")])
    pids = tmp_path / "pids"
    config = dsp_config(tmp_path, bench, free_port(), pid_file=pids)
    # The step limit is far away: only the problem's own time can end the hung step.
    config = merge(config, {"search": {"timeout": 3.0, "tactic_timeout": 120.0}}, "test")
    await Runner(config, generator=SketchModel(), report=False).run()
    records = {r["name"]: r for r in map(json.loads, (tmp_path / "run" / "results.jsonl").read_text().splitlines())}
    assert records["hangs"]["status"] == "budget" and "time (3 s) ran out" in records["hangs"]["reason"]
    assert records["after"]["status"] == "proved"
    first, second = map(int, pids.read_text().split())  # the stand-in was started twice
    with pytest.raises(ProcessLookupError):  # and the first one, stuck in the step, is gone
        os.kill(first, 0)
    assert first != second


def test_prompts_render_and_parse():
    theorem = Theorem(
        "mathd_numbertheory_1",
        STATEMENT,
        language="isabelle",
        informal_statement="Find the remainder.",
        informal_proof="Compute it.",
    )
    request = TacticRequest(theorem.statement, theorem)
    text = PROMPTS.get("dsp").render(request)
    assert "(2::nat)^10 mod 7" in text  # the number-theory examples for a number-theory problem
    assert text.endswith(f"### Solution\n\nCompute it. *)\n\nFormal:\n{STATEMENT}")
    other = Theorem("mathd_algebra_1", STATEMENT, language="isabelle", informal_statement="Solve.", informal_proof="x")
    assert "linear_equation" in PROMPTS.get("dsp").render(TacticRequest(STATEMENT, other))
    assert PROMPTS.get("dsp").parse('\nproof -\n  have "a"\n    sledgehammer\nqed\n\n\nInformal:') == (
        'proof -\n  have "a"\n    sledgehammer\nqed'
    )
    draft = PROMPTS.get("dsp-draft")
    assert draft.render(request).endswith("### Problem\n\nFind the remainder.\n\n### Solution\n\n")
    assert draft.parse("We compute. *)\n\nFormal:") == "We compute."


def run_dsp_command(tmp_path, rows, *flags: str) -> subprocess.CompletedProcess:
    """`prover dsp` on these problems, against the PISA stand-in it starts itself; results in tmp_path/cli."""
    bench = problems(tmp_path / "p.jsonl", rows)
    config = dsp_config(tmp_path, bench, free_port())
    pisa = ["--pisa-command", config.env.pisa_command, "--pisa-ports", str(config.env.pisa_ports[0])]
    where = ["--benchmark", str(bench), "--isa-path", "/opt/Isabelle2022", "--out", str(tmp_path / "cli")]
    return subprocess.run(
        [sys.executable, "-m", "prover.cli", "dsp", *where, *pisa, *flags],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_prover_dsp_command(tmp_path):
    done = run_dsp_command(tmp_path, [row("ok")], "--generator", "portfolio", "--tactics", PROOF)
    assert done.returncode == 0, done.stderr
    assert "proved 1/1" in done.stdout
    (record,) = map(json.loads, (tmp_path / "cli" / "results.jsonl").read_text().splitlines())
    verification = record["verification"]
    assert record["status"] == "proved" and verification["method"].startswith("isabelle sketch check (DSP)")
    assert verification["level"] == "isabelle" and "replayed in a fresh theory" in verification["method"]


def test_without_pisa_the_command_says_what_to_do(tmp_path):
    bench = problems(tmp_path / "p.jsonl", [row("ok")])
    done = subprocess.run(
        [sys.executable, "-m", "prover.cli", "dsp", "--benchmark", str(bench)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "--pisa-address" in done.stderr and "prover setup isabelle" in done.stderr
