"""Simulated `lean -o` and SafeVerify for `prover bench`: their command lines and outputs, with a set cost.

Usage: python -m prover.bench.sim_kernel lean DELAY -o OUT.olean FILE.lean
       python -m prover.bench.sim_kernel check DELAY TARGET.olean SUBMISSION.olean
Benchmarking only: nothing is compiled or checked.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path


def main() -> int:
    tool, delay, *rest = sys.argv[1:]
    time.sleep(float(delay))
    if tool == "lean":
        Path(rest[rest.index("-o") + 1]).write_text("simulated olean\n")
        return 0
    print("Finished with no errors.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
