"""Property: whatever a model server sends and whatever the targets are named, a run ends with one
record per theorem and writes nothing outside its run directory."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from prover.benchmarks import load_benchmark
from prover.config import ProveConfig, merge
from prover.runner import Runner
from tests.lean_env.conftest import HEADER, T1, T2, T3, FakeRepl
from tests.prover.hostile_openai import completions, hostile_server

ANY_CHARACTER = st.characters(exclude_categories=())  # lone surrogates and control characters included
ODD = ["\ud800", "\udfff", "\x00", "\x1b[31m", "\r\n", "[/x]", "sorry", "../", "/", "\u202e", "  theorem x : False"]

model_text = st.one_of(
    st.text(ANY_CHARACTER, max_size=40),
    st.lists(st.sampled_from(ODD), max_size=6).map("".join),
    st.sampled_from(["subst h", "rfl", "omega", "\n  subst h\n  rfl\n```", "cheat"]),
    st.integers(0, 70_000).map(lambda n: "x" * n),  # over the tactic and the whole-proof limits
)
score = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False, width=32).map(repr),
    st.sampled_from(["NaN", "Infinity", "-Infinity", "null", '"high"']),
)
names = st.one_of(
    st.text(ANY_CHARACTER, min_size=1, max_size=20), st.lists(st.sampled_from(ODD), min_size=1).map("".join)
)

case = st.fixed_dictionaries(
    {
        "choices": st.lists(st.tuples(model_text, score), max_size=6),
        "names": st.lists(names, min_size=1, max_size=3),
        "strategy": st.sampled_from(["best-first", "whole-proof"]),
    }
)


def test_any_model_output_and_any_names_end_in_one_record_each_inside_the_run(tmp_path_factory):
    repl_dir = tmp_path_factory.mktemp("repl")
    fake = FakeRepl(repl_dir)
    answer: dict[str, bytes] = {"body": b'{"choices": []}'}

    with hostile_server(lambda body: (200, answer["body"])) as url:

        @settings(
            max_examples=40,
            deadline=None,
            derandomize=True,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        )
        @given(case)
        def check(example: dict) -> None:
            answer["body"] = completions(*((json.dumps(text), f"[{value}]") for text, value in example["choices"]))
            work = tmp_path_factory.mktemp("case")
            statements = [T1, T2, T3]
            rows = [
                {"name": name, "split": "test", "header": HEADER, "formal_statement": statements[i % 3] + "\n"}
                for i, name in enumerate(example["names"])
            ]
            (work / "bench.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
            run = work / "run"
            config = merge(
                ProveConfig(),
                {
                    "run": {
                        "benchmark": str(work / "bench.jsonl"),
                        "out": str(run),
                        "strategy": example["strategy"],
                        "keep_graphs": True,
                    },
                    "env": {"repl_command": fake.command, "workers": 1},
                    "generator": {
                        "name": "openai",
                        "endpoint": url,
                        "model": "m",
                        "prompt": "whole-proof" if example["strategy"] == "whole-proof" else "reprover",
                        "samples": 4,
                        "retries": 0,
                    },
                    "search": {"max_expansions": 3, "timeout": 20, "tactic_timeout": 5},
                },
                "property",
            )
            before = {p for p in work.rglob("*")}
            asyncio.run(asyncio.wait_for(Runner(config, report=False).run(), 60))  # the run ends
            data = (run / "results.jsonl").read_bytes()
            data.decode("ascii")  # valid UTF-8, every character escaped
            recorded = Counter(json.loads(line)["name"] for line in data.splitlines())
            ids = [t.name for t in load_benchmark(str(work / "bench.jsonl")).theorems]
            assert recorded == Counter(ids)  # every theorem exactly once
            written = {p for p in work.rglob("*")} - before
            assert all(p.is_relative_to(run) for p in written), sorted(map(str, written))
            assert all(Path(p).resolve().is_relative_to(run.resolve()) for p in written)

        check()
