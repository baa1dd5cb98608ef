"""transformers generator: beam search or sampling with each candidate's real log-probability."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import math
import threading
from collections.abc import Iterator, Sequence
from typing import Any

from prover.models.prompts import PromptFormat
from prover.models.threads import in_thread
from search import Candidate, TacticRequest

logger = logging.getLogger(__name__)

INSTALL_HINT = "transformers and torch are not installed: pip install 'llemma-prover[hf]'"


def _require_torch() -> Any:
    try:
        import torch
        import transformers  # noqa: F401
    except ImportError as error:
        raise ImportError(f"{INSTALL_HINT} ({error})") from None
    return torch


def pick_device(device: str = "auto") -> str:
    """``auto`` is the first CUDA GPU when one is visible, else the CPU."""
    torch = _require_torch()
    if device != "auto":
        return device
    return "cuda" if torch.cuda.is_available() else "cpu"


class HFGenerator:
    """Generates ``samples`` candidates per request in one batched ``generate`` call.

    The log-probability of a candidate is the sum over its tokens (up to and
    including the stop string or end of sequence) of the model's unprocessed
    log-softmax, whatever the decoding, so scores are comparable across modes.
    """

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        prompt: PromptFormat,
        *,
        samples: int = 8,
        decoding: str = "beam",
        temperature: float = 1.0,
        top_p: float = 1.0,
        max_new_tokens: int = 256,
    ) -> None:
        if decoding not in ("beam", "sample"):
            raise ValueError(f"decoding must be 'beam' or 'sample', not {decoding!r}")
        if samples < 1:
            raise ValueError("samples must be at least 1")
        self.model = model
        self.tokenizer = tokenizer
        self.prompt = prompt
        self.samples = samples
        self.decoding = decoding
        self.temperature = temperature
        self.top_p = top_p
        self.max_new_tokens = max_new_tokens
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        tokenizer.padding_side = "left"
        self._lock = threading.Lock()  # one generate at a time on one model

    @classmethod
    def from_pretrained(
        cls, name_or_path: str, prompt: PromptFormat, *, device: str = "auto", dtype: str = "auto", **options: Any
    ) -> HFGenerator:
        """Load weights from a local path or the hub (bf16 on a GPU, fp32 on the CPU by default)."""
        torch = _require_torch()
        from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoTokenizer

        device = pick_device(device)
        if dtype == "auto":
            dtype = "bfloat16" if device.startswith("cuda") else "float32"
        tokenizer = AutoTokenizer.from_pretrained(name_or_path)
        # Decoder-only models (Llemma) and encoder-decoders (ReProver's ByT5) alike.
        seq2seq = getattr(AutoConfig.from_pretrained(name_or_path), "is_encoder_decoder", False)
        auto = AutoModelForSeq2SeqLM if seq2seq else AutoModelForCausalLM
        model = auto.from_pretrained(name_or_path, dtype=getattr(torch, dtype))
        model.to(device).eval()
        return cls(model, tokenizer, prompt, **options)

    async def propose(self, requests: Sequence[TacticRequest]) -> list[list[Candidate]]:
        """Generate in a worker thread; a cancelled call stops the model at its next token and returns
        (as cancelled) only once the thread has finished, so nothing runs on for a caller that is gone."""
        if not requests:
            return []
        stop = threading.Event()
        return await in_thread(self._generate, list(requests), stop, stop=stop)

    def _generate(self, requests: list[TacticRequest], stop: threading.Event | None = None) -> list[list[Candidate]]:
        """One ``generate`` per distinct sample count (a repair asks for one answer, a first round for k)."""
        by_count: dict[int, list[int]] = {}
        for index, request in enumerate(requests):
            by_count.setdefault(request.samples or self.samples, []).append(index)
        out: list[list[Candidate]] = [[] for _ in requests]
        for k, indices in by_count.items():
            for index, candidates in zip(indices, self._generate_k([requests[i] for i in indices], k, stop)):
                out[index] = candidates
        return out

    def model_input(self, request: TacticRequest) -> str:
        """The prompt text: a chat format's conversation in the model's own chat template, else the template."""
        if self.prompt.chat:
            messages = self.prompt.messages(request)
            return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return self.prompt.text(request)

    def _generate_k(
        self, requests: list[TacticRequest], k: int, stop: threading.Event | None = None
    ) -> list[list[Candidate]]:
        prompts = [self.model_input(r) for r in requests]
        torch = _require_torch()
        tokenizer = self.tokenizer
        # A chat template writes the special tokens (BOS, role markers) itself: none are added again.
        encoded = tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=not self.prompt.chat)
        encoded = encoded.to(self.model.device)
        options: dict[str, Any] = {
            "max_new_tokens": self.max_new_tokens,
            "num_return_sequences": k,
            "return_dict_in_generate": True,
            "output_logits": True,
            "pad_token_id": tokenizer.pad_token_id,
            "eos_token_id": tokenizer.eos_token_id,
        }
        if self.decoding == "beam":
            options.update(num_beams=k, do_sample=False)
        else:
            options.update(do_sample=True, temperature=self.temperature, top_p=self.top_p, top_k=0)
        if self.prompt.stop:
            options.update(stop_strings=list(self.prompt.stop), tokenizer=tokenizer)
        if stop is not None:
            options.update(stopping_criteria=_stopped_by(stop))
        with self._lock, torch.inference_mode(), self._seeded(torch, requests):
            out = self.model.generate(**encoded, **options)
            # One beam is greedy decoding: transformers keeps no beam indices for it.
            beam_indices = out.beam_indices if self.decoding == "beam" and k > 1 else None
            scores = self.model.compute_transition_scores(out.sequences, out.logits, beam_indices, True)
        # The generated steps are the sequences' tail (after the prompt, or after the decoder start).
        generated = out.sequences[:, -scores.shape[1] :].tolist()
        scores_list = scores.float().cpu().tolist()
        return [
            self.prompt.ranked(
                self._candidate(request, generated[row], scores_list[row]) for row in range(i * k, (i + 1) * k)
            )
            for i, request in enumerate(requests)
        ]

    @contextlib.contextmanager
    def _seeded(self, torch: Any, requests: list[TacticRequest]) -> Iterator[None]:
        """Sampling from the requests' seeds (torch's own random state is put back after).

        One request: its seed. Several in one batch: a seed made of all of theirs, so the samples
        depend on which requests share the batch. Any request without a seed: unseeded.
        """
        seeds = [r.seed for r in requests]
        if self.decoding != "sample" or any(s is None for s in seeds):
            yield
            return
        joint = int.from_bytes(hashlib.sha256(repr(seeds).encode()).digest()[:8], "big")
        seed = seeds[0] if len(seeds) == 1 else joint
        device = self.model.device
        devices = [device.index or 0] if device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(seed)
            yield

    async def encode(self, texts: Sequence[str]) -> list[list[float]]:
        """Mean-pooled last hidden states (the encoder's, for an encoder-decoder): LeanCopilot's /encode."""
        return await in_thread(self._encode, list(texts))

    def _encode(self, texts: list[str]) -> list[list[float]]:
        torch = _require_torch()
        encoded = self.tokenizer(texts, return_tensors="pt", padding=True).to(self.model.device)
        with self._lock, torch.inference_mode():
            if getattr(self.model.config, "is_encoder_decoder", False):
                hidden = self.model.get_encoder()(**encoded).last_hidden_state
            else:
                hidden = self.model(**encoded, output_hidden_states=True).hidden_states[-1]
            mask = encoded["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1)
        return pooled.float().cpu().tolist()

    def _candidate(self, request: TacticRequest, ids: list[int], scores: list[float]) -> Candidate | None:
        length = self._length(ids)
        text = self.tokenizer.decode(ids[:length], skip_special_tokens=True)
        logprob = float(sum(scores[:length]))
        if not math.isfinite(logprob):  # NaN, impossible or infinite: such a score cannot rank anything
            return None
        return self.prompt.candidate(request, text, logprob, length)

    def _length(self, ids: list[int]) -> int:
        """Tokens that belong to the candidate: through the first stop string or end of sequence."""
        eos = self.tokenizer.eos_token_id
        pad = self.tokenizer.pad_token_id
        length = len(ids)
        for index, token in enumerate(ids):
            if token == eos:
                length = index + 1
                break
        while length > 0 and ids[length - 1] == pad and pad != eos:
            length -= 1
        if not self.prompt.stop:
            return length

        def has_stop(n: int) -> bool:
            text = self.tokenizer.decode(ids[:n], skip_special_tokens=True)
            return any(stop in text for stop in self.prompt.stop)

        if not has_stop(length):
            return length
        low, high = 1, length  # the shortest prefix whose text contains a stop string
        while low < high:
            middle = (low + high) // 2
            if has_stop(middle):
                high = middle
            else:
                low = middle + 1
        return low


def _stopped_by(event: threading.Event) -> Any:
    """A stopping criterion that ends generation once ``event`` is set (the caller gave up)."""
    from transformers import StoppingCriteria, StoppingCriteriaList

    class Cancelled(StoppingCriteria):
        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
            import torch

            return torch.full((input_ids.shape[0],), event.is_set(), dtype=torch.bool, device=input_ids.device)

    return StoppingCriteriaList([Cancelled()])
