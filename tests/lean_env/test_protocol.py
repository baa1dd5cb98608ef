from __future__ import annotations

import json

import pytest

from lean_env.protocol import (
    Command,
    CommandReply,
    ErrorReply,
    ProofStep,
    ProofStepReply,
    ProtocolError,
    decode,
    encode,
    parse_reply,
    parse_request,
)


def chunks(text: str) -> list[str]:
    """Blank-line separated objects, as the REPL reads and writes them."""
    out, buf = [], []
    for line in text.split("\n"):
        if line.strip():
            buf.append(line)
        elif buf:
            out.append("\n".join(buf))
            buf = []
    if buf:
        out.append("\n".join(buf))
    return out


def transcripts(shared_data):
    folder = shared_data / "lean-repl-transcripts"
    return sorted(folder.glob("*.in")) + sorted(folder.glob("mathlib/*.in"))


def test_every_transcript_request_and_reply_round_trips(shared_data):
    requests = replies = 0
    for source in transcripts(shared_data):
        for chunk in chunks(source.read_text()):
            try:
                data = json.loads(chunk)
            except json.JSONDecodeError:
                continue  # transcripts of the REPL rejecting malformed input: not something we send
            assert parse_request(data).to_wire() == data, source.name
            requests += 1
        expected = source.with_name(source.name.removesuffix(".in") + ".expected.out")
        if expected.exists():
            for chunk in chunks(expected.read_text()):
                reply = decode(chunk)
                assert reply.to_wire() == json.loads(chunk), expected.name
                replies += 1
    assert requests > 200 and replies > 200


def test_reply_kinds(shared_data):
    text = (shared_data / "lean-repl-transcripts" / "invalid_tactic.expected.out").read_text()
    command, step = (decode(c) for c in chunks(text))
    assert isinstance(command, CommandReply) and command.sorries[0].proof_state == 0
    assert command.sorries[0].goal == "x : Nat\n⊢ x = x"
    assert isinstance(step, ProofStepReply) and step.goals == []
    assert step.proof_status == "Incomplete: contains sorry"
    assert step.errors()[0].data == "Unknown identifier `my_fake_premise`"


def test_encoding_is_one_line_and_a_blank_line():
    wire = encode(ProofStep(tactic="simp\n  at h", proof_state=3))
    assert wire == b'{"tactic": "simp\\n  at h", "proofState": 3}\n\n'
    assert encode(Command(cmd="import Mathlib")) == b'{"cmd": "import Mathlib"}\n\n'


def test_error_form_and_garbage():
    assert isinstance(parse_reply({"message": "Lean error:\nunknown tactic"}), ErrorReply)
    with pytest.raises(ProtocolError, match="not JSON"):
        decode("uncaught exception: out of memory")
    with pytest.raises(ProtocolError, match="not a REPL reply"):
        decode('{"envv": 3}')
