"""`prover serve`: tactic suggestions over HTTP for LeanCopilot and LLMLean (FastAPI + uvicorn).

- LeanCopilot's external generator: ``POST /generate`` ``{"name", "input", "prefix"}`` ->
  ``{"outputs": [{"output", "score"}]}``; ``POST /encode`` ``{"input"}`` -> ``{"outputs": [float]}``.
- OpenAI-compatible ``POST /v1/chat/completions`` and ``POST /v1/completions`` (LLMLean with
  ``api = openai``, the official ``openai`` client; ``stream: true`` for server-sent events) and
  ``GET /v1/models``: the goal is read from the ``[STATE]`` block, the file from ``[CTX]``.
- ``GET /health``.

Client text is hostile: `prover.server_guard` checks the Host, the token, the body size,
the concurrency and the time before and around any work, and with ``--check`` the
header and the goal are screened (`prover.server_check`) before they reach Lean.
Every error is a JSON ``{"error": {"message", "code"}}``.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict

from prover.models.options import OptionVariants, SamplingOptions
from prover.server_guard import LOOPBACK_NAMES, Guard, GuardConfig
from prover.server_openai import (
    ChatRequest,
    CompletionRequest,
    chat_response,
    chat_stream,
    completion_response,
    completion_stream,
    models_list,
    read_blocks,
)
from prover.suggest import GoalFormatError, check_suggestions, goal_theorem, header_of, suggest
from search import TacticGenerator

logger = logging.getLogger(__name__)

INSTALL_HINT = "the server needs FastAPI and uvicorn: pip install 'llemma-prover[server]'"
WILDCARDS = ("0.0.0.0", "::", "")


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """Limits and options of the suggestion server."""

    host: str = "127.0.0.1"
    port: int = 23337
    token: str | None = None
    allowed_hosts: tuple[str, ...] = LOOPBACK_NAMES
    """Host header names served (with the --host address when it is not a wildcard); ``*``: any."""
    insecure_no_token: bool = False
    """Allow a non-loopback --host without a token."""
    max_body_bytes: int = 1 << 20
    request_timeout: float = 60.0
    max_concurrent: int = 8
    num_suggestions: int = 8
    check: bool = False
    """Run each suggestion in Lean when the request gives the file context, and drop errors."""
    tactic_timeout: float = 10.0
    max_headers: int = 16
    """Distinct [CTX] headers kept loaded in the Lean processes (least recently used evicted)."""
    model_name: str = "llemma-prover"
    """The model id `/v1/models` lists and answers carry."""
    max_connections: int = 64
    """Connections and requests uvicorn serves at once (its ``limit_concurrency``; 503 past it): bodies are
    read before a slot is taken, so this bounds the memory they can hold to about max_connections x max_body."""


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def exposure_problem(config: ServerConfig) -> str | None:
    """Why the server must not start as configured (a non-loopback address without a token), or None."""
    if is_loopback(config.host) or config.token is not None or config.insecure_no_token:
        return None
    return (
        f"--host {config.host} exposes the server beyond this machine without a token: anyone who can reach it can "
        "run the model (and Lean, with --check). Give --token (or $LLEMMA_PROVER_TOKEN), or --insecure-no-token "
        "to accept that."
    )


def guard_config(config: ServerConfig) -> GuardConfig:
    hosts = config.allowed_hosts
    if config.host not in WILDCARDS and config.host not in hosts:
        hosts = (*hosts, config.host)  # clients of a specific address name it
    return GuardConfig(
        token=config.token,
        allowed_hosts=hosts,
        max_body_bytes=config.max_body_bytes,
        request_timeout=config.request_timeout,
        max_concurrent=config.max_concurrent,
    )


class GenerateRequest(BaseModel):
    """LeanCopilot's external generator request."""

    model_config = ConfigDict(extra="ignore")
    name: str = ""
    input: str
    prefix: str = ""


class EncodeRequest(BaseModel):
    """LeanCopilot's encoder request."""

    model_config = ConfigDict(extra="ignore")
    name: str = ""
    input: str


def create_app(
    generator: TacticGenerator, config: ServerConfig, env_provider: Any = None, encoder: Any = None
) -> Guard:
    """The guarded ASGI application; ``env_provider`` (a Lean environment) enables checking."""
    try:
        from fastapi import FastAPI, Request
        from fastapi.exceptions import RequestValidationError
        from fastapi.responses import JSONResponse, StreamingResponse
        from starlette.exceptions import HTTPException
    except ImportError as error:
        raise ImportError(f"{INSTALL_HINT} ({error})") from None
    from prover.server_check import CLIENT_ERRORS, HeaderCache, problem_status

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI):  # type: ignore[no-untyped-def]
        yield
        if env_provider is not None:  # the Lean processes live in the server's event loop
            await env_provider.close()

    app = FastAPI(title="llemma-prover suggestions", version="1", lifespan=lifespan)
    guard = Guard(app, guard_config(config))
    variants = OptionVariants(generator)
    headers = HeaderCache(config.max_headers, env_provider)

    def problem(status: int, message: str) -> JSONResponse:
        return JSONResponse({"error": {"message": message, "code": status}}, status_code=status)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, error: RequestValidationError) -> JSONResponse:
        details = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()) if p != 'body') or 'body'}: {e.get('msg')}"
            for e in error.errors()
        )
        return problem(422, f"invalid request: {details}")

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, error: HTTPException) -> JSONResponse:
        return problem(error.status_code, f"{error.detail}")

    async def failure(_: Request, error: Exception) -> JSONResponse:
        status, message = problem_status(error)
        return problem(status, message)

    for known in CLIENT_ERRORS:  # answered as they are; the connection stays open
        app.add_exception_handler(known, failure)
    app.add_exception_handler(Exception, failure)  # a bug: answered as a 500, logged by the server

    async def suggestions(
        goal: str, prefix: str, context: str | None, count: int, options: SamplingOptions
    ) -> list[tuple[str, float]]:
        theorem = None
        if config.check and env_provider is not None and context is not None:
            try:
                theorem = goal_theorem(goal, header_of(context))
            except GoalFormatError as error:
                logger.info("not checking: %s", error)
            else:
                theorem = await headers.admit(theorem)  # screened header and goal, or CheckProblem (400)
        candidates = await suggest(variants.get(options), goal, prefix=prefix)
        if theorem is not None:
            async with env_provider.session() as env:
                checked = await check_suggestions(env, theorem, candidates, config.tactic_timeout)
            return [(s.tactic, s.score) for s in checked if s.ok][:count]
        return [(c.tactic, c.logprob) for c in candidates][:count]

    def sampling(body: ChatRequest | CompletionRequest) -> SamplingOptions:
        return SamplingOptions(n=body.n, temperature=body.temperature, max_tokens=body.max_tokens, stop=body.stops)

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return {
            "status": "ok",
            "generator": type(generator).__name__,
            "check": config.check,
            "in_flight": guard.slots.in_use,
            "max_concurrent": guard.slots.capacity,
        }

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        return models_list(config.model_name)

    @app.post("/generate")
    async def generate(body: GenerateRequest) -> Any:
        if not body.input.strip():
            return problem(400, "input is empty: send the goal as LeanCopilot does")
        found = await suggestions(body.input, body.prefix, None, config.num_suggestions, SamplingOptions())
        return {"outputs": [{"output": tactic, "score": score} for tactic, score in found]}

    @app.post("/encode")
    async def encode(body: EncodeRequest) -> Any:
        if encoder is None:
            return problem(501, "this server's generator has no encoder; serve an hf model for /encode")
        (vector,) = await encoder.encode([body.input])
        return {"outputs": vector}

    @app.post("/v1/chat/completions")
    async def chat(body: ChatRequest) -> Any:
        goal, context = read_blocks(body.messages[-1].content)
        tactics = [t for t, _ in await suggestions(goal, "", context, body.n, sampling(body))]
        if body.stream:
            return StreamingResponse(chat_stream(body.model, tactics), media_type="text/event-stream")
        return chat_response(body.model, tactics)

    @app.post("/v1/completions")
    async def completions(body: CompletionRequest) -> Any:
        goal, context = read_blocks(body.prompt)
        tactics = [t for t, _ in await suggestions(goal, "", context, body.n, sampling(body))]
        if body.stream:
            return StreamingResponse(completion_stream(body.model, tactics), media_type="text/event-stream")
        return completion_response(body.model, tactics)

    return guard
