"""`prover data get`: pinned public data sets, checked by their SHA-256."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from prover.paths import data_home


@dataclass(frozen=True, slots=True)
class Dataset:
    """One file at a fixed revision of a public repository."""

    name: str
    url: str
    sha256: str
    target: str  # relative to the data cache


DATASETS: dict[str, Dataset] = {
    "minif2f": Dataset(
        name="minif2f",
        url=(
            "https://raw.githubusercontent.com/deepseek-ai/DeepSeek-Prover-V1.5/"
            "2c4ba9119eef74d0d611f494261b2c5bae98c69a/datasets/minif2f.jsonl"
        ),
        sha256="d6654c88476ff14db19d57dea25bd955a240525fb52171e460f89d98f83d7dd5",
        target="minif2f/lean4/minif2f.jsonl",
    ),
}


class DataError(RuntimeError):
    """A download that failed or did not match its checksum."""


def get_dataset(
    name: str, *, home: Path | None = None, timeout: float = 120.0, say: Callable[[str], None] = print
) -> Path:
    """Download (or find already downloaded) a pinned data set; the checksum must match."""
    if name not in DATASETS:
        raise DataError(f"Unknown data set {name!r}. Known: {', '.join(DATASETS)}.")
    dataset = DATASETS[name]
    path = (home or data_home()) / dataset.target
    if path.is_file() and hashlib.sha256(path.read_bytes()).hexdigest() == dataset.sha256:
        say(f"{name}: already at {path}")
        return path
    say(f"{name}: downloading {dataset.url}")
    try:
        response = httpx.get(dataset.url, timeout=timeout, follow_redirects=True)
        response.raise_for_status()
    except httpx.HTTPError as error:
        raise DataError(
            f"{name}: download failed ({error}). Check the network, or pass the file with --benchmark."
        ) from None
    digest = hashlib.sha256(response.content).hexdigest()
    if digest != dataset.sha256:
        raise DataError(f"{name}: checksum mismatch (got {digest}, expected {dataset.sha256}); nothing was saved.")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".part")
    tmp.write_bytes(response.content)
    tmp.replace(path)
    say(f"{name}: saved to {path}")
    return path
