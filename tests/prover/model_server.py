"""An OpenAI-compatible server (a real local socket) answering as the whole-proof models answer.

Chat answers are written the way each model writes them: DeepSeek-Prover-V2 a plan, a sketch block
with `sorry`, then the complete proof in a last block; Goedel-Prover-V2 and Kimina-Prover a
`<think>` section (Kimina with ```tactics snippets in it), then the Lean file with the header
again and the theorem restated. ``Model`` decides what each conversation gets: a proof per
theorem for a first turn, and for a repair turn (the conversation holds the model's earlier answer
and the feedback), the fix it was scripted to give when the feedback holds the expected text.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from tests.prover.hostile_openai import hostile_server


def restated(header: str, statement: str, tactics: str) -> str:
    """The Lean file a chat model writes: the header again, a doc comment, the theorem, its tactics."""
    body = "\n".join(f"  {line}" for line in tactics.split("\n"))
    return f"{header}/-- The statement, restated. -/\n{statement}\n{body}"


def answer_as(style: str, code: str) -> str:
    """A chat answer in a model's style whose last ```lean4 block is ``code``."""
    if style == "deepseek-v2":
        sketch = code.rsplit(":= by", 1)[0] + ":= by\n  sorry"
        return (
            "### Detailed Proof and Analysis\n\nSubstitute, then compute.\n\n"
            f"### Lean 4 Proof with `have` statements\n\n```lean4\n{sketch}\n```\n\n"
            f"### Complete Lean 4 Proof\n\n```lean4\n{code}\n```"
        )
    if style == "kimina":
        return (
            "<think>\nFirst I try the obvious step.\n```tactics\nsubst h\n```\nThat should do.\n</think>\n"
            f"```lean4\n{code}\n```"
        )
    return f"<think>\nA plan: substitute, then compute.\n</think>\n\n### Proof\n\n```lean4\n{code}\n```"


@dataclass
class Model:
    """What the server answers; every request body it received is kept in ``bodies``."""

    style: str
    first: dict[str, list[str]]
    """Theorem name -> the answers of a first turn, one per sample (n is honoured up to this many)."""
    fixes: list[tuple[str, str]] = field(default_factory=list)
    """(text the last feedback must hold, the answer then) for repair turns; otherwise "no idea"."""
    completions: dict[str, list[str]] = field(default_factory=dict)
    """Theorem name -> continuations for the completions API (DeepSeek-Prover-V1.5)."""
    bodies: list[dict] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def texts(self, body: dict) -> list[str]:
        if "prompt" in body:
            name = re.search(r"theorem (\w+)", body["prompt"]).group(1)
            return self.completions[name][: body["n"]]
        messages = body["messages"]
        name = re.search(r"theorem (\w+)", " ".join(m["content"] for m in messages)).group(1)
        if messages[-1]["role"] == "user" and any(m["role"] == "assistant" for m in messages):
            feedback = messages[-1]["content"]
            fix = next((answer for needle, answer in self.fixes if needle in feedback), "I do not see the error.")
            return [fix] * body["n"]
        return self.first[name][: body["n"]]

    def __call__(self, body: dict) -> tuple[int, bytes]:
        with self.lock:
            self.bodies.append(body)
        texts = self.texts(body)
        if "prompt" in body:
            choices = [{"index": i, "text": t, "finish_reason": "stop"} for i, t in enumerate(texts)]
        else:
            choices = [
                {"index": i, "message": {"role": "assistant", "content": t}, "finish_reason": "stop"}
                for i, t in enumerate(texts)
            ]
        return 200, json.dumps({"object": "chat.completion", "choices": choices}).encode()


@contextmanager
def serving(model: Model) -> Iterator[str]:
    """Serve ``model`` on 127.0.0.1; yields the base URL (``.../v1``)."""
    with hostile_server(model) as url:
        yield url
