from __future__ import annotations

import json

from prover.benchmarks import load_benchmark, parse_thy


def test_all_488_theories_load_and_join_their_informal_proofs(shared_data):
    root = shared_data / "minif2f"
    theorems = load_benchmark(str(root / "isabelle"), language="isabelle").theorems
    assert len(theorems) == 488
    assert sum(t.split == "valid" for t in theorems) == 244 and sum(t.split == "test" for t in theorems) == 244
    assert all(t.language == "isabelle" and t.statement.startswith(("theorem", "lemma")) for t in theorems)
    # A statement ends with its proposition (or an `(is ...)` pattern), never with a proof such as `by eval`.
    assert [t.name for t in theorems if not t.statement.endswith(('"', ")"))] == []
    assert all(t.informal_statement and t.informal_proof for t in theorems)
    assert all("Complex_Main" in t.header or "HOL-Analysis.Analysis" in t.header for t in theorems)
    by_name = {t.name: t for t in theorems}
    assert len(by_name) == 488
    informal = json.loads((root / "informal" / "valid" / "aimeII_2001_p3.json").read_text())
    assert by_name["aimeII_2001_p3"].informal_proof == informal["informal_proof"]
    statement = by_name["aimeII_2001_p3"].statement
    assert statement.splitlines()[0] == "theorem aimeII_2001_p3:"
    assert statement.endswith('shows "x 531 + x 753 + x 975 = 898"')


def test_theories_with_full_proofs_keep_only_the_statement(shared_data):
    text = (shared_data / "minif2f" / "isabelle" / "test" / "aime_1983_p1.thy").read_text()
    name, statement, imports = parse_thy(text)
    assert name == "aime_1983_p1" and imports == ["Complex_Main"]
    assert statement.endswith('shows "ln w / ln z = 60"') and "proof" not in statement


def test_a_proof_on_the_statements_last_line_is_cut_off(shared_data):
    text = (shared_data / "minif2f" / "isabelle" / "test" / "mathd_numbertheory_127.thy").read_text()
    assert '(3::nat)" sorry' in text
    _, statement, _ = parse_thy(text)
    assert statement == 'theorem mathd_numbertheory_127 :\n  "(\\<Sum> k<101. 2^k) mod 7 = (3::nat)"'


def test_isabelle_jsonl(tmp_path):
    path = tmp_path / "dsp.jsonl"
    row = {
        "problem_name": "p",
        "informal_statement": "Show 1 + 1 = 2.",
        "informal_proof": "Arithmetic.",
        "formal_statement": 'theorem p: "(1::nat) + 1 = 2"',
        "imports": ["Complex_Main", "HOL-Library.Sum_of_Squares"],
    }
    path.write_text(json.dumps(row) + "\n")
    (theorem,) = load_benchmark(str(path), language="isabelle").theorems
    assert theorem.header == "Complex_Main HOL-Library.Sum_of_Squares" and theorem.informal_proof == "Arithmetic."
