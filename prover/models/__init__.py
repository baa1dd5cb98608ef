"""Tactic generators, looked up by name, and the prompt formats they render."""

from __future__ import annotations

from collections.abc import Callable

from prover.config import GeneratorConfig
from prover.models import (
    sketch_prompts,  # noqa: F401  (registers the sketch prompt formats)
    whole_proof_prompts,  # noqa: F401 (registers the whole-proof models' formats)
)
from prover.models.batching import BatchingGenerator
from prover.models.portfolio import PortfolioGenerator
from prover.models.prompts import PROMPTS, PromptFormat
from search import Registry, TacticGenerator

GeneratorFactory = Callable[[GeneratorConfig, str], TacticGenerator]
GENERATORS: Registry[GeneratorFactory] = Registry("generator")


@GENERATORS.register("portfolio")
def _portfolio(config: GeneratorConfig, language: str) -> TacticGenerator:
    return PortfolioGenerator.for_language(language, config.tactics)


def _decoding(config: GeneratorConfig) -> dict[str, object]:
    return {
        "samples": config.samples,
        "decoding": config.decoding,
        "temperature": config.temperature,
        "top_p": config.top_p,
        "max_new_tokens": config.max_new_tokens,
    }


def _need_model(config: GeneratorConfig) -> str:
    if not config.model:
        raise ValueError(f"the {config.name} generator needs --model (a hub id or a local path)")
    return config.model


@GENERATORS.register("hf")
def _hf(config: GeneratorConfig, language: str) -> TacticGenerator:
    from prover.models.hf import HFGenerator

    prompt = PROMPTS.get(config.prompt)
    return HFGenerator.from_pretrained(
        _need_model(config), prompt, device=config.device, dtype=config.dtype, **_decoding(config)
    )


@GENERATORS.register("vllm")
def _vllm(config: GeneratorConfig, language: str) -> TacticGenerator:
    from prover.models.vllm import VLLMGenerator

    return VLLMGenerator(_need_model(config), PROMPTS.get(config.prompt), **_decoding(config))


@GENERATORS.register("openai")
def _openai(config: GeneratorConfig, language: str) -> TacticGenerator:
    from prover.models.openai import OpenAIGenerator

    return OpenAIGenerator.from_env(
        config.endpoint,
        _need_model(config),
        PROMPTS.get(config.prompt),
        config.api_key_env,
        api=config.api,
        samples=config.samples,
        temperature=config.temperature,
        top_p=config.top_p,
        max_tokens=config.max_new_tokens,
        timeout=config.request_timeout,
        retries=config.retries,
    )


def build_generator(config: GeneratorConfig, language: str = "lean4") -> TacticGenerator:
    """The configured generator; model-backed ones are wrapped for cross-search batching."""
    PROMPTS.get(config.prompt)  # an unknown prompt fails before any model loads
    generator = GENERATORS.get(config.name)(config, language)
    if isinstance(generator, PortfolioGenerator):
        return generator  # no model: nothing to batch
    return BatchingGenerator(
        generator, window=config.batch_window, max_batch=config.max_batch, concurrency=config.concurrency
    )


__all__ = ["GENERATORS", "PROMPTS", "BatchingGenerator", "PortfolioGenerator", "PromptFormat", "build_generator"]
