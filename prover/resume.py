"""Whether a run directory may be resumed: every setting that can change a record must match.

A run directory's manifest keeps, per run that wrote to it, the settings the records depend on
(``history``). A resume whose settings differ is refused, naming each difference; with
``--force-resume`` it goes ahead and the manifest's history says what changed.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# What a record depends on, by config section (None: all of the section). Which theorems run, how
# many at once and where the processes live may change freely; adding a setting is one entry here.
RESULT_FIELDS: dict[str, tuple[str, ...] | None] = {
    "search": None,
    "generator": (
        "name",
        "model",
        "prompt",
        "samples",
        "decoding",
        "temperature",
        "top_p",
        "max_new_tokens",
        "tactics",
        "api",
        "endpoint",
        "dtype",
        "device",
    ),
    "env": (
        "name",
        "axioms",
        "verify",
        "kernel_command",
        "lean_command",
        "lean_project",
        "repl_command",
        "memory_limit_mb",
        "dojo_repo",
        "dojo_commit",
        "dojo_file",
    ),
    "run": ("benchmark", "strategy", "attempts", "seed", "draft"),
}

# Versions of the prover an environment reports (Lean, Mathlib, the REPL), and the model's revision:
# compared whenever both runs know them.
VERSION_KEYS: tuple[str, ...] = ("lean", "mathlib", "repl")


def result_fingerprint(config_dict: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The part of a configuration the records depend on."""
    out: dict[str, Any] = {}
    for section, fields in RESULT_FIELDS.items():
        values = config_dict.get(section, {})
        out[section] = dict(values) if fields is None else {f: values.get(f) for f in fields}
    return json.loads(json.dumps(out))  # tuples and lists compare alike


def model_revision(model: str | None) -> str | None:
    """The commit of a local Hugging Face snapshot, when the model path names one."""
    if not model:
        return None
    path = Path(model)
    if path.parent.name == "snapshots":
        return path.name
    return None


def settings(config_dict: dict[str, dict[str, Any]], versions: dict[str, Any]) -> dict[str, Any]:
    """Everything a record depends on: the config's result fields, the prover's versions, the model revision."""
    model = config_dict.get("generator", {}).get("model")
    return {
        "config": result_fingerprint(config_dict),
        "versions": {k: versions.get(k) for k in VERSION_KEYS},
        "model_revision": model_revision(model),
    }


def _previous_settings(manifest: dict[str, Any]) -> dict[str, Any]:
    history = manifest.get("history") or []
    if history and isinstance(history[-1], dict) and "settings" in history[-1]:
        return history[-1]["settings"]
    # A manifest written before histories were kept: its config and versions.
    return settings(manifest.get("config", {}), manifest.get("versions", {}))


def differences(manifest: dict[str, Any], now: dict[str, Any], benchmark_sha256: str) -> list[str]:
    """What differs between the last run that wrote to a directory and this one, one line each."""
    before = _previous_settings(manifest)
    changed = []
    old_config, new_config = before.get("config", {}), now["config"]
    for section in new_config:
        old = old_config.get(section, {})
        for key in sorted(set(new_config[section]) | set(old)):
            if old.get(key) != new_config[section].get(key):
                changed.append(f"{section}.{key}: {old.get(key)!r} -> {new_config[section].get(key)!r}")
    for key in VERSION_KEYS:
        old, new = before.get("versions", {}).get(key), now["versions"].get(key)
        if old is not None and new is not None and old != new:
            changed.append(f"{key} version: {old!r} -> {new!r}")
    old, new = before.get("model_revision"), now["model_revision"]
    if old is not None and new is not None and old != new:
        changed.append(f"model revision: {old!r} -> {new!r}")
    if manifest.get("benchmark", {}).get("sha256") not in (None, benchmark_sha256):
        changed.append("the benchmark file's contents changed")
    return changed


def history(manifest: dict[str, Any] | None, now: dict[str, Any], changed: list[str]) -> list[dict[str, Any]]:
    """The manifest's history with this run added (forced over ``changed`` when that is not empty)."""
    earlier: list[dict[str, Any]] = []
    if manifest is not None:
        earlier = list(manifest.get("history") or [])
        if not earlier:
            earlier = [{"started": manifest.get("started"), "settings": _previous_settings(manifest)}]
    entry: dict[str, Any] = {"started": datetime.now(UTC).isoformat(timespec="seconds"), "settings": now}
    if changed:
        entry["forced_resume"] = changed
    return [*earlier, entry]
