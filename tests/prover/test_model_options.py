"""Per-request sampling options for model generators, and model calls that stop when their caller gives up."""

from __future__ import annotations

import asyncio

import pytest

from prover.models import BatchingGenerator, PortfolioGenerator
from prover.models.options import OptionVariants, SamplingOptions, with_options
from prover.models.prompts import PROMPTS
from search import Candidate, TacticRequest, Theorem

GOAL = "x : ℕ\nh : x = 2\n⊢ x + x = 4"
REQUEST = TacticRequest(GOAL, Theorem("t", "theorem t : True := by\n"))


def tiny_hf(**options):
    pytest.importorskip("torch", reason="the hf extra is not installed")
    from prover.bench.tiny import tiny_model_and_tokenizer
    from prover.models.hf import HFGenerator

    model, tokenizer = tiny_model_and_tokenizer()
    return HFGenerator(model, tokenizer, PROMPTS.get("reprover"), **options)


async def test_hf_samples_as_the_request_asks():
    hf = tiny_hf(samples=4, decoding="beam", max_new_tokens=32)
    variant = with_options(hf, SamplingOptions(n=2, temperature=0.9, max_tokens=1, stop=("\n",)))
    (candidates,) = await variant.propose([REQUEST])
    assert 1 <= len(candidates) <= 2 and all(c.num_tokens <= 1 for c in candidates)
    assert (variant.decoding, variant.temperature, variant.max_new_tokens) == ("sample", 0.9, 1)
    assert variant.prompt.stop == ("\n",) and variant.model is hf.model  # one model, shared
    assert (hf.samples, hf.decoding, hf.max_new_tokens) == (4, "beam", 32)  # the server's generator is untouched
    greedy = with_options(hf, SamplingOptions(temperature=0.0, max_tokens=1000))
    assert greedy.decoding == "beam" and greedy.max_new_tokens == 32  # never above the generator's own limit


async def test_a_portfolio_answers_n_and_ignores_the_rest():
    portfolio = PortfolioGenerator(["simp", "omega", "ring"])
    variants = OptionVariants(portfolio)
    assert variants.get(SamplingOptions(n=1, temperature=0.3, max_tokens=5, stop=("x",))) is portfolio


async def test_clients_asking_alike_share_a_batching_generator():
    class Recorder:
        def __init__(self) -> None:
            self.prompt = PROMPTS.get("reprover")
            self.samples = 8
            self.temperature = 1.0
            self.max_new_tokens = 256
            self.batches: list[int] = []

        async def propose(self, requests):
            self.batches.append(len(requests))
            return [[Candidate("simp", -1.0, 1)] for _ in requests]

    inner = Recorder()
    variants = OptionVariants(BatchingGenerator(inner, window=0.05))
    options = SamplingOptions(n=2, temperature=0.5)
    first, second = variants.get(options), variants.get(SamplingOptions(n=2, temperature=0.5))
    assert first is second and first is not variants.generator
    await asyncio.gather(first.propose([REQUEST]), second.propose([REQUEST]))
    assert inner.batches == [2]  # both requests in one model call (the copy shares the model)
    assert variants.get(SamplingOptions()) is variants.generator


async def test_a_cancelled_hf_call_stops_the_model_before_it_returns():
    hf = tiny_hf(samples=2, decoding="sample", max_new_tokens=4000)
    call = asyncio.ensure_future(hf.propose([REQUEST]))
    while not hf._lock.locked():  # generation has started in its thread
        await asyncio.sleep(0.001)
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    assert not hf._lock.locked()  # the thread has finished: nothing generates for a caller that is gone


async def test_cancelling_the_only_caller_of_a_batch_cancels_the_model_call_and_waits_for_it():
    stopped = asyncio.Event()
    started = asyncio.Event()

    class Slow:
        async def propose(self, requests):
            started.set()
            try:
                await asyncio.Event().wait()
            finally:
                await asyncio.sleep(0)  # cleanup that takes a turn of the loop
                stopped.set()

    batching = BatchingGenerator(Slow(), window=0.0)
    call = asyncio.ensure_future(batching.propose([REQUEST]))
    await started.wait()
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    assert stopped.is_set()  # the model call ended before the caller's cancellation returned


async def test_a_batch_others_still_wait_for_goes_on_when_one_caller_leaves():
    release = asyncio.Event()

    class Shared:
        calls = 0

        async def propose(self, requests):
            Shared.calls += 1
            await release.wait()
            return [[Candidate("simp", -1.0, 1)] for _ in requests]

    batching = BatchingGenerator(Shared(), window=0.01)
    leaving = asyncio.ensure_future(batching.propose([REQUEST]))
    staying = asyncio.ensure_future(batching.propose([REQUEST]))
    while Shared.calls == 0:
        await asyncio.sleep(0.001)
    leaving.cancel()
    with pytest.raises(asyncio.CancelledError):
        await leaving
    release.set()
    assert await staying == [[Candidate("simp", -1.0, 1)]] and Shared.calls == 1
