from __future__ import annotations

import asyncio
import json
import math
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from prover.config import GeneratorConfig
from prover.models import BatchingGenerator, PortfolioGenerator, build_generator
from prover.models.openai import OpenAIGenerator, ServerError
from prover.models.portfolio import LEAN_TACTICS
from prover.models.prompts import PROMPTS
from search import BestFirstSearch, SearchConfig, TacticRequest, Theorem, UnknownNameError
from tests.isabelle_env.conftest import DOCUMENTED_HEURISTICS
from tests.search.scripted import ScriptedEnv

THEOREM = Theorem("t", "theorem t (x : ℕ) (h₀ : x = 2) : x + x = 4 := by\n")


def request(goal: str = "x : ℕ\nh₀ : x = 2\n⊢ x + x = 4") -> TacticRequest:
    return TacticRequest(goal, THEOREM)


async def test_portfolio_lists_per_language_and_override():
    lean = await build_generator(GeneratorConfig()).propose([request()])
    assert [c.tactic for c in lean[0]] == list(LEAN_TACTICS)
    isabelle = await build_generator(GeneratorConfig(), "isabelle").propose([request()])
    assert [c.tactic for c in isabelle[0]] == [*DOCUMENTED_HEURISTICS, "sledgehammer"]
    custom = await build_generator(GeneratorConfig(tactics=("omega", "simp"))).propose([request(), request()])
    assert [[c.tactic for c in cs] for cs in custom] == [["omega", "simp"], ["omega", "simp"]]
    assert all(math.isclose(c.logprob, -math.log(2)) for c in custom[0])


def test_unknown_generator_names_the_closest():
    with pytest.raises(UnknownNameError, match="Did you mean: vllm"):
        build_generator(GeneratorConfig(name="vlm"))


class CountingGenerator:
    def __init__(self, delay: float = 0.01) -> None:
        self.batches: list[int] = []
        self.delay = delay

    async def propose(self, requests):
        self.batches.append(len(requests))
        await asyncio.sleep(self.delay)
        return await PortfolioGenerator(["simp"]).propose(requests)


async def test_batching_serves_concurrent_requests_with_fewer_calls():
    inner = CountingGenerator()
    batching = BatchingGenerator(inner, window=0.01, max_batch=64)
    results = await asyncio.gather(*(batching.propose([request(f"g{i}")]) for i in range(20)))
    assert all(r[0][0].tactic == "simp" for r in results)
    assert sum(inner.batches) == 20
    assert len(inner.batches) < 20
    assert batching.calls == len(inner.batches) and batching.requests == 20


async def test_batching_respects_max_batch_and_queues_while_busy():
    inner = CountingGenerator(delay=0.05)
    batching = BatchingGenerator(inner, window=0.001, max_batch=4)
    await asyncio.gather(*(batching.propose([request(f"g{i}")]) for i in range(10)))
    assert max(inner.batches) <= 4 and sum(inner.batches) == 10


async def test_batching_hands_errors_to_every_waiting_request():
    class Failing:
        async def propose(self, requests):
            raise RuntimeError("CUDA out of memory")

    batching = BatchingGenerator(Failing(), window=0.001)
    outcomes = await asyncio.gather(*(batching.propose([request()]) for _ in range(3)), return_exceptions=True)
    assert all(isinstance(o, RuntimeError) and "out of memory" in str(o) for o in outcomes)


# -- hf: a tiny Llama built in the test ------------------------------------------------------


@pytest.fixture
def torch():
    """torch, or a skip for the tests that run a model when the hf extra is not installed."""
    return pytest.importorskip("torch", reason="the hf extra (torch) is not installed")


def hf_generator(decoding: str, samples: int = 4, prompt: str = "reprover"):
    from prover.bench.tiny import tiny_model_and_tokenizer
    from prover.models.hf import HFGenerator

    model, tokenizer = tiny_model_and_tokenizer()
    return HFGenerator(model, tokenizer, PROMPTS.get(prompt), samples=samples, decoding=decoding, max_new_tokens=8)


@pytest.mark.parametrize("decoding", ["beam", "sample"])
async def test_hf_returns_k_distinct_candidates_with_real_logprobs(torch, decoding):
    torch.manual_seed(1)
    gen = hf_generator(decoding)
    results = await gen.propose([request(), request("a b : ℝ\n⊢ a ≤ b")])
    assert len(results) == 2
    for candidates in results:
        tactics = [c.tactic for c in candidates]
        assert len(tactics) == 4 and len(set(tactics)) == 4
        assert all(math.isfinite(c.logprob) and c.logprob < 0 for c in candidates)
        assert all(1 <= c.num_tokens <= 8 for c in candidates)
        assert [c.logprob for c in candidates] == sorted((c.logprob for c in candidates), reverse=True)


async def test_hf_logprob_is_the_models_own_probability_of_the_candidate(torch):
    gen = hf_generator("beam", samples=2)
    (candidates,) = await gen.propose([request()])
    best = candidates[0]
    prompt_ids = gen.tokenizer(PROMPTS.get("reprover").render(request()), return_tensors="pt").input_ids
    # Re-score the greedy-best continuation token by token with a plain forward pass.
    with torch.inference_mode():
        out = gen.model.generate(
            prompt_ids, max_new_tokens=8, num_beams=2, do_sample=False, pad_token_id=gen.tokenizer.pad_token_id
        )
        continuation = out[0, prompt_ids.shape[1] :][: best.num_tokens]
        full = torch.cat([prompt_ids[0], continuation]).unsqueeze(0)
        logits = gen.model(full).logits.log_softmax(-1)[0]
    n = prompt_ids.shape[1]
    expected = sum(logits[n - 1 + i, continuation[i]].item() for i in range(len(continuation)))
    assert math.isclose(best.logprob, expected, rel_tol=1e-3, abs_tol=1e-3)


async def test_hf_cuts_candidates_at_the_stop_string(torch):
    from prover.bench.tiny import tiny_model_and_tokenizer
    from prover.models.hf import HFGenerator

    model, tokenizer = tiny_model_and_tokenizer()
    gen = HFGenerator(model, tokenizer, PROMPTS.get("llemma"), samples=2, max_new_tokens=4)
    ids = tokenizer("simp\n---\nTactic state:").input_ids
    length = gen._length(ids)
    assert tokenizer.decode(ids[:length]).startswith("simp\n---")
    assert "---" not in tokenizer.decode(ids[: length - 1])


async def test_concurrent_searches_share_hf_model_calls(torch):
    class CountingHF:
        def __init__(self, inner):
            self.inner, self.calls, self.requests = inner, 0, 0

        async def propose(self, requests):
            self.calls += 1
            self.requests += len(requests)
            return await self.inner.propose(requests)

    counting = CountingHF(hf_generator("sample", samples=2))
    batching = BatchingGenerator(counting, window=0.02, max_batch=64)
    env_states = {f"s{i}": {} for i in range(8)}

    async def one(i: int):
        env = ScriptedEnv(env_states, root=f"s{i}")
        return await BestFirstSearch(env, batching, SearchConfig(max_expansions=1)).search(THEOREM)

    await asyncio.gather(*(one(i) for i in range(8)))
    assert counting.requests == 8
    assert counting.calls < counting.requests


# -- openai: a real local HTTP server that checks what it is sent ----------------------------


class FakeOpenAI(BaseHTTPRequestHandler):
    bodies: list[dict] = []
    failures_left = 0

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).bodies.append({"path": self.path, "auth": self.headers.get("Authorization"), **body})
        if type(self).failures_left:
            type(self).failures_left -= 1
            self.send_response(503)
            self.end_headers()
            return
        if self.path.endswith("/chat/completions"):
            choices = [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "[TAC] linarith [/TAC]"},
                    "logprobs": {"content": [{"token": "lin", "logprob": -0.5}, {"token": "arith", "logprob": -0.25}]},
                },
                {"index": 1, "message": {"role": "assistant", "content": "nlinarith"}, "logprobs": None},
            ]
        else:
            choices = [
                {"index": 0, "text": " omega\n---", "logprobs": {"token_logprobs": [-1.0, -0.5]}},
                {"index": 1, "text": " simp\n", "logprobs": {"token_logprobs": [-0.1]}},
                {"index": 2, "text": " omega", "logprobs": {"token_logprobs": [-2.0]}},
            ]
        payload = json.dumps({"choices": choices}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture
def openai_server():
    FakeOpenAI.bodies = []
    FakeOpenAI.failures_left = 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeOpenAI)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


async def test_openai_completions_body_and_candidates(openai_server):
    gen = OpenAIGenerator(
        openai_server, "llemma_7b", PROMPTS.get("llemma"), samples=3, temperature=0.0, max_tokens=64, api_key="secret"
    )
    (candidates,) = await gen.propose([request()])
    await gen.close()
    body = FakeOpenAI.bodies[0]
    assert body["path"] == "/v1/completions" and body["auth"] == "Bearer secret"
    assert body["model"] == "llemma_7b" and body["n"] == 3 and body["max_tokens"] == 64
    assert body["temperature"] == 0.0 and body["stop"] == ["---"] and body["logprobs"] == 1
    assert body["prompt"] == PROMPTS.get("llemma").render(request())
    assert [(c.tactic, c.logprob, c.num_tokens) for c in candidates] == [("simp", -0.1, 1), ("omega", -1.5, 2)]


async def test_openai_sends_the_requests_seed(openai_server):
    gen = OpenAIGenerator(openai_server, "m", PROMPTS.get("reprover"), samples=2)
    await gen.propose([TacticRequest(request().goal, THEOREM, seed=1234), request()])
    await gen.close()
    sent = sorted(FakeOpenAI.bodies, key=lambda body: "seed" not in body)
    assert sent[0]["seed"] == 1234 and "seed" not in sent[1]  # no seed asked, none sent


async def test_openai_chat_body_and_tag_extraction(openai_server):
    gen = OpenAIGenerator(openai_server, "m", PROMPTS.get("instruct"), api="chat", samples=2)
    (candidates,) = await gen.propose([request()])
    await gen.close()
    body = FakeOpenAI.bodies[0]
    assert body["path"] == "/v1/chat/completions" and body["auth"] is None
    assert body["messages"] == [{"role": "user", "content": PROMPTS.get("instruct").render(request())}]
    assert body["stop"] == ["[/TAC]"] and body["logprobs"] is True and body["n"] == 2
    assert {c.tactic for c in candidates} == {"linarith", "nlinarith"}
    assert next(c for c in candidates if c.tactic == "linarith").logprob == -0.75


async def test_openai_retries_server_errors_with_backoff(openai_server):
    FakeOpenAI.failures_left = 2
    gen = OpenAIGenerator(openai_server, "m", PROMPTS.get("reprover"), retries=3, backoff=0.01)
    (candidates,) = await gen.propose([request()])
    await gen.close()
    assert len(FakeOpenAI.bodies) == 3 and candidates


async def test_openai_gives_up_after_the_last_retry_with_the_reason():
    gen = OpenAIGenerator("http://127.0.0.1:9/v1", "m", PROMPTS.get("reprover"), retries=1, backoff=0.01, timeout=2)
    with pytest.raises(ServerError, match="failed after 2 attempts"):
        await gen.propose([request()])
    await gen.close()


def test_vllm_missing_says_how_to_install():
    try:
        import vllm  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match=r"pip install 'llemma-prover\[vllm\]'"):
            build_generator(GeneratorConfig(name="vllm", model="EleutherAI/llemma_7b"))
    else:
        pytest.skip("vLLM is installed; the missing-package message cannot be shown")


@pytest.mark.integration
@pytest.mark.skipif(
    not os.environ.get("LLEMMA_VLLM_MODEL"),
    reason="set LLEMMA_VLLM_MODEL to a model vLLM can load (a GPU machine with vLLM) to run this",
)
async def test_vllm_samples_each_request_from_its_own_seed():
    pytest.importorskip("vllm", reason="vLLM is not installed")
    from prover.models.vllm import VLLMGenerator

    gen = VLLMGenerator(
        os.environ["LLEMMA_VLLM_MODEL"], PROMPTS.get("llemma"), samples=4, decoding="sample", max_new_tokens=24
    )

    def seeded(seed: int) -> TacticRequest:
        return TacticRequest(request().goal, THEOREM, seed=seed)

    first = await gen.propose([seeded(1), seeded(2)])
    assert await gen.propose([seeded(1), seeded(2)]) == first
    assert (await gen.propose([seeded(3)]))[0] != first[0]
