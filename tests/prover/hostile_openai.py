"""An OpenAI-compatible HTTP server (a real local socket) whose answers each test scripts.

The answer function gets the request body and returns the HTTP status and the raw response
bytes, so a test can send what real servers do send and Python's json would never write:
``NaN``, ``Infinity``, lone surrogates as ``"\\ud800"``, too many choices, errors for one prompt.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

Answer = Callable[[dict], tuple[int, bytes]]


def completions(*choices: tuple[str, str]) -> bytes:
    """A completions response from (raw JSON text of the choice's text, raw JSON of its token logprobs)."""
    items = [
        f'{{"index": {i}, "text": {text}, "logprobs": {{"token_logprobs": {logprobs}}}}}'
        for i, (text, logprobs) in enumerate(choices)
    ]
    return ('{"choices": [' + ", ".join(items) + "]}").encode()


def text(value: str) -> str:
    """A string as raw JSON (lone surrogates escaped as \\ud800, as a server writes them)."""
    return json.dumps(value)


@contextmanager
def hostile_server(answer: Answer) -> Iterator[str]:
    """Serve ``answer`` on 127.0.0.1; yields the base URL (``.../v1``)."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            status, payload = answer(body)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()
