"""`prover serve` over real HTTP (uvicorn on loopback), in the exact shapes LeanCopilot and LLMLean send,
and as a hostile client would try it."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
import tracemalloc
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

pytest.importorskip("fastapi", reason="the server extra is not installed")
uvicorn = pytest.importorskip("uvicorn", reason="the server extra is not installed")

from prover.models import PortfolioGenerator  # noqa: E402
from prover.models.prompts import PROMPTS  # noqa: E402
from prover.server import ServerConfig, create_app, exposure_problem  # noqa: E402

GOAL = "x : ℕ\nh : x = 2\n⊢ x + x = 4"
TACTICS = ["linarith", "omega", "simp", "subst h", "norm_num", "bad", "cheat"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Served:
    """A uvicorn server in a thread; ``url`` is its loopback address, ``app`` the guarded application."""

    def __init__(self, app) -> None:
        port = free_port()
        self.app = app
        self.port = port
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


def serve(generator=None, provider=None, **options):
    return Served(create_app(generator or PortfolioGenerator(TACTICS), ServerConfig(**options), provider))


class Gate:
    """A model call that waits until the test opens the gate (an event, not a sleep).

    ``entered`` counts calls that reached the model; on cancellation the call records it and,
    when ``slow_cleanup`` is set, stops only once the test says so (as a model thread would).
    """

    def __init__(self, tactics=("simp",), slow_cleanup: bool = False) -> None:
        self.tactics = list(tactics)
        self.slow_cleanup = slow_cleanup
        self.entered = threading.Semaphore(0)
        self.in_flight = 0
        self.peak = 0
        self.cancelled = 0
        self.cancellations = threading.Semaphore(0)  # released as each cancellation reaches the model call
        self.loop: asyncio.AbstractEventLoop | None = None
        self._open = asyncio.Event()
        self._cleanup = asyncio.Event()

    async def propose(self, requests):
        self.loop = asyncio.get_running_loop()
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        self.entered.release()
        try:
            await self._open.wait()
            return await PortfolioGenerator(self.tactics).propose(requests)
        except asyncio.CancelledError:
            self.cancelled += 1
            self.cancellations.release()
            if self.slow_cleanup:
                await self._cleanup.wait()
            raise
        finally:
            self.in_flight -= 1

    def wait_entered(self, count: int) -> None:
        for _ in range(count):
            assert self.entered.acquire(timeout=30), "the model was never called"

    def open(self) -> None:
        assert self.loop is not None
        self.loop.call_soon_threadsafe(self._open.set)

    def finish_cleanup(self) -> None:
        assert self.loop is not None
        self.loop.call_soon_threadsafe(self._cleanup.set)


def wait_idle(server: Served) -> None:
    """Until no request holds a slot (polled through /health, which needs no slot)."""
    deadline = time.monotonic() + 30
    while httpx.get(f"{server.url}/health").json()["in_flight"]:
        assert time.monotonic() < deadline, "a slot was never given back"
        time.sleep(0.01)


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


def test_unknown_paths_wrong_methods_and_failures_are_json_too():
    class Broken:
        async def propose(self, requests):
            raise RuntimeError("the model fell over")

    with serve(Broken()) as server:
        missing = httpx.get(f"{server.url}/nowhere")
        assert missing.status_code == 404 and missing.json()["error"]["code"] == 404
        wrong = httpx.get(f"{server.url}/generate")
        assert wrong.status_code == 405 and "Method Not Allowed" in wrong.json()["error"]["message"]
        broken = httpx.post(f"{server.url}/generate", json={"input": GOAL})
        assert broken.status_code == 500 and "the model fell over" in broken.json()["error"]["message"]
        too_many = "[STATE]x[/STATE]" * 65
        blocks = httpx.post(f"{server.url}/v1/completions", json={"prompt": too_many})
        assert blocks.status_code == 400 and "more than 64" in blocks.json()["error"]["message"]


def test_bearer_token_any_header_bytes_are_just_wrong():
    with serve(token="s3cret") as server:
        assert httpx.post(f"{server.url}/generate", json={"input": GOAL}).status_code == 401
        wrong = httpx.post(f"{server.url}/generate", json={"input": GOAL}, headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        non_ascii = httpx.post(
            f"{server.url}/generate", json={"input": GOAL}, headers={"Authorization": "Bearer sécret".encode()}
        )
        assert non_ascii.status_code == 401 and non_ascii.json()["error"]["code"] == 401
        ok = httpx.post(f"{server.url}/generate", json={"input": GOAL}, headers={"Authorization": "Bearer s3cret"})
        assert ok.status_code == 200
        assert httpx.get(f"{server.url}/health").status_code == 200


def test_the_host_header_must_be_an_allowed_name():
    """A page on another site whose name was rebound to 127.0.0.1 arrives with its own Host."""
    with serve() as server:
        rebound = httpx.post(f"{server.url}/generate", json={"input": GOAL}, headers={"Host": "evil.example:23337"})
        assert rebound.status_code == 400 and "--allowed-hosts" in rebound.json()["error"]["message"]
        assert httpx.get(f"{server.url}/health", headers={"Host": "evil.example"}).status_code == 400
        named = httpx.post(f"{server.url}/generate", json={"input": GOAL}, headers={"Host": f"localhost:{server.port}"})
        assert named.status_code == 200
    with serve(allowed_hosts=("prover.lan",)) as server:
        assert httpx.get(f"{server.url}/health", headers={"Host": "prover.lan:80"}).status_code == 200
        assert httpx.get(f"{server.url}/health", headers={"Host": "localhost"}).status_code == 400  # not listed
        assert httpx.get(f"{server.url}/health").status_code == 200  # the address it binds is always served


def test_a_non_loopback_host_needs_a_token_or_an_explicit_opt_out():
    assert exposure_problem(ServerConfig()) is None
    assert exposure_problem(ServerConfig(host="::1")) is None
    problem = exposure_problem(ServerConfig(host="0.0.0.0"))
    assert problem is not None and "--token" in problem and "--insecure-no-token" in problem
    assert exposure_problem(ServerConfig(host="0.0.0.0", token="t")) is None
    assert exposure_problem(ServerConfig(host="10.1.2.3", insecure_no_token=True)) is None


def test_exactly_the_cap_is_served_and_the_rest_get_429_then_service_resumes():
    gate = Gate()
    with serve(gate, max_concurrent=2) as server, ThreadPoolExecutor(2) as pool:
        held = [pool.submit(httpx.post, f"{server.url}/generate", json={"input": GOAL}, timeout=30) for _ in range(2)]
        gate.wait_entered(2)  # both slots are taken, by work that waits for the gate
        extra = [httpx.post(f"{server.url}/generate", json={"input": GOAL}, timeout=30) for _ in range(4)]
        assert [r.status_code for r in extra] == [429] * 4
        assert "2 requests in flight" in extra[0].json()["error"]["message"]
        assert httpx.get(f"{server.url}/health").json()["in_flight"] == 2  # /health needs no slot
        gate.open()
        assert [f.result().status_code for f in held] == [200, 200]
        assert httpx.post(f"{server.url}/generate", json={"input": GOAL}, timeout=30).status_code == 200
    assert gate.peak == 2


def test_a_timed_out_request_has_its_work_cancelled_and_keeps_its_slot_until_the_work_stopped():
    gate = Gate(slow_cleanup=True)
    with serve(gate, max_concurrent=1, request_timeout=0.3) as server:
        late = httpx.post(f"{server.url}/generate", json={"input": GOAL}, timeout=30)
        assert late.status_code == 504 and "--request-timeout" in late.json()["error"]["message"]
        # The model call was cancelled, not left running (the 504 may leave before the cancellation lands).
        assert gate.cancellations.acquire(timeout=30) and gate.cancelled == 1
        # Its cleanup has not finished: the slot is still taken, so the cap still caps.
        assert httpx.post(f"{server.url}/generate", json={"input": GOAL}, timeout=30).status_code == 429
        gate.finish_cleanup()
        wait_idle(server)
        gate.open()
        assert httpx.post(f"{server.url}/generate", json={"input": GOAL}, timeout=30).status_code == 200


def test_a_client_that_goes_away_has_its_work_cancelled():
    gate = Gate()
    with serve(gate, max_concurrent=1) as server:
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(f"{server.url}/generate", json={"input": GOAL}, timeout=httpx.Timeout(30, read=0.5))
        wait_idle(server)
        assert gate.cancelled == 1 and gate.in_flight == 0


def raw_request(port: int, head: bytes, chunks) -> int:
    """Send ``head``, then keep sending chunks from a thread while reading the answer; its status."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
        conn.sendall(head)
        stop = threading.Event()

        def pump() -> None:
            with contextlib.suppress(OSError):  # the server closes the connection once it has answered
                for chunk in chunks:
                    if stop.is_set():
                        return
                    conn.sendall(chunk)

        sender = threading.Thread(target=pump, daemon=True)
        sender.start()
        answer = conn.recv(65536)
        stop.set()
        sender.join(timeout=30)
    return int(answer.split(b" ", 2)[1])


def test_the_body_cap_holds_while_the_body_streams_in_chunked_or_not():
    """Memory held for a refused body stays near the cap: the body is refused as it streams in, and what
    the client still sends is read and dropped (so it sees the 413), never kept."""
    gate = Gate()
    with serve(gate, max_body_bytes=100_000, max_concurrent=1) as server, ThreadPoolExecutor(1) as pool:
        busy = pool.submit(httpx.post, f"{server.url}/generate", json={"input": GOAL}, timeout=30)
        gate.wait_entered(1)  # the only slot is taken: a 413 below comes before any slot is asked for
        chunk = b"x" * 65536
        chunked = (
            b"POST /generate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        declared = (
            b"POST /generate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: 60000000\r\n\r\n"
        )
        tracemalloc.start()
        try:
            tracemalloc.reset_peak()
            frames = (b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(900))  # ~60 MB unless refused
            assert raw_request(server.port, chunked, frames) == 413
            assert raw_request(server.port, declared, (chunk for _ in range(900))) == 413
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert peak < 8 << 20  # a server reading the body before the cap check would hold ~60 MB
        gate.open()
        assert busy.result().status_code == 200
        assert gate.in_flight == 0 and gate.peak == 1  # the refused requests never reached the model


def test_encode_without_an_encoder_says_so():
    with serve() as server:
        reply = httpx.post(f"{server.url}/encode", json={"input": GOAL})
        assert reply.status_code == 501 and "hf model" in reply.json()["error"]["message"]


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
