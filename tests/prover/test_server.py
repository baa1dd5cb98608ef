"""`prover serve` over real HTTP (uvicorn on loopback), in the exact shapes LeanCopilot and LLMLean send."""

from __future__ import annotations

import asyncio
import socket
import threading
import time

import httpx
import pytest

pytest.importorskip("fastapi", reason="the server extra is not installed")
uvicorn = pytest.importorskip("uvicorn", reason="the server extra is not installed")

from prover.models import PortfolioGenerator  # noqa: E402
from prover.models.prompts import PROMPTS  # noqa: E402
from prover.server import ServerConfig, create_app  # noqa: E402

GOAL = "x : ℕ\nh : x = 2\n⊢ x + x = 4"
TACTICS = ["linarith", "omega", "simp", "subst h", "norm_num", "bad", "cheat"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Served:
    """A uvicorn server in a thread; ``url`` is its loopback address."""

    def __init__(self, app) -> None:
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Served:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=20)


def serve(generator=None, **options):
    return Served(create_app(generator or PortfolioGenerator(TACTICS), ServerConfig(**options)))


def test_leancopilot_generate_shape_and_prefix():
    with serve() as server:
        reply = httpx.post(f"{server.url}/generate", json={"name": "t", "input": GOAL, "prefix": ""})
        assert reply.status_code == 200
        outputs = reply.json()["outputs"]
        assert [o["output"] for o in outputs] == TACTICS
        assert all(isinstance(o["score"], float) for o in outputs)
        prefixed = httpx.post(f"{server.url}/generate", json={"name": "t", "input": GOAL, "prefix": "s"}).json()
        assert [o["output"] for o in prefixed["outputs"]] == ["simp", "subst h"]


# LLMLean's request as its source builds it (cmu-l3/llmlean at 13ab390): the prompt of
# `makePromptsInstruct` in LLMlean/API/Prompts.lean, the body of `tacticGenerationOpenAI` in
# LLMlean/API/TacticGen.lean with the defaults of LLMlean/API/Common.lean. The context is the file
# up to the `llmstep` call; note the preamble itself names the [CTX] and [STATE] tags.
LLMLEAN_CONTEXT = "import Mathlib\n\ntheorem t1 (x : ℕ) (h : x = 2) : x + x = 4 := by\n  "
LLMLEAN_PROMPT = (
    "/- You are proving a theorem in Lean 4.\n"
    "You are given the following information:\n"
    "- The file contents up to the current tactic, inside [CTX]...[/CTX]\n"
    "- The current proof state, inside [STATE]...[/STATE]\n"
    "\n"
    "Your task is to generate the next tactic in the proof.\n"
    "Put the next tactic inside [TAC]...[/TAC].\n"
    "-/\n"
    f"[CTX]\n{LLMLEAN_CONTEXT}\n[/CTX]\n"
    f"[STATE]\n{GOAL}\n[/STATE]\n"
    "[TAC]\n"
)


def llmlean_body(n: int = 4) -> dict:
    """LLMLean's OpenAI chat request: its instruction prompt, n samples, stop at [/TAC]."""
    return {
        "model": "llemma-prover",
        "messages": [{"role": "user", "content": LLMLEAN_PROMPT}],
        "n": n,
        "temperature": 0.7,
        "max_tokens": 1024,
        "stream": False,
        "stop": ["[/TAC]"],
    }


class RecordingPortfolio(PortfolioGenerator):
    """The portfolio, keeping the goal of every request it is asked."""

    def __init__(self) -> None:
        super().__init__(TACTICS)
        self.goals: list[str] = []

    async def propose(self, requests):
        self.goals.extend(r.goal for r in requests)
        return await super().propose(requests)


def test_llmlean_chat_completions():
    generator = RecordingPortfolio()
    with serve(generator) as server:
        reply = httpx.post(f"{server.url}/v1/chat/completions", json=llmlean_body(4))
        assert reply.status_code == 200
        data = reply.json()
        assert data["object"] == "chat.completion"
        contents = [c["message"]["content"] for c in data["choices"]]
        assert contents == TACTICS[:4]
        assert all(c["message"]["role"] == "assistant" for c in data["choices"])
        completion = httpx.post(
            f"{server.url}/v1/completions",
            json={"model": "m", "prompt": llmlean_body()["messages"][0]["content"], "n": 2},
        )
        assert [c["text"] for c in completion.json()["choices"]] == TACTICS[:2]
    assert generator.goals == [GOAL, GOAL]  # read from the prompt's [STATE] block, not from its preamble


def test_bad_requests_get_a_json_4xx_and_the_server_keeps_serving():
    with serve(max_body_bytes=2000) as server:
        bad_json = httpx.post(
            f"{server.url}/generate", content=b"{not json", headers={"content-type": "application/json"}
        )
        assert bad_json.status_code == 422 and "invalid request" in bad_json.json()["error"]["message"]
        wrong_type = httpx.post(f"{server.url}/generate", json={"input": 5})
        assert wrong_type.status_code == 422 and "input" in wrong_type.json()["error"]["message"]
        no_state = httpx.post(
            f"{server.url}/v1/chat/completions", json={"messages": [{"role": "user", "content": "prove it"}]}
        )
        assert no_state.status_code == 400 and "[STATE]" in no_state.json()["error"]["message"]
        huge = httpx.post(f"{server.url}/generate", json={"input": "x" * 5000})
        assert huge.status_code == 413
        empty = httpx.post(f"{server.url}/generate", json={"input": "  "})
        assert empty.status_code == 400
        assert httpx.get(f"{server.url}/health").json()["status"] == "ok"
        assert httpx.post(f"{server.url}/generate", json={"input": GOAL}).status_code == 200


def test_bearer_token():
    with serve(token="s3cret") as server:
        assert httpx.post(f"{server.url}/generate", json={"input": GOAL}).status_code == 401
        ok = httpx.post(f"{server.url}/generate", json={"input": GOAL}, headers={"Authorization": "Bearer s3cret"})
        assert ok.status_code == 200
        assert httpx.get(f"{server.url}/health").status_code == 200


class SlowGenerator:
    async def propose(self, requests):
        await asyncio.sleep(0.5)
        return await PortfolioGenerator(["simp"]).propose(requests)


def test_a_burst_past_the_concurrency_cap_gets_429_then_service_resumes():
    with serve(SlowGenerator(), max_concurrent=2) as server:

        async def burst():
            async with httpx.AsyncClient(timeout=10) as client:
                return await asyncio.gather(
                    *(client.post(f"{server.url}/generate", json={"input": GOAL}) for _ in range(6))
                )

        codes = sorted(r.status_code for r in asyncio.run(burst()))
        assert codes.count(200) == 2 and codes.count(429) == 4
        assert httpx.post(f"{server.url}/generate", json={"input": GOAL}, timeout=10).status_code == 200


def test_request_timeout_is_a_504():
    with serve(SlowGenerator(), request_timeout=0.1) as server:
        reply = httpx.post(f"{server.url}/generate", json={"input": GOAL}, timeout=10)
        assert reply.status_code == 504
        assert httpx.get(f"{server.url}/health").status_code == 200


def test_hf_model_continues_the_prefix_and_encodes():
    pytest.importorskip("torch", reason="the hf extra is not installed")
    from prover.bench.tiny import tiny_model_and_tokenizer
    from prover.models.hf import HFGenerator

    model, tokenizer = tiny_model_and_tokenizer()
    hf = HFGenerator(model, tokenizer, PROMPTS.get("reprover"), samples=3, max_new_tokens=6)
    given: list[str] = []
    generate = model.generate

    def recording_generate(input_ids, **options):  # the real generate; the prompt it gets is kept
        given.extend(tokenizer.batch_decode(input_ids, skip_special_tokens=True))
        return generate(input_ids=input_ids, **options)

    model.generate = recording_generate
    with Served(create_app(hf, ServerConfig(), None, hf)) as server:
        outputs = httpx.post(
            f"{server.url}/generate", json={"name": "t", "input": GOAL, "prefix": "nlin"}, timeout=60
        ).json()["outputs"]
        assert outputs and all(o["output"].startswith("nlin") for o in outputs)
        vector = httpx.post(f"{server.url}/encode", json={"name": "t", "input": GOAL}, timeout=60).json()["outputs"]
        assert len(vector) == model.config.hidden_size and all(isinstance(v, float) for v in vector)
    # The model continued the prefix: it was part of the prompt, not pasted onto the outputs after.
    assert given == [f"[GOAL]\n{GOAL}\n[PROOFSTEP]\nnlin"]


def test_encode_without_an_encoder_says_so():
    with serve() as server:
        reply = httpx.post(f"{server.url}/encode", json={"input": GOAL})
        assert reply.status_code == 501 and "hf model" in reply.json()["error"]["message"]


def test_suggestions_checked_in_lean_drop_errors(tmp_path):
    from lean_env.process import ReplSettings
    from lean_env.repl_env import LeanReplProvider, ReplPool
    from tests.lean_env.conftest import FakeRepl

    fake = FakeRepl(tmp_path)
    provider = LeanReplProvider(ReplPool(ReplSettings(command=fake.argv), 1))
    tactics = ["bad", "linarith", "subst h", "cheat", "omega"]
    app = create_app(PortfolioGenerator(tactics), ServerConfig(check=True), provider)
    with Served(app) as server:
        data = httpx.post(f"{server.url}/v1/chat/completions", json=llmlean_body(4), timeout=60).json()
    assert all(p.pid is None for p in provider.pool.processes)  # the server stopped its REPL on shutdown
    contents = [c["message"]["content"] for c in data["choices"]]
    # `subst h` leaves a goal; `cheat` closes it but fails the whole-proof check (sorryAx);
    # `bad` fails, `linarith` and `omega` are unknown to this goal.
    assert contents == ["subst h"]
    assert data["object"] == "chat.completion" and data["choices"][0]["finish_reason"] == "stop"
