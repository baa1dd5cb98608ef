"""A fake-REPL script for sketches of `x + x = 4`: gaps that close, a gap that never does, a crash in a gap."""

from __future__ import annotations

HYPS = "x : ℕ\nh : x = 2\n"
STATEMENT = "theorem {name} (x : ℕ) (h : x = 2) : x + x = 4 := by"
GOAL = HYPS + "⊢ x + x = 4"

GAP_EQ = HYPS + "⊢ x = 2"  # `have h₁ : x = 2`: closed by `exact h`
GAP_SUM = HYPS + "h₁ : x = 2\n⊢ x + x = 2 + 2"  # `have h₂ : x + x = 2 + 2`: closed by `subst h` then `rfl`
GAP_OPEN = HYPS + "h₁ : x = 2\n⊢ x = 3"  # `have h₃ : x = 3`: `norm_num` rewrites it for ever, nothing closes it
AFTER_TWO = HYPS + "h₁ : x = 2\nh₂ : x + x = 2 + 2\n⊢ x + x = 4"
AFTER_OPEN = HYPS + "h₁ : x = 2\nh₃ : x = 3\n⊢ x + x = 4"

TWO_GAPS = "  have h₁ : x = 2 := by sorry\n  have h₂ : x + x = 2 + 2 := by\n    sorry\n  omega"
ONE_OPEN = "  have h₁ : x = 2 := by sorry\n  have h₃ : x = 3 := by sorry\n  omega"
# A term gap before a tactic gap: the REPL lists the tactic sorry first.
TERM_FIRST = "  have h₁ : x = 2 := sorry\n  have h₂ : x + x = 2 + 2 := by sorry\n  omega"
GAP_TACTICS = "exact h,subst h,rfl,norm_num"
CHAIN = 6  # states `norm_num` walks through in the open gap


def chain(index: int) -> str:
    return GAP_OPEN + " ∧ True" * index


def sketch_script(*names: str) -> dict:
    """The script: each named statement has goal GOAL; gaps and the main goals after them are scripted."""
    states: dict[str, dict] = {
        GAP_EQ: {"exact h": [], "crash": {"fault": "crash"}},
        GAP_SUM: {"subst h": ["⊢ 2 + 2 = 2 + 2"], "crash": {"fault": "crash"}},
        "⊢ 2 + 2 = 2 + 2": {"rfl": [], "crash": {"fault": "crash"}},
        AFTER_TWO: {"omega": []},
        AFTER_OPEN: {"omega": []},
    }
    for index in range(CHAIN):
        states[chain(index)] = {"norm_num": [chain(index + 1)]}
    return {"goals": {STATEMENT.format(name=name): GOAL for name in names}, "states": states}
