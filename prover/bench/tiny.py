"""A tiny Llama and a BPE tokenizer built from a config on the spot: no downloads (tests and `prover bench`)."""

from __future__ import annotations

import functools

CORPUS = [
    "Tactic state:\n---\nx : ℕ\nh₀ : x = 2\n⊢ x + x = 4\n---\nNext tactic:\n---\nsubst h₀\n---\n",
    "theorem foo (a b : ℝ) (h : a < b) : a ≤ b := by\n  linarith\n",
    "[GOAL]\nn : ℕ\n⊢ n + 0 = n\n[PROOFSTEP]\nsimp",
    "norm_num nlinarith [sq_nonneg (a - b)] omega decide positivity aesop rfl ring_nf field_simp",
]


@functools.cache
def tiny_model_and_tokenizer(seed: int = 0):
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    # Character-level BPE (Metaspace, not byte-level): every token decodes to whole characters,
    # so distinct token sequences stay distinct texts.
    raw = Tokenizer(models.BPE(unk_token="<unk>"))
    raw.pre_tokenizer = pre_tokenizers.Metaspace()
    raw.decoder = decoders.Metaspace()
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=["<pad>", "</s>", "<unk>"], show_progress=False)
    raw.train_from_iterator(CORPUS * 10, trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=raw, eos_token="</s>", pad_token="<pad>", unk_token="<unk>")
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=None,
        initializer_range=0.2,  # peaked distributions: diverse, readable candidates
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config).eval()
    return model, tokenizer
