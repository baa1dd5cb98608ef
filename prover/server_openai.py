"""The OpenAI-compatible side of `prover serve`, as LLMLean and the official `openai` client use it.

Requests (`/v1/chat/completions`, `/v1/completions`) carry an LLMLean prompt: the goal in
``[STATE]...[/STATE]`` and the file so far in ``[CTX]...[/CTX]``. Answers are whole JSON
objects, or with ``stream: true`` server-sent events in OpenAI's chunk format ending in
``data: [DONE]``. ``n``, ``temperature``, ``max_tokens`` and ``stop`` reach the model
(`prover.models.options`).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

TAGS = ("STATE", "CTX")
MAX_BLOCKS = 64
"""More [STATE]/[CTX] blocks than this in one prompt is refused: LLMLean sends one of each."""


class PromptError(ValueError):
    """A prompt without the blocks the server reads, or with too many of them."""


class ChatMessage(BaseModel):
    """One message of a chat request."""

    model_config = ConfigDict(extra="ignore")
    role: str
    content: str


class _Sampling(BaseModel):
    model_config = ConfigDict(extra="ignore")
    model: str = "llemma-prover"
    n: int = Field(default=1, ge=1, le=64)
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    max_tokens: int | None = Field(default=None, ge=1)
    stop: list[str] | str | None = None
    stream: bool = False

    @property
    def stops(self) -> tuple[str, ...]:
        if self.stop is None:
            return ()
        return (self.stop,) if isinstance(self.stop, str) else tuple(self.stop)


class ChatRequest(_Sampling):
    """OpenAI's chat completion request (LLMLean with ``api = "openai"``)."""

    messages: list[ChatMessage] = Field(min_length=1)


class CompletionRequest(_Sampling):
    """OpenAI's (legacy) completion request."""

    prompt: str


def read_blocks(text: str) -> tuple[str, str | None]:
    """The goal in the last ``[STATE]...[/STATE]`` and the file in the last ``[CTX]...[/CTX]``.

    Linear time: each tag's next opening and closing positions are searched only
    forward from where they were last found, so repeated or unclosed tags cost one
    pass over the text; more than ``MAX_BLOCKS`` blocks are refused.
    """
    opens = {tag: -2 for tag in TAGS}  # -2: to be searched from `position`; -1: none left
    closes = {tag: -2 for tag in TAGS}
    found: dict[str, str] = {}
    count = position = 0
    while True:
        for tag in TAGS:
            if -1 < opens[tag] < position or opens[tag] == -2:
                opens[tag] = text.find(f"[{tag}]", position)
        live = [(opens[tag], tag) for tag in TAGS if opens[tag] >= 0]
        if not live:
            break
        at, tag = min(live)
        body_start = at + len(tag) + 2
        if -1 < closes[tag] < body_start or closes[tag] == -2:
            closes[tag] = text.find(f"[/{tag}]", body_start)
        if closes[tag] < 0:
            opens[tag] = -1  # nothing after this can close a block of this tag
            continue
        count += 1
        if count > MAX_BLOCKS:
            raise PromptError(f"the prompt has more than {MAX_BLOCKS} [STATE]/[CTX] blocks")
        found[tag] = text[body_start : closes[tag]].removeprefix("\n").removesuffix("\n")
        position = closes[tag] + len(tag) + 3
    if "STATE" not in found:
        raise PromptError("the prompt has no [STATE]...[/STATE] block with the goal")
    return found["STATE"].strip(), found.get("CTX")


def _envelope(kind: str, model: str) -> dict[str, Any]:
    prefix = "chatcmpl" if kind.startswith("chat") else "cmpl"
    return {"id": f"{prefix}-{uuid.uuid4().hex[:24]}", "object": kind, "created": int(time.time()), "model": model}


def chat_response(model: str, tactics: list[str]) -> dict[str, Any]:
    """A whole ``chat.completion`` with one choice per tactic."""
    return {
        **_envelope("chat.completion", model),
        "choices": [
            {"index": i, "message": {"role": "assistant", "content": t}, "finish_reason": "stop"}
            for i, t in enumerate(tactics)
        ],
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
    }


def completion_response(model: str, tactics: list[str]) -> dict[str, Any]:
    """A whole ``text_completion`` with one choice per tactic."""
    return {
        **_envelope("text_completion", model),
        "choices": [{"index": i, "text": t, "logprobs": None, "finish_reason": "stop"} for i, t in enumerate(tactics)],
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
    }


def _event(data: dict[str, Any] | str) -> str:
    return f"data: {data if isinstance(data, str) else json.dumps(data)}\n\n"


def chat_stream(model: str, tactics: list[str]) -> Iterator[str]:
    """``chat.completion.chunk`` events: per choice its role and content, then its finish, then [DONE]."""
    head = _envelope("chat.completion.chunk", model)
    for i, tactic in enumerate(tactics):
        delta = {"role": "assistant", "content": tactic}
        yield _event({**head, "choices": [{"index": i, "delta": delta, "logprobs": None, "finish_reason": None}]})
        yield _event({**head, "choices": [{"index": i, "delta": {}, "logprobs": None, "finish_reason": "stop"}]})
    yield _event("[DONE]")


def completion_stream(model: str, tactics: list[str]) -> Iterator[str]:
    """``text_completion`` chunks, one text and one finish per choice, then [DONE]."""
    head = _envelope("text_completion", model)
    for i, tactic in enumerate(tactics):
        yield _event({**head, "choices": [{"index": i, "text": tactic, "logprobs": None, "finish_reason": None}]})
        yield _event({**head, "choices": [{"index": i, "text": "", "logprobs": None, "finish_reason": "stop"}]})
    yield _event("[DONE]")


def models_list(model: str) -> dict[str, Any]:
    """``GET /v1/models``: the one model this server serves."""
    return {
        "object": "list",
        "data": [{"id": model, "object": "model", "created": int(time.time()), "owned_by": "llemma-prover"}],
    }
