"""`prover serve` as the official `openai` client uses it: models, chat and completions, streamed or not,
and the sampling options reaching the model."""

from __future__ import annotations

import json

import httpx
import pytest

pytest.importorskip("fastapi", reason="the server extra is not installed")

from fastapi import FastAPI, Request

from prover.models import PortfolioGenerator
from prover.models.openai import OpenAIGenerator
from prover.models.prompts import PROMPTS
from prover.server import ServerConfig, create_app
from tests.prover.test_server import GOAL, TACTICS, Served, llmlean_body

PROMPT = llmlean_body()["messages"][0]["content"]


@pytest.fixture
def openai():
    """The official client, or a skip for the tests that use it when the test extra is not installed."""
    return pytest.importorskip("openai", reason="the test extra (openai) is not installed")


def client_for(server: Served, token: str = "unused"):
    import openai

    return openai.OpenAI(base_url=f"{server.url}/v1", api_key=token, max_retries=0, timeout=30)


def served(generator=None, **options) -> Served:
    config = ServerConfig(model_name="llemma-7b", **options)
    return Served(create_app(generator or PortfolioGenerator(TACTICS), config))


def test_the_client_lists_the_served_model(openai):
    with served(token="tok") as server:
        assert [m.id for m in client_for(server, "tok").models.list()] == ["llemma-7b"]
        with pytest.raises(openai.AuthenticationError):
            client_for(server, "wrong").models.list()


def test_chat_and_completions_with_n_choices(openai):
    with served() as server:
        client = client_for(server)
        chat = client.chat.completions.create(model="llemma-7b", messages=[{"role": "user", "content": PROMPT}], n=3)
        assert [c.message.content for c in chat.choices] == TACTICS[:3]
        assert [c.index for c in chat.choices] == [0, 1, 2] and chat.choices[0].finish_reason == "stop"
        completion = client.completions.create(model="llemma-7b", prompt=PROMPT, n=2)
        assert [c.text for c in completion.choices] == TACTICS[:2]


def test_streamed_chat_arrives_as_chunks_per_choice(openai):
    with served() as server:
        stream = client_for(server).chat.completions.create(
            model="llemma-7b", messages=[{"role": "user", "content": PROMPT}], n=3, stream=True
        )
        texts: dict[int, str] = {}
        finished = set()
        for chunk in stream:
            assert chunk.object == "chat.completion.chunk"
            for choice in chunk.choices:
                texts[choice.index] = texts.get(choice.index, "") + (choice.delta.content or "")
                if choice.finish_reason == "stop":
                    finished.add(choice.index)
        assert [texts[i] for i in range(3)] == TACTICS[:3] and finished == {0, 1, 2}


def test_streamed_completions_and_the_wire_format(openai):
    with served() as server:
        stream = client_for(server).completions.create(model="llemma-7b", prompt=PROMPT, n=2, stream=True)
        assert "".join(c.choices[0].text for c in stream if c.choices[0].index == 1) == TACTICS[1]
        raw = httpx.post(f"{server.url}/v1/completions", json={"prompt": PROMPT, "n": 1, "stream": True})
        assert raw.headers["content-type"].startswith("text/event-stream")
        events = [line for line in raw.text.split("\n\n") if line]
        assert all(e.startswith("data: ") for e in events) and events[-1] == "data: [DONE]"
        assert json.loads(events[0].removeprefix("data: "))["choices"][0]["text"] == TACTICS[0]


class Upstream:
    """An OpenAI-compatible server standing in for vLLM behind our openai generator: records each body."""

    def __init__(self) -> None:
        self.bodies: list[dict] = []
        self.app = FastAPI()

        @self.app.post("/v1/completions")
        async def completions(request: Request):
            body = await request.json()
            self.bodies.append(body)
            choices = [{"index": i, "text": f" tac{i}", "logprobs": None} for i in range(body["n"])]
            return {"choices": choices}


def test_sampling_options_reach_an_openai_compatible_model(openai):
    upstream = Upstream()
    with Served(upstream.app) as model_server:
        generator = OpenAIGenerator(
            f"{model_server.url}/v1", "llemma_7b", PROMPTS.get("instruct"), samples=8, max_tokens=256, retries=0
        )
        with served(generator) as server:
            reply = client_for(server).chat.completions.create(
                model="llemma-7b",
                messages=[{"role": "user", "content": PROMPT}],
                n=3,
                temperature=0.2,
                max_tokens=7,
                stop=["\n\n"],
            )
            defaults = httpx.post(f"{server.url}/generate", json={"input": GOAL}, timeout=30)
    assert len(reply.choices) == 3 and defaults.status_code == 200
    asked, default = upstream.bodies
    assert (asked["n"], asked["temperature"], asked["max_tokens"]) == (3, 0.2, 7)
    assert set(asked["stop"]) == {"[/TAC]", "\n\n"}  # the prompt's own stop, and the client's
    assert (default["n"], default["max_tokens"]) == (8, 256)  # LeanCopilot's requests keep the server's settings


def test_max_tokens_never_exceeds_the_servers_own_limit(openai):
    upstream = Upstream()
    with Served(upstream.app) as model_server:
        generator = OpenAIGenerator(
            f"{model_server.url}/v1", "llemma_7b", PROMPTS.get("instruct"), max_tokens=64, retries=0
        )
        with served(generator) as server:
            client_for(server).completions.create(model="llemma-7b", prompt=PROMPT, max_tokens=100000)
    assert upstream.bodies[0]["max_tokens"] == 64


def test_blocks_are_read_as_the_leftmost_non_overlapping_pairs():
    """The linear reader agrees with the obvious (quadratic) regular expression, last block of a tag winning."""
    import random
    import re

    from prover.server_openai import PromptError, read_blocks

    reference = re.compile(r"\[(?P<tag>STATE|CTX)\]\n?(?P<body>.*?)\n?\[/(?P=tag)\]", re.DOTALL)
    pieces = ["[STATE]", "[/STATE]", "[CTX]", "[/CTX]", "a", "\n", "b c", "[STA", "TE]", "[/", "]"]
    rng = random.Random(11)
    for _ in range(5000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 14)))
        blocks = {m.group("tag"): m.group("body") for m in reference.finditer(text)}
        expected = (blocks["STATE"].strip(), blocks.get("CTX")) if "STATE" in blocks else None
        try:
            got = read_blocks(text)
        except PromptError:
            got = None
        assert got == expected, text
    with pytest.raises(PromptError, match="more than 64"):
        read_blocks("[CTX]x[/CTX]" * 65 + "[STATE]g[/STATE]")
