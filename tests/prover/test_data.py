from __future__ import annotations

import dataclasses
import hashlib
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

from prover import data


@pytest.fixture
def file_server(tmp_path):
    (tmp_path / "served").mkdir()
    (tmp_path / "served" / "minif2f.jsonl").write_text('{"name": "a"}\n')
    handler = partial(SimpleHTTPRequestHandler, directory=str(tmp_path / "served"))
    handler.log_message = lambda *a: None
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/minif2f.jsonl"
    server.shutdown()
    server.server_close()


def test_download_checks_the_checksum(tmp_path, file_server, monkeypatch):
    digest = hashlib.sha256(b'{"name": "a"}\n').hexdigest()
    pinned = dataclasses.replace(data.DATASETS["minif2f"], url=file_server, sha256=digest)
    monkeypatch.setitem(data.DATASETS, "minif2f", pinned)
    path = data.get_dataset("minif2f", home=tmp_path / "cache", say=lambda _: None)
    assert path.read_text() == '{"name": "a"}\n'
    said: list[str] = []
    data.get_dataset("minif2f", home=tmp_path / "cache", say=said.append)
    assert "already" in said[0]


def test_a_checksum_mismatch_saves_nothing(tmp_path, file_server, monkeypatch):
    pinned = dataclasses.replace(data.DATASETS["minif2f"], url=file_server, sha256="0" * 64)
    monkeypatch.setitem(data.DATASETS, "minif2f", pinned)
    with pytest.raises(data.DataError, match="checksum mismatch"):
        data.get_dataset("minif2f", home=tmp_path / "cache", say=lambda _: None)
    assert not (tmp_path / "cache" / pinned.target).exists()


def test_the_pinned_checksum_matches_the_shared_copy(shared_data):
    copy = shared_data / "minif2f" / "lean4" / "minif2f.jsonl"
    assert hashlib.sha256(copy.read_bytes()).hexdigest() == data.DATASETS["minif2f"].sha256
