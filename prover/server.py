"""`prover serve`: tactic suggestions over HTTP for LeanCopilot and LLMLean (FastAPI + uvicorn).

- LeanCopilot's external generator: ``POST /generate`` ``{"name", "input", "prefix"}`` ->
  ``{"outputs": [{"output", "score"}]}``; ``POST /encode`` ``{"input"}`` -> ``{"outputs": [float]}``.
- OpenAI-compatible ``POST /v1/chat/completions`` and ``POST /v1/completions`` (LLMLean with
  ``api = openai``): the goal is read from the ``[STATE]`` block, the file from ``[CTX]``.
- ``GET /health``.

Safe by default: loopback only, optional bearer token, a body-size cap (413), a per-request
timeout (504), a concurrency cap (429), and a JSON 4xx naming the problem for bad requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import re
import time
import uuid
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from prover.suggest import GoalFormatError, check_suggestions, goal_theorem, header_of, suggest
from search import TacticGenerator

logger = logging.getLogger(__name__)

INSTALL_HINT = "the server needs FastAPI and uvicorn: pip install 'llemma-prover[server]'"
_BLOCK = re.compile(r"\[(?P<tag>STATE|CTX)\]\n?(?P<body>.*?)\n?\[/(?P=tag)\]", re.DOTALL)


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """Limits and options of the suggestion server."""

    host: str = "127.0.0.1"
    port: int = 23337
    token: str | None = None
    max_body_bytes: int = 1 << 20
    request_timeout: float = 60.0
    max_concurrent: int = 8
    num_suggestions: int = 8
    check: bool = False
    """Run each suggestion in Lean when the request gives the file context, and drop errors."""
    tactic_timeout: float = 10.0


class GenerateRequest(BaseModel):
    """LeanCopilot's external generator request."""

    model_config = ConfigDict(extra="ignore")
    name: str = ""
    input: str
    prefix: str = ""


class EncodeRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: str = ""
    input: str


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")
    role: str
    content: str


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")
    model: str = "llemma-prover"
    messages: list[ChatMessage] = Field(min_length=1)
    n: int = Field(default=1, ge=1, le=64)
    temperature: float | None = None
    max_tokens: int | None = None
    stop: list[str] | str | None = None


class CompletionRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")
    model: str = "llemma-prover"
    prompt: str
    n: int = Field(default=1, ge=1, le=64)
    temperature: float | None = None
    max_tokens: int | None = None
    stop: list[str] | str | None = None


def read_blocks(text: str) -> tuple[str, str | None]:
    """The goal in ``[STATE]...[/STATE]`` and the file in ``[CTX]...[/CTX]`` of an LLMLean prompt."""
    blocks = {m.group("tag"): m.group("body") for m in _BLOCK.finditer(text)}
    if "STATE" not in blocks:
        raise ValueError("the prompt has no [STATE]...[/STATE] block with the goal")
    return blocks["STATE"].strip(), blocks.get("CTX")


def create_app(generator: TacticGenerator, config: ServerConfig, env_provider: Any = None, encoder: Any = None):  # type: ignore[no-untyped-def]
    """The FastAPI application; ``env_provider`` (a Lean environment) enables checking."""
    try:
        from fastapi import FastAPI, Request
        from fastapi.exceptions import RequestValidationError
        from fastapi.responses import JSONResponse
    except ImportError as error:
        raise ImportError(f"{INSTALL_HINT} ({error})") from None

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI):  # type: ignore[no-untyped-def]
        yield
        if env_provider is not None:  # the Lean processes live in the server's event loop
            await env_provider.close()

    app = FastAPI(title="llemma-prover suggestions", version="1", lifespan=lifespan)
    slots = asyncio.Semaphore(config.max_concurrent)

    def problem(status: int, message: str) -> JSONResponse:
        return JSONResponse({"error": {"message": message, "code": status}}, status_code=status)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, error: RequestValidationError) -> JSONResponse:
        details = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()) if p != 'body') or 'body'}: {e.get('msg')}"
            for e in error.errors()
        )
        return problem(422, f"invalid request: {details}")

    @app.middleware("http")
    async def guard(request: Request, call_next):  # type: ignore[no-untyped-def]
        if request.url.path != "/health" and config.token is not None:
            given = request.headers.get("authorization", "")
            if not hmac.compare_digest(given, f"Bearer {config.token}"):
                return problem(401, "missing or wrong bearer token (Authorization: Bearer ...)")
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > config.max_body_bytes:
            return problem(413, f"request body over {config.max_body_bytes} bytes")
        if request.method == "POST":
            body = await request.body()
            if len(body) > config.max_body_bytes:
                return problem(413, f"request body over {config.max_body_bytes} bytes")
        if request.url.path == "/health":
            return await call_next(request)
        if slots.locked():
            return problem(429, f"busy: {config.max_concurrent} requests in flight; retry shortly")
        async with slots:
            try:
                return await asyncio.wait_for(call_next(request), timeout=config.request_timeout)
            except TimeoutError:
                return problem(504, f"no answer within {config.request_timeout:g} s")

    async def suggestions(goal: str, prefix: str, context: str | None, count: int) -> list[tuple[str, float]]:
        candidates = await suggest(generator, goal, prefix=prefix)
        if config.check and env_provider is not None and context is not None:
            try:
                theorem = goal_theorem(goal, header_of(context))
            except GoalFormatError as error:
                logger.info("not checking: %s", error)
            else:
                async with env_provider.session() as env:
                    checked = await check_suggestions(env, theorem, candidates, config.tactic_timeout)
                return [(s.tactic, s.score) for s in checked if s.ok][:count]
        return [(c.tactic, c.logprob) for c in candidates][:count]

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "generator": type(generator).__name__, "check": config.check}

    @app.post("/generate")
    async def generate(body: GenerateRequest) -> dict[str, Any]:
        if not body.input.strip():
            return problem(400, "input is empty: send the goal as LeanCopilot does")  # type: ignore[return-value]
        found = await suggestions(body.input, body.prefix, None, config.num_suggestions)
        return {"outputs": [{"output": tactic, "score": score} for tactic, score in found]}

    @app.post("/encode")
    async def encode(body: EncodeRequest) -> Any:
        if encoder is None:
            return problem(501, "this server's generator has no encoder; serve an hf model for /encode")
        (vector,) = await encoder.encode([body.input])
        return {"outputs": vector}

    @app.post("/v1/chat/completions")
    async def chat(body: ChatRequest) -> Any:
        try:
            goal, context = read_blocks(body.messages[-1].content)
        except ValueError as error:
            return problem(400, str(error))
        found = await suggestions(goal, "", context, body.n)
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.model,
            "choices": [
                {"index": i, "message": {"role": "assistant", "content": tactic}, "finish_reason": "stop"}
                for i, (tactic, _) in enumerate(found)
            ],
            "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
        }

    @app.post("/v1/completions")
    async def completions(body: CompletionRequest) -> Any:
        try:
            goal, context = read_blocks(body.prompt)
        except ValueError as error:
            return problem(400, str(error))
        found = await suggestions(goal, "", context, body.n)
        return {
            "id": f"cmpl-{uuid.uuid4().hex[:24]}",
            "object": "text_completion",
            "created": int(time.time()),
            "model": body.model,
            "choices": [
                {"index": i, "text": tactic, "logprobs": None, "finish_reason": "stop"}
                for i, (tactic, _) in enumerate(found)
            ],
        }

    return app
