"""A stand-in for SafeVerify (the minif2f-deepseek-check branch, Lean v4.9.0) at its process boundary.

Usage: python fake_safeverify.py TARGET.olean SUBMISSION.olean   (the .olean files of fake_lean.py)

It prints what SafeVerify prints and fails the way it fails: every constant of both
files is replayed (one the kernel rejects raises); each target constant must be in
the submission with the same kind and type; the submission's theorems may use only
propext, Quot.sound and Classical.choice. A failure is an uncaught exception (exit 1,
after "found a problem in SUBMISSION" on stderr); success ends with
"Finished with no errors." and exit 0.
"""

from __future__ import annotations

import json
import sys

ALLOWED = ("propext", "Quot.sound", "Classical.choice")


class UserError(Exception):
    pass


def replay(path: str, targets: list[dict] | None = None) -> list[dict]:
    print("------------------")
    print(f"Replaying {path}")
    try:
        with open(path) as handle:
            module = json.load(handle)
    except FileNotFoundError:
        raise UserError(f"object file '{path}' does not exist") from None
    print("Finished imports")
    for constant in module["constants"]:
        if not constant["kernel_ok"]:
            raise UserError(f"(kernel) declaration type mismatch, '{constant['name']}' has type ... but is expected")
    print("Finished replay")
    found = {c["name"]: c for c in module["constants"]}
    for constant in module["constants"]:
        print("---")
        print(constant["kind"])
        print(constant["name"])
        print(constant["type"])
        print(f"#[{', '.join(constant['axioms'])}]")
    for target in targets or []:
        name = target["name"]
        if name not in found:
            raise UserError(f"{name} not found in submission")
        mine = found[name]
        if mine["kind"] != target["kind"]:
            raise UserError(f"{mine['kind']} {name} is not the same kind as the requirement {target['kind']} {name}")
        if mine["type"] != target["type"]:
            raise UserError(f"theorem {name} does not have the same type as the requirement")
        for axiom in mine["axioms"]:
            if axiom not in ALLOWED:
                raise UserError(f"{axiom} is not in the allowed set of standard axioms")
    return module["constants"]


def main() -> int:
    if len(sys.argv) < 3:
        print("uncaught exception: not enough arguments", file=sys.stderr)
        return 1
    target, submission = sys.argv[1], sys.argv[2]
    try:
        targets = replay(target)
        replay(submission, targets)
    except UserError as error:
        print(f"found a problem in {submission}", file=sys.stderr)
        print(f"uncaught exception: {error}", file=sys.stderr)
        return 1
    print("Finished with no errors.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
