from __future__ import annotations

from prover.benchmarks import load_benchmark


def test_all_488_minif2f_rows_load_with_their_splits(shared_data):
    path = shared_data / "minif2f" / "lean4" / "minif2f.jsonl"
    theorems = load_benchmark(str(path)).theorems
    assert len(theorems) == 488
    assert sum(t.split == "test" for t in theorems) == 244
    assert sum(t.split == "valid" for t in theorems) == 244
    assert len({t.name for t in theorems}) == 488
    for theorem in theorems:
        assert theorem.statement.rstrip().endswith(":= by"), theorem.name
        assert theorem.header.startswith("import Mathlib"), theorem.name
        assert theorem.statement.lstrip().startswith(("theorem", "lemma")), theorem.name


def test_minif2f_test_resolves_through_the_cache(shared_data, tmp_path, monkeypatch):
    cache = tmp_path / "data" / "minif2f" / "lean4"
    cache.mkdir(parents=True)
    (cache / "minif2f.jsonl").write_bytes((shared_data / "minif2f" / "lean4" / "minif2f.jsonl").read_bytes())
    monkeypatch.setenv("LLEMMA_PROVER_HOME", str(tmp_path))
    bench = load_benchmark("minif2f-test", limit=5)
    assert len(bench.theorems) == 5 and all(t.split == "test" for t in bench.theorems)
    assert len(load_benchmark("minif2f-valid").theorems) == 244
