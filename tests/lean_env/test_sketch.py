"""Sketches as text: which `sorry` is a gap, what the screen still refuses, and how closed gaps go back in."""

from __future__ import annotations

import pytest

from lean_env.sketch import assemble, find_gaps, plan_sketch
from lean_env.verify import plan_check
from search import Theorem, Verdict

STATEMENT = "theorem t (x : ℝ) (h₀ : 2 * x + 3 = 11) : x ^ 2 = 16 := by"
THEOREM = Theorem("t", STATEMENT + "\n", header="import Mathlib\nopen Real\n")

SKETCH = """  -- 2x = 8
  have h₁ : 2 * x = 8 := by sorry
  have h₂ : x = 4 := by
    sorry
  have : |x| = 4 := sorry
  have h₃ : x * x =
      16 := by sorry
  nlinarith [h₁, h₂, this, h₃]"""


def plan(text: str = SKETCH, theorem: Theorem = THEOREM):
    result = plan_sketch(theorem, text)
    assert not isinstance(result, Verdict), result
    return result


def test_each_have_gap_is_found_with_its_lean_position():
    sketch = plan()
    # The leading comment is dropped with the rest of the preamble (lean_env.code_block): lines count from `have h₁`.
    assert [(g.name, g.line, g.term, g.alone) for g in sketch.gaps] == [
        ("h₁", 1, False, False),
        ("h₂", 3, False, True),
        ("this", 4, True, False),
        ("h₃", 6, False, False),
    ]
    lines = sketch.command.split("\n")
    for gap in sketch.gaps:
        line, column = sketch.position(gap)
        # The REPL's position: 1-based line of the command, column in codepoints.
        assert lines[line - 1][column : column + 5] == "sorry"
    assert sketch.position(sketch.gaps[0]) == (2, 28)


def test_columns_count_codepoints_as_lean_does():
    # proof_branching.expected.out: `sorry` at column 75 of a line with `∧` and `→` (81 in UTF-8 bytes)
    statement = "theorem complex_and (p q r : Prop) (h1 : p ∧ q) (h2 : q → r) : p ∧ r := by"
    sketch = plan("  have h : p ∧ r := by sorry\n  exact h", Theorem("complex_and", statement))
    (gap,) = sketch.gaps
    line = sketch.command.split("\n")[sketch.position(gap)[0] - 1]
    assert gap.column == line.index("sorry") == 23 and len(line[:23].encode()) == 25


@pytest.mark.parametrize(
    "text",
    [
        "  exact sorry",  # the main goal left open
        "  have h : x = 4 := by sorry; simp\n  simp",  # not the last token of its line
        "  have h : x = 4 := by\n    norm_num\n    sorry\n  simp",  # after other tactics of the block
        "  calc x ^ 2 = 4 ^ 2 := by sorry\n    _ = 16 := by norm_num",  # a calc step, not a have
        "  have h : x = 4 := by simp\n  refine ⟨?_, by sorry⟩",  # the walk back meets `by`
        "  have h : x = 4\n  norm_num\n  · exact (foo := sorry)",  # inside brackets
        "  have h : P\n  norm_num := by sorry",  # a line at the have's column is another tactic
        "  have h : x = sorry := by norm_num\n  simp",  # in a statement
        "  have h : x = 4 := by admit\n  simp",  # an alias of sorry
    ],
)
def test_a_sorry_that_is_not_a_have_gap_is_refused(text):
    verdict = plan_sketch(THEOREM, text)
    assert isinstance(verdict, Verdict) and not verdict.ok and verdict.level == "screen"
    assert "sorry" in verdict.message or "admit" in verdict.message


@pytest.mark.parametrize(
    "hidden",
    [
        "  have h : x = 4 := by sorry\n  theorem cheat : False := by sorry",
        "  have h : x = 4 := by sorry\n#eval IO.println 1",
        "  have h : x = 4 := by sorry\n    end\n  simp",
        "  have h : x = 4 := by sorry\n  exact (by_elab fun _ _ => pure default)",
        "  have h : x = 4 := by sorry\n  native_decide",
        "  have h : x = 4 := by sorry\n  /- unterminated",
    ],
)
def test_everything_but_the_gaps_is_still_screened(hidden):
    verdict = plan_sketch(THEOREM, hidden)
    assert isinstance(verdict, Verdict) and not verdict.ok and "refused before Lean" in verdict.message


def test_a_sketch_that_changes_the_statement_is_refused():
    changed = STATEMENT.replace("x ^ 2 = 16", "x ^ 2 = 17")
    verdict = plan_sketch(THEOREM, f"{changed}\n  have h : x = 4 := by sorry\n  nlinarith [h]")
    assert isinstance(verdict, Verdict) and not verdict.ok and "differently from the benchmark" in verdict.message


def test_a_restated_theorem_with_the_header_lines_is_a_sketch_and_other_header_lines_are_refused():
    answer = f"import Mathlib\n\nopen Real\n{STATEMENT}\n  have h : x = 4 := by sorry\n  nlinarith [h]"
    sketch = plan(answer)
    assert sketch.body == "  have h : x = 4 := by sorry\n  nlinarith [h]" and len(sketch.gaps) == 1
    smuggled = f"import Mathlib\nopen Lean Elab\n{STATEMENT}\n  have h : x = 4 := by sorry\n  nlinarith [h]"
    verdict = plan_sketch(THEOREM, smuggled)
    assert isinstance(verdict, Verdict) and not verdict.ok


def test_closed_gaps_go_in_place_of_their_sorry_deeper_than_the_have():
    sketch = plan()
    proof = assemble(
        sketch,
        {0: ["linarith"], 1: ["linarith", "done"], 2: ["rw [abs_of_pos (by linarith)]\nlinarith"], 3: ["nlinarith"]},
    )
    assert proof == (
        "  have h₁ : 2 * x = 8 := by\n"
        "    linarith\n"
        "  have h₂ : x = 4 := by\n"
        "    linarith\n"
        "    done\n"
        "  have : |x| = 4 := by\n"
        "    rw [abs_of_pos (by linarith)]\n"
        "    linarith\n"
        "  have h₃ : x * x =\n"
        "      16 := by\n"
        "    nlinarith\n"
        "  nlinarith [h₁, h₂, this, h₃]"
    )
    assert find_gaps(proof) == []
    check = plan_check(THEOREM, proof)  # the assembled proof is an ordinary proof: no sorry left to allow
    assert not isinstance(check, Verdict)


def test_a_gap_inside_a_bullet_gets_a_block_deeper_than_its_have():
    sketch = plan("  constructor\n  · have h : x = 4 := by sorry\n    exact h\n  · norm_num")
    assert sketch.gaps[0].have_column == 4
    assert assemble(sketch, {0: ["linarith"]}) == (
        "  constructor\n  · have h : x = 4 := by\n      linarith\n    exact h\n  · norm_num"
    )


def test_assembling_without_every_gap_closed_is_an_error():
    with pytest.raises(ValueError, match="gap 2 \\(h₂, line 3\\)"):
        assemble(plan(), {0: ["linarith"], 2: ["simp"], 3: ["simp"]})
