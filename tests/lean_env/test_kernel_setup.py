"""`prover setup lean --verifier` installs SafeVerify at the revision for the Lean version; doctor reports it."""

from __future__ import annotations

import json

import pytest

from lean_env.kernel import SAFEVERIFY_RELEASES, installed_settings
from lean_env.setup import LeanSetup, SetupError, setup_verifier


def test_v4_9_gets_the_minif2f_branch_commit_run_inside_the_project(tmp_path, fake_tools):
    setup = LeanSetup(tmp_path / "project", "v4.9.0")
    assert setup_verifier(setup, lambda _: None) == ["--verify", "kernel"]
    calls = fake_tools.read_text().splitlines()
    assert calls[0] == f"git clone https://github.com/GasStationManager/SafeVerify {setup.project / 'safeverify'}"
    assert calls[1].endswith("checkout --detach 0c0f7dcf6cb66333a944d062ec4c431986da1ca6")
    assert len(calls) == 2  # the v4.9.0 revision is interpreted by the project's Lean: nothing to build
    settings = installed_settings(setup.project)
    assert settings is not None and settings.cwd == str(setup.project)
    assert settings.checker_command[:4] == ("lake", "env", "lean", "--run")
    assert settings.checker_command[-2:] == ("{target}", "{submission}")
    setup_verifier(setup, lambda _: None)
    assert fake_tools.read_text().splitlines() == calls  # idempotent


def test_tagged_releases_are_built(tmp_path, fake_tools):
    setup = LeanSetup(tmp_path / "project", "v4.27.0")
    setup_verifier(setup, lambda _: None)
    calls = fake_tools.read_text().splitlines()
    assert calls[1].endswith(SAFEVERIFY_RELEASES["v4.27.0"].commit)
    assert calls[2:] == ["lake exe cache get", "lake build safe_verify"]
    settings = installed_settings(setup.project)
    assert settings is not None and settings.checker_command[2].endswith(".lake/build/bin/safe_verify")


def test_a_version_safeverify_does_not_have_is_refused_with_the_fix(tmp_path, fake_tools):
    with pytest.raises(SetupError, match=r"no revision for Lean v4\.10\.0.*--verify repl"):
        setup_verifier(LeanSetup(tmp_path / "project", "v4.10.0"), lambda _: None)
    assert not fake_tools.exists()


def test_doctor_reports_the_kernel_verifier(tmp_path, monkeypatch):
    from prover.doctor import check_kernel_verifier
    from prover.paths import lean_project_home

    monkeypatch.setenv("LLEMMA_PROVER_HOME", str(tmp_path))
    missing = check_kernel_verifier()
    assert not missing.ok and missing.fix == "prover setup lean --verifier"
    marker = lean_project_home() / "safeverify" / ".llemma-verifier.json"
    marker.parent.mkdir(parents=True)
    marker.write_text(json.dumps({"lean_version": "v4.9.0", "commit": "0c0f7dcf6c", "mode": "run"}))
    found = check_kernel_verifier()
    assert found.ok and "v4.9.0" in found.detail
