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


@dataclass(frozen=True, slots=True)
class Archive:
    """Folders taken out of a repository archive at a fixed revision, checked by a digest of their files."""

    name: str
    url: str
    members: tuple[str, ...]  # top-level folders to keep, e.g. ("isabelle", "informal")
    patterns: tuple[str, ...]  # the files the digest covers, relative to the target
    digest: str
    target: str


ARCHIVES: dict[str, Archive] = {
    "minif2f-isabelle": Archive(
        name="minif2f-isabelle",
        url="https://codeload.github.com/facebookresearch/miniF2F/tar.gz/e4f1130",
        members=("isabelle", "informal"),
        patterns=("isabelle/*/*.thy", "informal/*/*.json"),
        digest="2d84f35059437227cd17dece0f0adacc4043faf8b6fd71c2c562daf9c9480410",
        target="minif2f",
    ),
}


def folder_digest(root: Path, patterns: tuple[str, ...]) -> str:
    """SHA-256 over the sorted relative paths and contents of the files matching ``patterns``."""
    digest = hashlib.sha256()
    files = sorted(p.relative_to(root) for pattern in patterns for p in root.glob(pattern))
    for relative in files:
        digest.update(str(relative).encode() + b"\0" + (root / relative).read_bytes())
    return digest.hexdigest()


def get_archive(
    name: str, *, home: Path | None = None, timeout: float = 300.0, say: Callable[[str], None] = print
) -> Path:
    """Download a pinned repository archive, keep its data folders, and check their digest."""
    import io
    import shutil
    import tarfile
    import tempfile

    archive = ARCHIVES[name]
    target = (home or data_home()) / archive.target
    if (
        all((target / m).is_dir() for m in archive.members)
        and folder_digest(target, archive.patterns) == archive.digest
    ):
        say(f"{name}: already at {target}")
        return target
    say(f"{name}: downloading {archive.url}")
    try:
        response = httpx.get(archive.url, timeout=timeout, follow_redirects=True)
        response.raise_for_status()
    except httpx.HTTPError as error:
        raise DataError(f"{name}: download failed ({error}). Check the network, or pass the folder.") from None
    with tempfile.TemporaryDirectory() as tmp, tarfile.open(fileobj=io.BytesIO(response.content)) as tar:
        top = tar.getmembers()[0].name.split("/")[0]
        wanted = [m for m in tar.getmembers() if m.name.split("/")[1:2] and m.name.split("/")[1] in archive.members]
        tar.extractall(tmp, members=wanted, filter="data")
        extracted = Path(tmp) / top
        got = folder_digest(extracted, archive.patterns)
        if got != archive.digest:
            raise DataError(f"{name}: content digest mismatch (got {got}, expected {archive.digest}); nothing saved.")
        target.mkdir(parents=True, exist_ok=True)
        for member in archive.members:
            shutil.rmtree(target / member, ignore_errors=True)
            shutil.move(str(extracted / member), str(target / member))
    say(f"{name}: saved to {target}")
    return target


def get_dataset(
    name: str, *, home: Path | None = None, timeout: float = 120.0, say: Callable[[str], None] = print
) -> Path:
    """Download (or find already downloaded) a pinned data set; the checksum must match."""
    if name in ARCHIVES:
        return get_archive(name, home=home, say=say)
    if name not in DATASETS:
        raise DataError(f"Unknown data set {name!r}. Known: {', '.join([*DATASETS, *ARCHIVES])}.")
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
