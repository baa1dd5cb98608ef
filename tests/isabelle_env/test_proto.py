"""The checked-in gRPC stubs are what grpcio-tools makes of isabelle_env/pisa.proto."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _without_versions(text: str) -> list[str]:
    # The generator stamps its own version into the files; everything else must match.
    return [line for line in text.splitlines() if "version" not in line.lower()]


def test_generated_stubs_are_not_stale(tmp_path):
    protoc = pytest.importorskip("grpc_tools.protoc", reason="grpcio-tools is not installed")
    (tmp_path / "isabelle_env").mkdir()
    shutil.copy(ROOT / "isabelle_env" / "pisa.proto", tmp_path / "isabelle_env" / "pisa.proto")
    status = protoc.main(
        [
            "protoc",
            f"-I{tmp_path}",
            f"--python_out={tmp_path}",
            f"--grpc_python_out={tmp_path}",
            str(tmp_path / "isabelle_env" / "pisa.proto"),
        ]
    )
    assert status == 0
    for name in ("pisa_pb2.py", "pisa_pb2_grpc.py"):
        fresh = (tmp_path / "isabelle_env" / name).read_text()
        checked_in = (ROOT / "isabelle_env" / name).read_text()
        assert _without_versions(fresh) == _without_versions(checked_in), (
            f"isabelle_env/{name} is stale: run python -m grpc_tools.protoc -I . --python_out=. "
            "--grpc_python_out=. isabelle_env/pisa.proto"
        )


def test_the_service_is_pisas():
    from isabelle_env import pisa_pb2

    service = pisa_pb2.DESCRIPTOR.services_by_name["Server"]
    assert service.full_name == "server.Server"
    assert [m.name for m in service.methods] == [
        "InitialiseIsabelle",
        "IsabelleContext",
        "IsabelleWorkingDirectory",
        "IsabelleCommand",
        "IsabelleSetSearchWidth",
        "IsabelleSearchIndexCommand",
    ]
