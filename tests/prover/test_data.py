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


def test_the_isabelle_archive_digest_matches_the_shared_copy(shared_data):
    archive = data.ARCHIVES["minif2f-isabelle"]
    assert data.folder_digest(shared_data / "minif2f", archive.patterns) == archive.digest


def test_an_archive_is_unpacked_and_checked(tmp_path, monkeypatch):
    import io
    import tarfile
    import threading
    from functools import partial
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    source = tmp_path / "miniF2F-abc"
    (source / "isabelle" / "valid").mkdir(parents=True)
    (source / "informal" / "valid").mkdir(parents=True)
    (source / "lean").mkdir()
    (source / "isabelle" / "valid" / "p.thy").write_text("theory p imports Main begin end")
    (source / "informal" / "valid" / "p.json").write_text("{}")
    (source / "lean" / "skip.lean").write_text("")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.add(source, arcname="miniF2F-abc")
    served = tmp_path / "served"
    served.mkdir()
    (served / "archive.tgz").write_bytes(buffer.getvalue())
    handler = partial(SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *a: None
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    digest = data.folder_digest(source, data.ARCHIVES["minif2f-isabelle"].patterns)
    pinned = dataclasses.replace(
        data.ARCHIVES["minif2f-isabelle"], url=f"http://127.0.0.1:{server.server_address[1]}/archive.tgz", digest=digest
    )
    monkeypatch.setitem(data.ARCHIVES, "minif2f-isabelle", pinned)
    try:
        target = data.get_dataset("minif2f-isabelle", home=tmp_path / "cache", say=lambda _: None)
        assert (target / "isabelle" / "valid" / "p.thy").is_file() and not (target / "lean").exists()
        monkeypatch.setitem(data.ARCHIVES, "minif2f-isabelle", dataclasses.replace(pinned, digest="0" * 64))
        with pytest.raises(data.DataError, match="digest mismatch"):
            data.get_dataset("minif2f-isabelle", home=tmp_path / "other", say=lambda _: None)
        assert not (tmp_path / "other" / "minif2f" / "isabelle").exists()
    finally:
        server.shutdown()
        server.server_close()
