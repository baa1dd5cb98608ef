"""Any OpenAI-compatible server (vllm serve, SGLang, hosted APIs): completions or chat."""

from __future__ import annotations

import asyncio
import logging
import math
import os
import random
from collections.abc import Sequence
from typing import Any

import httpx

from prover.models.prompts import PromptFormat, rank_unique
from search import Candidate, TacticRequest

logger = logging.getLogger(__name__)

RETRY_STATUS = {408, 409, 429, 500, 502, 503, 504}


class ServerError(RuntimeError):
    """The server refused a request in a way retrying will not fix."""


class OpenAIGenerator:
    """Asks the server for ``samples`` completions per request, concurrently across requests."""

    def __init__(
        self,
        endpoint: str,
        model: str,
        prompt: PromptFormat,
        *,
        api: str = "completions",
        samples: int = 8,
        temperature: float = 1.0,
        top_p: float = 1.0,
        max_tokens: int = 256,
        api_key: str | None = None,
        timeout: float = 120.0,
        retries: int = 4,
        backoff: float = 0.5,
    ) -> None:
        if api not in ("completions", "chat"):
            raise ValueError(f"api must be 'completions' or 'chat', not {api!r}")
        self.url = endpoint.rstrip("/") + ("/chat/completions" if api == "chat" else "/completions")
        self.model = model
        self.prompt = prompt
        self.api = api
        self.samples = samples
        self.temperature = temperature
        self.top_p = top_p
        self.max_tokens = max_tokens
        self.retries = retries
        self.backoff = backoff
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._timeout = httpx.Timeout(timeout, connect=min(timeout, 10.0))
        self._headers = headers
        self._client: httpx.AsyncClient | None = None

    @classmethod
    def from_env(cls, endpoint: str, model: str, prompt: PromptFormat, api_key_env: str, **options: Any):  # type: ignore[no-untyped-def]
        return cls(endpoint, model, prompt, api_key=os.environ.get(api_key_env) or None, **options)

    async def propose(self, requests: Sequence[TacticRequest]) -> list[list[Candidate]]:
        answers = await self.propose_each(requests)
        failure = next((a for a in answers if isinstance(a, Exception)), None)
        if failure is not None:
            raise failure
        return answers  # type: ignore[return-value]

    async def propose_each(self, requests: Sequence[TacticRequest]) -> list[list[Candidate] | Exception]:
        """Each request's candidates, or the error the server gave for that request alone."""
        answers = await asyncio.gather(*(self._one(r) for r in requests), return_exceptions=True)
        for answer in answers:
            if isinstance(answer, BaseException) and not isinstance(answer, Exception):
                raise answer  # cancelled: not one request's failure
        return list(answers)  # type: ignore[arg-type]

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def body(self, request: TacticRequest) -> dict[str, Any]:
        """The JSON body sent for one request."""
        text = self.prompt.text(request)
        body: dict[str, Any] = {
            "model": self.model,
            "n": self.samples,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "max_tokens": self.max_tokens,
        }
        if self.prompt.stop:
            body["stop"] = list(self.prompt.stop)
        if request.seed is not None:
            body["seed"] = request.seed  # honoured per request by vLLM and SGLang, best effort by hosted APIs
        if self.api == "chat":
            body["messages"] = [{"role": "user", "content": text}]
            body["logprobs"] = True
        else:
            body["prompt"] = text
            body["logprobs"] = 1
        return body

    async def _one(self, request: TacticRequest) -> list[Candidate]:
        data = await self._post(self.body(request))
        choices = data.get("choices") if isinstance(data, dict) else None
        if not isinstance(choices, list):
            raise ServerError(f"{self.url} answered without a list of choices: {str(data)[:200]!r}")
        return rank_unique(self._candidate(request, c) for c in choices if isinstance(c, dict))

    def _candidate(self, request: TacticRequest, choice: dict[str, Any]) -> Candidate | None:
        """One choice as a candidate; None for a choice that is not text or whose score is not finite."""
        if self.api == "chat":
            message = choice.get("message")
            text = (message.get("content") if isinstance(message, dict) else None) or ""
            content = _field(choice.get("logprobs"), "content")
            tokens = [t.get("logprob") if isinstance(t, dict) else t for t in content]
        else:
            text = choice.get("text") or ""
            tokens = _field(choice.get("logprobs"), "token_logprobs")
        if not isinstance(text, str):
            return None
        # A completion continues the prefix; a chat answer is a whole tactic of its own.
        tactic = self.prompt.parse(text) if self.api == "chat" else self.prompt.tactic(request, text)
        if not tactic:
            return None
        values = [v for v in tokens if v is not None]
        if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
            return None
        logprob = float(sum(values))
        if not math.isfinite(logprob):  # JSON NaN or Infinity: such a score cannot rank anything
            logger.warning("%s: dropped a choice whose log-probability is %s", self.url, logprob)
            return None
        # Without logprobs every candidate ties and the server's order decides.
        return Candidate(tactic, logprob, max(1, len(tokens) or len(text.split())))

    async def _post(self, body: dict[str, Any]) -> dict[str, Any]:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self._timeout, headers=self._headers)
        last: str = ""
        for attempt in range(self.retries + 1):
            if attempt:
                delay = self.backoff * 2 ** (attempt - 1) * (1 + random.random() / 2)
                logger.warning("retrying %s in %.1f s after: %s", self.url, delay, last)
                await asyncio.sleep(delay)
            try:
                response = await self._client.post(self.url, json=body)
            except httpx.TransportError as error:  # connection refused, reset, timed out
                last = f"{type(error).__name__}: {error}"
                continue
            if response.status_code in RETRY_STATUS:
                last = f"HTTP {response.status_code}: {response.text[:200]}"
                continue
            if response.status_code >= 400:
                raise ServerError(f"{self.url} answered HTTP {response.status_code}: {response.text[:500]}")
            try:
                return response.json()
            except ValueError:
                raise ServerError(f"{self.url} answered something that is not JSON: {response.text[:200]!r}") from None
        raise ServerError(f"{self.url} failed after {self.retries + 1} attempts; last error: {last}")


def _field(value: object, name: str) -> list[Any]:
    """``value[name]`` when it is a list, else an empty list (servers leave fields out or null)."""
    found = value.get(name) if isinstance(value, dict) else None
    return found if isinstance(found, list) else []
