"""In-process vLLM engine for GPU machines (imported only when chosen)."""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from typing import Any

from prover.models.prompts import PromptFormat
from prover.models.threads import in_thread
from search import Candidate, TacticRequest

INSTALL_HINT = "vLLM is not installed: pip install 'llemma-prover[vllm]' (it needs a CUDA GPU)"


def _import_vllm() -> Any:
    try:
        import vllm
    except ImportError as error:
        raise ImportError(f"{INSTALL_HINT} ({error})") from None
    return vllm


class VLLMGenerator:
    """One vLLM engine per process; every batch of requests is one ``generate`` call."""

    def __init__(
        self,
        model: str,
        prompt: PromptFormat,
        *,
        samples: int = 8,
        decoding: str = "beam",
        temperature: float = 1.0,
        top_p: float = 1.0,
        max_new_tokens: int = 256,
        **engine_options: Any,
    ) -> None:
        if decoding == "beam" and prompt.chat:
            raise ValueError(f"prompt format {prompt.name!r} is a chat format: sample from it (--decoding sample)")
        vllm = _import_vllm()
        self.prompt = prompt
        self.samples = samples
        self.decoding = decoding
        self.temperature = temperature
        self.top_p = top_p
        self.max_new_tokens = max_new_tokens
        self._vllm = vllm
        self.llm = vllm.LLM(model=model, **engine_options)
        self._lock = threading.Lock()

    async def propose(self, requests: Sequence[TacticRequest]) -> list[list[Candidate]]:
        if not requests:
            return []
        # vLLM's offline engine cannot be interrupted: a caller that gives up waits until it is done.
        return await in_thread(self._generate, list(requests))

    def _generate(self, requests: list[TacticRequest]) -> list[list[Candidate]]:
        with self._lock:
            if self.decoding == "beam":
                return self._beam(requests)
            return self._sample(requests)

    def model_input(self, request: TacticRequest) -> Any:
        """The prompt: a chat format's conversation as the token ids of the model's own chat template."""
        if not self.prompt.chat:
            return self.prompt.text(request)
        tokenizer = self.llm.get_tokenizer()
        ids = tokenizer.apply_chat_template(self.prompt.messages(request), tokenize=True, add_generation_prompt=True)
        return {"prompt_token_ids": list(ids)}

    def _sample(self, requests: list[TacticRequest]) -> list[list[Candidate]]:
        prompts = [self.model_input(r) for r in requests]
        # One SamplingParams per request: vLLM seeds each request's sampling with its own seed,
        # whatever else shares the batch; n is the request's own count (pass@k: one request, n = k).
        params = [
            self._vllm.SamplingParams(
                n=request.samples or self.samples,
                temperature=self.temperature,
                top_p=self.top_p,
                max_tokens=self.max_new_tokens,
                stop=list(self.prompt.stop) or None,
                logprobs=0,
                seed=request.seed,
            )
            for request in requests
        ]
        outputs = self.llm.generate(prompts, params, use_tqdm=False)
        return [
            self._ranked(request, ((o.text, o.cumulative_logprob or 0.0, len(o.token_ids)) for o in output.outputs))
            for request, output in zip(requests, outputs)
        ]

    def _beam(self, requests: list[TacticRequest]) -> list[list[Candidate]]:
        from vllm.sampling_params import BeamSearchParams

        prompts = [self.prompt.text(r) for r in requests]
        params = BeamSearchParams(beam_width=self.samples, max_tokens=self.max_new_tokens)
        outputs = self.llm.beam_search([{"prompt": p} for p in prompts], params)
        tokenizer = self.llm.get_tokenizer()
        results = []
        for request, prompt, output in zip(requests, prompts, outputs):
            # A beam's text and tokens both include the prompt.
            prompt_tokens = len(tokenizer.encode(prompt))
            beams = [
                (s.text.removeprefix(prompt), s.cum_logprob, max(1, len(s.tokens) - prompt_tokens))
                for s in output.sequences
            ]
            results.append(self._ranked(request, beams))
        return results

    def _ranked(self, request: TacticRequest, items: Any) -> list[Candidate]:
        # A NaN or infinite score cannot rank anything: such a candidate is dropped here.
        return self.prompt.ranked(
            self.prompt.candidate(request, text, float(logprob), int(num_tokens))
            for text, logprob, num_tokens in items
            if math.isfinite(logprob)
        )
