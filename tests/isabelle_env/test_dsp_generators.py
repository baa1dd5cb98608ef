"""`prover dsp --draft --samples n` through the real generator path: an OpenAI-compatible HTTP stand-in."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.isabelle_env.conftest import PROOF
from tests.isabelle_env.test_dsp import row, run_dsp_command

DRAFTS = ["Halve both sides.", "Multiply by one half."]
# Best first by log-probability: a sketch Isabelle rejects, the one that checks, one never tried.
SKETCHES = [
    (PROOF.replace("using h0 sledgehammer", "using h0 by blast"), -0.1),
    (PROOF, -0.5),
    (PROOF.replace("using h0 sledgehammer", "using h0 by arith"), -0.9),
]


class CompletionsServer(BaseHTTPRequestHandler):
    """Answers /v1/completions with ``n`` choices: drafts for the draft prompt, sketches for the sketch prompt."""

    bodies: list[dict] = []

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).bodies.append(body)
        drafting = body["prompt"].endswith("### Solution\n\n")
        texts = [(f" {d}", -0.2 * (i + 1)) for i, d in enumerate(DRAFTS)] if drafting else SKETCHES
        choices = [
            {"index": i, "text": text, "logprobs": {"token_logprobs": [logprob]}}
            for i, (text, logprob) in enumerate(texts[: body["n"]])
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
def completions():
    CompletionsServer.bodies = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), CompletionsServer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def test_draft_then_the_first_of_n_sketches_that_checks_wins(tmp_path, completions):
    flags = ["--generator", "openai", "--endpoint", completions, "--model", "llemma_7b", "--draft", "--samples", "3"]
    done = run_dsp_command(tmp_path, [row("ok", proof="Divide by 2.")], *flags)
    assert done.returncode == 0, done.stderr
    draft, sketch = CompletionsServer.bodies
    assert draft["n"] == sketch["n"] == 3
    assert draft["prompt"].endswith("### Problem\n\nIf 2x = 4, show x = 2.\n\n### Solution\n\n")
    assert draft["stop"] == [" *)", "*)"] and sketch["stop"] == ["\n\n\n"]
    # --draft replaces the problem's own informal proof with the model's best draft.
    assert "### Solution\n\nHalve both sides. *)\n\nFormal:\ntheorem ok:" in sketch["prompt"]
    assert "Divide by 2." not in sketch["prompt"]
    (record,) = map(json.loads, (tmp_path / "cli" / "results.jsonl").read_text().splitlines())
    assert record["status"] == "proved"
    first, second = record["attempts"]  # the third sketch is never checked
    assert not first["verified"] and "Failed to finish proof" in first["message"]
    assert second["verified"] and second["proof"].endswith(PROOF)
    assert "by simp" in record["proof"] and "by arith" not in record["proof"]
