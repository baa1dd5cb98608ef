"""`prover data extract`: the verified proofs of runs as training data, one JSON object per line.

Lines follow TRL's standard (not conversational) dataset types, which Hugging Face `datasets`
loads as they are: ``sft`` and ``whole-proof`` give prompt-completion lines (``prompt``,
``completion``), ``dpo`` preference lines (``prompt``, ``chosen``, ``rejected``). A completion is
what the model should write after the prompt, ending with the prompt format's stop string, so
the format's own parser reads the tactic back from it. Every line also names its theorem, the
theorem's split, the strongest verification level of its sources, and each source (run,
attempt, level): the same example from several runs or attempts is one line.

Theorems of an excluded split (``test`` unless ``--include-split test``) give no line, and
neither does a step (state and tactic) or a statement that also occurs in a proof of an
excluded theorem of the same runs: training on it would teach the held-out proof.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prover.models.prompts import PROMPTS, PromptFormat
from prover.training_data import ExtractionError, ProvedAttempt, open_run, proved_attempts
from search import TacticRequest, Theorem

FORMATS: tuple[str, ...] = ("sft", "dpo", "whole-proof")
LEVEL_RANK: dict[str, int] = {"repl": 1, "kernel": 2}
"""Lean levels by strength (a kernel-checked proof also passed the repl level)."""


@dataclass(frozen=True, slots=True)
class ExtractOptions:
    """What to extract and how to render it."""

    format: str = "sft"
    prompt: str = "llemma"
    exclude_splits: frozenset[str] = frozenset({"test"})
    benchmark: str | None = None
    """The benchmark file of the runs, when it is no longer where their manifests say."""


@dataclass(slots=True)
class Extraction:
    """The lines, and an account of everything that did not become one."""

    lines: list[dict[str, Any]] = field(default_factory=list)
    examples: int = 0
    """Examples read before duplicates were merged (proof steps, pairs or proofs)."""
    merged: int = 0
    excluded: Counter[str] = field(default_factory=Counter)
    """Verified attempts left out by split."""
    decontaminated: int = 0
    skipped: dict[str, Counter[str]] = field(default_factory=dict)
    """Per run, verified attempts that gave nothing, by reason."""
    without_graphs: list[str] = field(default_factory=list)
    """Runs that kept no search graphs (run without --keep-graphs)."""

    @property
    def unknown_split(self) -> int:
        return sum(1 for line in self.lines if line["split"] is None)


def completion_text(prompt: PromptFormat, text: str) -> str:
    """What a model should write after ``prompt``'s rendering (the format's own inverse of its parsing)."""
    return prompt.completion(text)


def whole_proof_text(theorem: Theorem, proof: Sequence[str] | str) -> str:
    """The proof as the checker ran it: a Lean tactic block indented under the statement."""
    if theorem.language == "lean4":
        from lean_env.verify import proof_body

        return proof_body(theorem, proof)
    return proof if isinstance(proof, str) else "\n".join(proof)


Example = tuple[tuple[str, ...], dict[str, Any], tuple[str, ...]]
"""(what makes two examples of one theorem the same, the line's fields, the contamination key)."""


def _step_examples(attempt: ProvedAttempt, prompt: PromptFormat, preference: bool) -> Iterator[Example]:
    for step in attempt.steps or ():
        text = prompt.text(TacticRequest(step.state, attempt.theorem, step.before))
        chosen = completion_text(prompt, step.tactic)
        seen = (step.state, step.tactic)
        if not preference:
            fields = {"prompt": text, "completion": chosen, "state": step.state, "tactic": step.tactic}
            yield (text, chosen), fields, seen
            continue
        for tactic, error in step.failures:
            rejected = completion_text(prompt, tactic)
            fields = {
                "prompt": text,
                "chosen": chosen,
                "rejected": rejected,
                "state": step.state,
                "chosen_tactic": step.tactic,
                "rejected_tactic": tactic,
                "error": error,
            }
            yield (text, chosen, rejected), fields, seen


def _proof_examples(attempt: ProvedAttempt, prompt: PromptFormat) -> Iterator[Example]:
    theorem = attempt.theorem
    body = whole_proof_text(theorem, attempt.proof)
    text = prompt.text(TacticRequest(theorem.statement, theorem))
    completion = completion_text(prompt, ("" if text.endswith("\n") else "\n") + body)
    fields = {
        "prompt": text,
        "completion": completion,
        "header": theorem.header,
        "statement": theorem.statement,
        "proof": body,
    }
    yield (text, completion), fields, (" ".join(theorem.statement.split()),)


def _check_options(options: ExtractOptions) -> PromptFormat:
    if options.format not in FORMATS:
        raise ExtractionError(f"Unknown format {options.format!r}; choose one of {', '.join(FORMATS)}.")
    prompt = PROMPTS.get(options.prompt)
    if options.format == "whole-proof" and not prompt.whole_proof:
        raise ExtractionError(
            f"prompt {prompt.name!r} renders one tactic; whole proofs need a whole-proof prompt (--prompt whole-proof)"
        )
    if options.format != "whole-proof" and prompt.whole_proof:
        raise ExtractionError(
            f"prompt {prompt.name!r} renders whole proofs; {options.format} steps need a tactic prompt "
            "(llemma, instruct, reprover, internlm, bfs)"
        )
    return prompt


def _examples(attempt: ProvedAttempt, options: ExtractOptions, prompt: PromptFormat) -> Iterator[Example]:
    if options.format == "whole-proof":
        return _proof_examples(attempt, prompt)
    return _step_examples(attempt, prompt, preference=options.format == "dpo")


def extract(runs: Sequence[str | Path], options: ExtractOptions) -> Extraction:
    """The training lines of ``runs``, in the order the runs and their records give them."""
    prompt = _check_options(options)
    if not runs:
        raise ExtractionError("no run directory given")
    out = Extraction()
    attempts: list[ProvedAttempt] = []
    for path in runs:
        source = open_run(path, options.benchmark)
        if options.format != "whole-proof" and not source.has_graphs:
            out.without_graphs.append(source.label)
        attempts.extend(proved_attempts(source, steps=options.format != "whole-proof"))
        out.skipped[source.label] = source.skipped
    kept = []
    held_out: set[tuple[str, ...]] = set()
    for attempt in attempts:
        if attempt.theorem.split in options.exclude_splits:
            out.excluded[attempt.theorem.split or ""] += 1
            held_out.update(seen for _, _, seen in _examples(attempt, options, prompt))
        else:
            kept.append(attempt)
    lines: dict[tuple[str, ...], dict[str, Any]] = {}
    for attempt in kept:
        theorem = attempt.theorem
        source_fields = {"run": attempt.run, "attempt": attempt.attempt, "level": attempt.level}
        for key, fields, seen in _examples(attempt, options, prompt):
            out.examples += 1
            if seen in held_out:
                out.decontaminated += 1
                continue
            full_key = (theorem.name, theorem.statement, *key)
            line = lines.get(full_key)
            if line is None:
                lines[full_key] = {
                    **fields,
                    "theorem": theorem.name,
                    "split": theorem.split,
                    "level": attempt.level,
                    "sources": [source_fields],
                }
                continue
            out.merged += 1
            if source_fields not in line["sources"]:
                line["sources"].append(source_fields)
            if LEVEL_RANK.get(attempt.level, 0) > LEVEL_RANK.get(line["level"], 0):
                line["level"] = attempt.level
    out.lines = list(lines.values())
    return out


def write_jsonl(lines: Sequence[dict[str, Any]], path: str | Path, *, force: bool = False) -> tuple[int, int]:
    """Write the lines as UTF-8 JSON lines through a temporary file; (written, dropped as not valid Unicode).

    An existing file is kept unless ``force``: it may hold data extracted earlier.
    """
    path = Path(path)
    if path.exists() and not force:
        raise ExtractionError(f"{path} exists; choose another --out, or --force to replace it")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    written = dropped = 0
    with tmp.open("wb") as handle:
        for line in lines:
            try:  # a lone surrogate (from a benchmark's text) has no UTF-8 form: the line is dropped
                data = (json.dumps(line, ensure_ascii=False) + "\n").encode("utf-8")
            except UnicodeEncodeError:
                dropped += 1
                continue
            handle.write(data)
            written += 1
    os.replace(tmp, path)
    return written, dropped
