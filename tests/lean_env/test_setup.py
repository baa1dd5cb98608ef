from __future__ import annotations

import os
import stat

import pytest

from lean_env.setup import LeanSetup, SetupError, setup_lean

FAKE_TOOL = """#!/bin/sh
echo "$(basename "$0") $*" >> "$TOOL_LOG"
case "$(basename "$0") $1" in
  "lake update") mkdir -p .lake/packages/mathlib ;;
  "lake build") mkdir -p .lake/build/bin && touch .lake/build/bin/repl ;;
  "git clone") for last; do :; done; mkdir -p "$last/.git" ;;
esac
"""


@pytest.fixture
def fake_tools(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("elan", "lake", "git"):
        tool = bin_dir / name
        tool.write_text(FAKE_TOOL)
        tool.chmod(tool.stat().st_mode | stat.S_IEXEC)
    log = tmp_path / "tools.log"
    monkeypatch.setenv("TOOL_LOG", str(log))
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("ELAN_HOME", str(tmp_path / "elan"))
    return log


def test_setup_runs_each_step_once_and_is_idempotent(tmp_path, fake_tools):
    setup = LeanSetup(tmp_path / "project", "v4.9.0")
    said: list[str] = []
    flags = setup_lean(setup, said.append)
    assert flags == ["--env", "lean-repl", "--lean-project", str(setup.project)]
    calls = fake_tools.read_text().splitlines()
    assert calls[0] == "lake update"
    assert calls[1] == "lake exe cache get"
    assert calls[2].startswith("git clone --depth 1 --branch v4.9.0 https://github.com/leanprover-community/repl")
    assert calls[3] == "lake build"
    assert (setup.project / "lean-toolchain").read_text() == "leanprover/lean4:v4.9.0\n"
    lakefile = (setup.project / "lakefile.lean").read_text()
    assert '"https://github.com/leanprover-community/mathlib4" @ "v4.9.0"' in lakefile
    assert (setup.repl_dir / "lean-toolchain").read_text() == "leanprover/lean4:v4.9.0\n"
    assert len(said) == 6 and said[0].startswith("[sandbox]")  # bubblewrap checked (installed if missing), 5 steps
    setup_lean(setup, said.append)
    assert fake_tools.read_text().splitlines() == calls  # nothing ran the second time


def test_a_failing_step_names_itself(tmp_path, fake_tools):
    lake = tmp_path / "bin" / "lake"
    lake.write_text("#!/bin/sh\nexit 3\n")
    with pytest.raises(SetupError, match=r"lake update failed \(exit 3\)"):
        setup_lean(LeanSetup(tmp_path / "project"), lambda _: None)


def test_project_versions_for_the_manifest(tmp_path, fake_tools):
    import json

    from lean_env.setup import project_versions

    setup = LeanSetup(tmp_path / "project", "v4.9.0")
    setup_lean(setup, lambda _: None)
    (setup.project / "lake-manifest.json").write_text(
        json.dumps({"packages": [{"name": "mathlib", "rev": "abc123"}, {"name": "aesop", "rev": "def"}]})
    )
    (setup.repl_dir / ".git" / "HEAD").write_text("0123456789abcdef\n")
    assert project_versions(setup.project) == {
        "lean": "leanprover/lean4:v4.9.0",
        "mathlib": "abc123",
        "repl": "0123456789abcdef",
    }
