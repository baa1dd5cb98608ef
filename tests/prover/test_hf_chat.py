"""A chat model through transformers: the tokenizer's chat template, long answers, repair turns.

The model is a tiny Llama built in the test with a tokenizer trained in the test and a chat
template of its own; it is fitted for a moment on two conversations (a first answer with a wrong
proof, and the fix after Goedel-Prover-V2's feedback), so greedy decoding writes them back and the
whole loop runs for real: template, generation, the last ```lean4 block, the REPL stand-in, the
feedback with the error at the model's line, the second answer.
"""

from __future__ import annotations

import json

import pytest

from prover.config import ProveConfig, merge
from prover.models.prompts import PROMPTS
from prover.runner import Runner
from search import Diagnostic, Repair, TacticRequest, Theorem
from tests.lean_env.conftest import HEADER, T2, FakeRepl

TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}<|end|>{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)
THEOREM = Theorem("t2", T2 + "\n", header=HEADER, split="test")
FIRST = "I will try a tactic.\n```lean4\nbad\n```"
FIX = "The error says bad fails. omega instead.\n```lean4\nomega\n```"
FAILED = Repair(
    FIRST, "bad", 0, "error: tactic 'bad' failed", (Diagnostic("error", "tactic 'bad' failed", 1, 0, 1, 3),)
)


def conversations() -> list[tuple[list[dict[str, str]], str]]:
    prompt = PROMPTS.get("goedel-v2")
    first = prompt.messages(TacticRequest(T2, THEOREM))
    repair = prompt.messages(TacticRequest(T2, THEOREM, repairs=(FAILED,)))
    return [(first, FIRST), (repair, FIX)]


def tiny_chat_model(torch):
    """A tokenizer trained on the conversations, a chat template, and a tiny Llama fitted to answer them."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    specials = ["<pad>", "<unk>", "<|end|>", "<|system|>", "<|user|>", "<|assistant|>"]
    texts = [m["content"] for messages, _ in conversations() for m in messages] + [FIRST, FIX]
    raw = Tokenizer(models.BPE(unk_token="<unk>"))
    raw.pre_tokenizer = pre_tokenizers.Metaspace()
    raw.decoder = decoders.Metaspace()
    raw.train_from_iterator(
        texts * 5, trainers.BpeTrainer(vocab_size=600, special_tokens=specials, show_progress=False)
    )
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=raw, eos_token="<|end|>", pad_token="<pad>", unk_token="<unk>")
    tokenizer.chat_template = TEMPLATE
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=2048,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=None,
    )
    torch.manual_seed(0)
    model = LlamaForCausalLM(config)
    batch = []
    for messages, answer in conversations():
        prompt = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        batch.append(tokenizer(prompt + answer + "<|end|>", add_special_tokens=False).input_ids)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(150):
        for ids in batch:
            tensor = torch.tensor([ids])
            loss = model(tensor, labels=tensor).loss
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
    return model.eval(), tokenizer


@pytest.fixture(scope="module")
def chat_model():
    """The fitted model and its tokenizer, once for the module (fitting takes seconds)."""
    torch = pytest.importorskip("torch", reason="the hf extra (torch) is not installed")
    return tiny_chat_model(torch)


def test_the_prompt_is_the_conversation_in_the_tokenizers_own_chat_template(chat_model):
    from prover.models.hf import HFGenerator

    model, tokenizer = chat_model
    request = TacticRequest(T2, THEOREM, repairs=(FAILED,))
    text = HFGenerator(model, tokenizer, PROMPTS.get("goedel-v2")).model_input(request)
    user, answer, feedback = (m["content"] for m in PROMPTS.get("goedel-v2").messages(request))
    assert text == f"<|user|>{user}<|end|><|assistant|>{answer}<|end|><|user|>{feedback}<|end|><|assistant|>"
    assert answer == FIRST and "<error>bad</error>" in feedback


async def test_a_tiny_chat_model_repairs_its_proof_through_the_repl_stand_in(chat_model, tmp_path):
    from prover.models.hf import HFGenerator

    model, tokenizer = chat_model
    hf = HFGenerator(model, tokenizer, PROMPTS.get("goedel-v2"), samples=1, decoding="beam", max_new_tokens=48)
    bench = tmp_path / "bench.jsonl"
    row = {"name": "t2", "split": "test", "header": HEADER, "formal_statement": T2 + "\n"}
    bench.write_text(json.dumps(row, ensure_ascii=False) + "\n")
    config = merge(
        ProveConfig(),
        {
            "run": {
                "benchmark": str(bench),
                "out": str(tmp_path / "run"),
                "strategy": "whole-proof",
                "repair_rounds": 1,
                "concurrency": 1,
            },
            "env": {"repl_command": FakeRepl(tmp_path).command, "workers": 1},
            "generator": {"name": "hf", "prompt": "goedel-v2", "samples": 1, "max_new_tokens": 48},
        },
        "test",
    )
    summary = await Runner(config, generator=hf, report=False).run()
    assert summary["proved"] == 1
    (record,) = map(json.loads, (tmp_path / "run" / "results.jsonl").read_text().splitlines())
    first, second = record["attempts"]
    assert (first["round"], first["proof"], first["verified"]) == (0, "bad", False)
    assert first["reasoning"] == "I will try a tactic." and "error 1:0: tactic 'bad' failed" in first["messages"]
    assert (second["round"], second["proof"], second["verified"]) == (1, "omega", True)
    assert record["proof"] == "omega" and record["verification"]["level"] == "repl"
