"""Per-request sampling options (OpenAI's ``n``, ``temperature``, ``max_tokens``, ``stop``) for a generator.

What each generator does with them:

- ``hf``, ``vllm``: ``n`` samples (or beams); ``temperature`` 0 is beam search, above 0 sampling at
  it; ``max_tokens`` new tokens, at most the generator's own setting; ``stop`` strings are added to
  the prompt format's.
- ``openai``: the same, sent on to the server.
- ``portfolio``: the first ``n`` tactics; ``temperature``, ``max_tokens`` and ``stop`` are ignored
  (there is no model).
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass

from prover.models.batching import BatchingGenerator
from search import TacticGenerator


@dataclass(frozen=True, slots=True)
class SamplingOptions:
    """What a client asked of the model; ``None`` keeps the server's setting."""

    n: int | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    stop: tuple[str, ...] = ()


def _token_field(generator: object) -> str | None:
    for name in ("max_new_tokens", "max_tokens"):
        if hasattr(generator, name):
            return name
    return None


def with_options(generator: TacticGenerator, options: SamplingOptions) -> TacticGenerator:
    """A copy of a model generator that samples as asked (sharing the model and its lock); a model-less
    generator is returned as it is. ``max_tokens`` never exceeds the generator's own setting."""
    if not hasattr(generator, "samples") or not hasattr(generator, "prompt"):
        return generator
    variant = copy.copy(generator)
    if options.n is not None:
        variant.samples = options.n  # type: ignore[attr-defined]
    if options.temperature is not None:
        if hasattr(variant, "decoding"):
            variant.decoding = "sample" if options.temperature > 0 else "beam"  # type: ignore[attr-defined]
        if options.temperature > 0:
            variant.temperature = options.temperature  # type: ignore[attr-defined]
    tokens = _token_field(variant)
    if options.max_tokens is not None and tokens is not None:
        setattr(variant, tokens, min(options.max_tokens, getattr(generator, tokens)))
    if options.stop:
        prompt = variant.prompt  # type: ignore[attr-defined]
        variant.prompt = dataclasses.replace(prompt, stop=tuple(dict.fromkeys((*prompt.stop, *options.stop))))  # type: ignore[attr-defined]
    return variant


class OptionVariants:
    """Batching generators per distinct options, so clients asking alike still share model calls."""

    def __init__(self, generator: TacticGenerator, limit: int = 8) -> None:
        self.generator = generator
        self.inner = generator.inner if isinstance(generator, BatchingGenerator) else generator
        self.limit = limit
        self._variants: dict[SamplingOptions, TacticGenerator] = {}

    def get(self, options: SamplingOptions) -> TacticGenerator:
        """The generator for these options (the server's own for the defaults)."""
        if options == SamplingOptions() or not hasattr(self.inner, "samples"):
            return self.generator
        if options not in self._variants:
            if len(self._variants) >= self.limit:
                self._variants.pop(next(iter(self._variants)))  # the oldest: its calls finish on their own
            variant = with_options(self.inner, options)
            if isinstance(self.generator, BatchingGenerator):
                source = self.generator
                variant = BatchingGenerator(
                    variant, window=source.window, max_batch=source.max_batch, concurrency=source.concurrency
                )
            self._variants[options] = variant
        else:
            self._variants[options] = self._variants.pop(options)  # most recently used last
        return self._variants[options]
