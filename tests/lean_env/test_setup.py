from __future__ import annotations

import stat
import subprocess
import sys

import pytest

from lean_env.setup import RECORD, LeanSetup, SetupError, setup_lean


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
    (setup.project / RECORD).unlink()  # a project set up before the record existed
    setup_lean(setup, said.append)
    assert fake_tools.read_text().splitlines() == calls  # recognised from what is there


def test_a_failing_step_names_itself_and_the_fix(tmp_path, fake_tools):
    lake = tmp_path / "bin" / "lake"
    lake.write_text("#!/bin/sh\nexit 3\n")
    with pytest.raises(SetupError, match=r"lake update failed \(exit 3\).*Fix: check that Mathlib has the tag v4.9.0"):
        setup_lean(LeanSetup(tmp_path / "project"), lambda _: None)


def test_another_lean_version_updates_mathlib_its_cache_and_the_repl(tmp_path, fake_tools):
    old = LeanSetup(tmp_path / "project", "v4.9.0")
    setup_lean(old, lambda _: None)
    before = len(fake_tools.read_text().splitlines())
    new = LeanSetup.for_project(old.project, "v4.15.0")
    setup_lean(new, lambda _: None)
    assert fake_tools.read_text().splitlines()[before:] == [
        "lake update",
        "lake exe cache get",
        "git fetch --depth 1 origin v4.15.0",
        "git checkout --detach FETCH_HEAD",
        "lake build",
    ]
    assert (new.project / "lean-toolchain").read_text() == "leanprover/lean4:v4.15.0\n"
    assert (new.repl_dir / "lean-toolchain").read_text() == "leanprover/lean4:v4.15.0\n"
    assert '@ "v4.15.0"' in (new.project / "lakefile.lean").read_text()
    # Without --lean-version the project keeps the version it has: nothing runs, nothing goes back.
    again = LeanSetup.for_project(old.project)
    assert again.lean_version == "v4.15.0"
    after = fake_tools.read_text()
    setup_lean(again, lambda _: None)
    assert fake_tools.read_text() == after


def test_a_failed_elan_download_stops_there_with_the_fix(tmp_path, fake_tools):
    (tmp_path / "bin" / "elan").unlink()  # no elan yet: it must be downloaded
    curl = tmp_path / "bin" / "curl"
    curl.write_text('#!/bin/sh\necho "curl $*" >> "$TOOL_LOG"\necho "curl: (6) Could not resolve host" >&2\nexit 6\n')
    curl.chmod(curl.stat().st_mode | stat.S_IEXEC)
    with pytest.raises(SetupError) as failed:
        setup_lean(LeanSetup(tmp_path / "project"), lambda _: None)
    assert "download elan failed (exit 6)" in str(failed.value)
    assert "install elan by hand (https://github.com/leanprover/elan#installation)" in str(failed.value)
    calls = fake_tools.read_text().splitlines()
    assert len(calls) == 1 and calls[0].startswith("curl -sSfL https://raw.githubusercontent.com/leanprover/elan/")


def test_elan_is_downloaded_then_installed(tmp_path, fake_tools):
    bin_dir = tmp_path / "bin"
    (bin_dir / "elan").unlink()
    (bin_dir / "lake").rename(tmp_path / "lake")  # lake comes with elan
    # The downloaded elan-init.sh puts elan and lake into $ELAN_HOME/bin, as the real one does.
    installer = tmp_path / "elan-init.sh"
    installer.write_text(
        f'mkdir -p "$ELAN_HOME/bin"\nfor t in elan lake; do cp {tmp_path / "lake"} "$ELAN_HOME/bin/$t"; done\n'
    )
    curl = bin_dir / "curl"
    curl.write_text(
        f'#!/bin/sh\necho "curl $*" >> "$TOOL_LOG"\nwhile [ "$1" != "-o" ]; do shift; done; cp {installer} "$2"\n'
    )
    curl.chmod(curl.stat().st_mode | stat.S_IEXEC)
    setup_lean(LeanSetup(tmp_path / "project"), lambda _: None)
    calls = fake_tools.read_text().splitlines()
    assert calls[0].startswith("curl -sSfL https://raw.githubusercontent.com/leanprover/elan/master/elan-init.sh -o ")
    assert calls[1:] == ["lake update", "lake exe cache get", calls[3], "lake build"]
    assert (tmp_path / "elan" / "bin" / "elan").exists()


def test_a_project_we_did_not_make_is_refused_untouched(tmp_path, fake_tools):
    project = tmp_path / "theirs"
    project.mkdir()
    (project / "lakefile.lean").write_text("import Lake\nopen Lake DSL\n\npackage «theirs» where\n")
    with pytest.raises(SetupError, match=r"did not make.*choose another --lean-project"):
        setup_lean(LeanSetup(project), lambda _: None)
    assert (project / "lakefile.lean").read_text().startswith("import Lake\nopen Lake DSL\n\npackage «theirs»")
    assert not fake_tools.exists()  # nothing ran


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


def test_prover_setup_lean_keeps_the_projects_version_and_reports_a_failure(tmp_path, fake_tools):
    project = tmp_path / "project"
    setup_lean(LeanSetup(project, "v4.15.0"), lambda _: None)
    calls = fake_tools.read_text()
    command = [sys.executable, "-m", "prover.cli", "setup", "lean", "--lean-project", str(project)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "Lean is ready" in done.stdout and fake_tools.read_text() == calls  # no switch back to the default
    (tmp_path / "bin" / "lake").write_text("#!/bin/sh\nexit 1\n")
    failed = subprocess.run([*command, "--lean-version", "v4.20.0"], capture_output=True, text=True, timeout=60)
    assert failed.returncode == 2
    assert (
        "lake update failed (exit 1)" in failed.stderr
        and "Fix: check that Mathlib has the tag v4.20.0" in failed.stderr
    )
