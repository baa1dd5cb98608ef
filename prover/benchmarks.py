"""Benchmark loaders: miniF2F by name, DeepSeek-style JSONL files, and `.lean` files."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from isabelle_env.screen import statement_of
from prover.paths import data_home
from search import Registry, Theorem

MINIF2F_FILE = "minif2f/lean4/minif2f.jsonl"


class BenchmarkError(ValueError):
    """A benchmark that cannot be loaded; the message says what to do."""


@dataclass(frozen=True, slots=True)
class Benchmark:
    """Loaded theorems and a checksum of the file they came from (for the run manifest)."""

    name: str
    theorems: list[Theorem]
    path: str
    sha256: str


Loader = Callable[[Path], list[Theorem]]
LOADERS: Registry[Loader] = Registry("benchmark format")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@LOADERS.register("jsonl")
def load_jsonl(path: Path) -> list[Theorem]:
    """DeepSeek miniF2F rows: ``name``, ``split``, ``header``, ``formal_statement``, ``informal_prefix``."""
    theorems = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            raise BenchmarkError(f"{path}:{number}: not valid JSON ({error.msg})") from None
        # DeepSeek's field names, and the aliases other miniF2F-lean4 exports use.
        name = row.get("name") or row.get("id") or row.get("problem_name")
        statement = row.get("formal_statement") or row.get("statement")
        if not name or not statement:
            missing = [k for k, v in (("name", name), ("formal_statement", statement)) if not v]
            raise BenchmarkError(f"{path}:{number}: missing field(s) {', '.join(missing)}")
        informal = row.get("informal_prefix") or row.get("informal_statement")
        if informal:
            informal = re.sub(r"^/--\s*|\s*-/\s*$", "", informal.strip()).strip()
        theorems.append(
            Theorem(
                name=name,
                statement=statement,
                header=row.get("header", ""),
                language="lean4",
                informal_statement=informal or None,
                informal_proof=row.get("informal_proof"),
                split=row.get("split"),
                source=f"{path}:{number}",
            )
        )
    return theorems


_DECL_START = re.compile(
    r"^(?:@\[[^\]]*\]\s*)?(?:private\s+|protected\s+|noncomputable\s+)*"
    r"(?:theorem|lemma|example|def|abbrev|instance|structure|inductive|namespace|section|end)\b",
    re.MULTILINE,
)
# A declaration whose whole proof is `sorry` or `by sorry`.
_SORRY_PROOF = re.compile(r"^(?P<statement>(?:theorem|lemma|example)\b[\s\S]*?:=)\s*(?:by\s+)?sorry\s*$")


@LOADERS.register("lean")
def load_lean_file(path: Path) -> list[Theorem]:
    """Every theorem proved by ``sorry`` is a target; the text before the first declaration is the header."""
    text = path.read_text(encoding="utf-8")
    starts = [m.start() for m in _DECL_START.finditer(text)]
    header = text[: starts[0]] if starts else text
    theorems = []
    for begin, end in zip(starts, [*starts[1:], len(text)]):
        match = _SORRY_PROOF.match(text[begin:end].strip())
        if match is None:
            continue
        statement = match.group("statement") + " by\n"
        words = statement.split(None, 2)
        name = f"example_{len(theorems)}" if words[0] == "example" else re.split(r"[\s({\[:]", words[1])[0]
        line = text.count("\n", 0, begin) + 1
        theorems.append(Theorem(name, statement, header=header, source=f"{path}:{line}"))
    if not theorems:
        raise BenchmarkError(f"{path}: no theorem proved by `sorry`; mark each target's proof `by sorry`")
    return theorems


def load_lean_folder(folder: Path) -> list[Theorem]:
    """One theorem (or more) per `.lean` file; a `test` / `valid` folder on the path gives the split."""
    theorems = []
    for path in sorted(folder.rglob("*.lean")):
        if ".lake" in path.parts:
            continue
        try:
            found = load_lean_file(path)
        except BenchmarkError:
            continue  # a file with nothing to prove (a shared preamble, a finished proof)
        split = next(
            (p.lower() for p in reversed(path.relative_to(folder).parts[:-1]) if p.lower() in ("test", "valid")), None
        )
        theorems.extend(dataclasses.replace(t, split=split) for t in found)
    if not theorems:
        raise BenchmarkError(f"{folder}: no `.lean` file with a theorem proved by `sorry`")
    return theorems


_THEORY_IMPORTS = re.compile(r"\bimports\b(?P<imports>.*?)\bbegin\b", re.DOTALL)
_ISABELLE_PROOF_START = ("sorry", "proof", "by ", "by(", "apply", "using", "unfolding", "oops")


def parse_thy(text: str) -> tuple[str, str, list[str]]:
    """(theorem name, statement text, imports) of a one-theorem miniF2F theory file."""
    found = _THEORY_IMPORTS.search(text)
    imports = [i.strip('"') for i in found.group("imports").split()] if found else ["Complex_Main"]
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.lstrip().startswith(("theorem", "lemma"))), None)
    if start is None:
        raise BenchmarkError("no theorem in the theory file")
    statement = [lines[start]]
    for line in lines[start + 1 :]:
        if line.strip().startswith(_ISABELLE_PROOF_START) or line.strip() == "end":
            break
        statement.append(line)
    name = re.split(r"[\s:\[]", lines[start].split(None, 1)[1].strip())[0]
    # A proof can start on the statement's last line (`... = (3::nat)" sorry`): cut it off by Isabelle's tokens.
    return name, statement_of("\n".join(statement)), imports


def _informal(path: Path) -> dict[str, str]:
    """miniF2F's informal/<split>/<name>.json beside isabelle/<split>/<name>.thy, when present."""
    candidate = path.parent.parent.parent / "informal" / path.parent.name / f"{path.stem}.json"
    return json.loads(candidate.read_text()) if candidate.is_file() else {}


def load_isabelle_folder(folder: Path) -> list[Theorem]:
    """Every `.thy` file (one theorem each), joined with its informal statement and proof by name."""
    theorems = []
    for path in sorted(folder.rglob("*.thy")):
        name, statement, imports = parse_thy(path.read_text(encoding="utf-8"))
        informal = _informal(path)
        split = path.parent.name if path.parent.name in ("test", "valid") else None
        theorems.append(
            Theorem(
                name=name,
                statement=statement,
                header=" ".join(imports),
                language="isabelle",
                informal_statement=informal.get("informal_statement"),
                informal_proof=informal.get("informal_proof"),
                split=split,
                source=str(path),
            )
        )
    return theorems


@LOADERS.register("isabelle-jsonl")
def load_isabelle_jsonl(path: Path) -> list[Theorem]:
    """Rows with ``problem_name``, ``informal_statement``, ``informal_proof``, ``formal_statement``, ``imports``."""
    theorems = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        row = json.loads(line)
        missing = [k for k in ("problem_name", "formal_statement") if not row.get(k)]
        if missing:
            raise BenchmarkError(f"{path}:{number}: missing field(s) {', '.join(missing)}")
        imports = row.get("imports") or ["Complex_Main"]
        theorems.append(
            Theorem(
                name=row["problem_name"],
                statement=row["formal_statement"].rstrip(),
                header=" ".join(imports if isinstance(imports, list) else imports.split()),
                language="isabelle",
                informal_statement=row.get("informal_statement"),
                informal_proof=row.get("informal_proof"),
                split=row.get("split"),
                source=f"{path}:{number}",
            )
        )
    return theorems


def _folder_digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted([*folder.rglob("*.lean"), *folder.rglob("*.thy")]):
        digest.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def resolve(spec: str, language: str = "lean4") -> tuple[Path, str | None, str]:
    """The file behind a benchmark name or path, the split it selects, and its format."""
    if language == "isabelle" and spec in ("minif2f-test", "minif2f-valid", "minif2f"):
        root = data_home() / "minif2f"
        split = None if spec == "minif2f" else spec.removeprefix("minif2f-")
        folder = root / "isabelle" / split if split else root / "isabelle"
        if not folder.is_dir():
            raise BenchmarkError(
                f"miniF2F for Isabelle is not in the local cache ({folder}). Run `prover data get minif2f-isabelle`, "
                "or pass the folder: --benchmark PATH/isabelle/valid"
            )
        return folder, None, "isabelle-folder"
    if spec in ("minif2f-test", "minif2f-valid", "minif2f"):
        path = data_home() / MINIF2F_FILE
        if not path.is_file():
            raise BenchmarkError(
                f"miniF2F is not in the local cache ({path}). Run `prover data get minif2f`, "
                "or pass the file itself: --benchmark PATH/minif2f.jsonl"
            )
        split = None if spec == "minif2f" else spec.removeprefix("minif2f-")
        return path, split, "jsonl"
    path = Path(spec)
    if path.is_dir():
        return path, None, "isabelle-folder" if any(path.rglob("*.thy")) else "folder"
    if path.suffix == ".jsonl" and language == "isabelle":
        return path, None, "isabelle-jsonl"
    if not path.is_file():
        raise BenchmarkError(
            f"Benchmark {spec!r} is neither minif2f-test, minif2f-valid, an existing .jsonl or .lean file, "
            "nor a folder of .lean files."
        )
    fmt = path.suffix.lstrip(".")
    LOADERS.get(fmt)
    return path, None, fmt


def parse_shard(shard: str) -> tuple[int, int]:
    """``I/N`` with 0 <= I < N."""
    try:
        index, count = (int(part) for part in shard.split("/"))
    except ValueError:
        raise BenchmarkError(f"--shard {shard!r} must be I/N, e.g. 0/4") from None
    if not 0 <= index < count:
        raise BenchmarkError(f"--shard {shard!r}: I must be in 0..N-1")
    return index, count


def shard_of(name: str, count: int) -> int:
    """A stable shard for a theorem name: the same on every machine and Python run."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big") % count


def _identifier(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]+", "_", text).strip("_")


def _source_file(theorem: Theorem, root: Path) -> tuple[str, str]:
    """The theorem's file relative to ``root`` (posix form), and its line, from ``source``."""
    source = theorem.source or ""
    file, _, line = source.rpartition(":") if re.search(r":\d+$", source) else (source, "", "")
    if not file:
        return "", line
    path = Path(file)
    return (path.relative_to(root).as_posix() if path.is_relative_to(root) else path.name), line


def _qualifiers(theorem: Theorem, root: Path) -> list[str]:
    """Ever more precise places of a theorem: its split, then its file, then its line."""
    file, line = _source_file(theorem, root)
    split = theorem.split or ""
    if theorem.statement.lstrip().startswith("example"):  # its id must stay a Lean identifier
        stem = file.removesuffix(".lean")
        forms = [stem or split, f"{stem or split}_{line}"]
    else:
        forms = [split, f"{split}:{file}".strip(":"), f"{split}:{file}:{line}".strip(":")]
    return [f for f in dict.fromkeys(forms) if f]


def unique_ids(theorems: list[Theorem], root: Path) -> list[Theorem]:
    """Each theorem's ``name`` made a unique, stable id: the name alone where it is unique, else the
    name with the fewest of split, file (relative to ``root``) and line that tell it apart.

    An ``example`` has no name of its own and is checked under its id, so its id stays a Lean
    identifier (``example_0_test_algebra``); any other id reads ``name@split:file``. Ids are
    valid Unicode whatever the benchmark file holds (a lone surrogate is escaped).
    """
    names = [t.name.encode("utf-8", "backslashreplace").decode("utf-8") for t in theorems]
    counts = Counter(names)
    groups: dict[str, list[int]] = {}
    for index, name in enumerate(names):
        groups.setdefault(name, []).append(index)
    ids = list(names)
    for name, members in groups.items():
        if counts[name] < 2:
            continue
        places = [_qualifiers(theorems[i], root) for i in members]
        depth = max(len(p) for p in places)
        level = next(
            (lv for lv in range(depth) if len({p[min(lv, len(p) - 1)] for p in places}) == len(members)), depth - 1
        )
        for index, place in zip(members, places):
            where = place[min(level, len(place) - 1)] if place else ""
            is_example = theorems[index].statement.lstrip().startswith("example")
            ids[index] = f"{name}_{_identifier(where)}" if is_example else f"{name}@{where}"
    seen: Counter[str] = Counter()
    for index, theorem_id in enumerate(ids):  # the same name twice at one place: number them
        seen[theorem_id] += 1
        if seen[theorem_id] > 1:
            sep = "_" if theorems[index].statement.lstrip().startswith("example") else "#"
            ids[index] = f"{theorem_id}{sep}{seen[theorem_id]}"
    return [t if t.name == i else dataclasses.replace(t, name=i) for t, i in zip(theorems, ids)]


def _selected(theorem: Theorem, wanted: set[str]) -> bool:
    """``--names`` matches an id, or the theorem's own name before its ``@place``."""
    return theorem.name in wanted or theorem.name.split("@", 1)[0] in wanted


def load_benchmark(
    spec: str,
    *,
    names: tuple[str, ...] = (),
    limit: int | None = None,
    shard: str | None = None,
    language: str = "lean4",
) -> Benchmark:
    """Theorems of a benchmark, filtered by split, ``names``, ``shard`` and ``limit``, in file order."""
    path, split, fmt = resolve(spec, language)
    if fmt == "folder":
        theorems = load_lean_folder(path)
    elif fmt == "isabelle-folder":
        theorems = load_isabelle_folder(path)
    else:
        theorems = LOADERS.get(fmt)(path)
    theorems = unique_ids(theorems, path if path.is_dir() else path.parent)
    if split is not None:
        theorems = [t for t in theorems if t.split == split]
    if shard is not None:
        index, count = parse_shard(shard)
        theorems = [t for t in theorems if shard_of(t.name, count) == index]
    if names:
        unknown = [n for n in names if not any(_selected(t, {n}) for t in theorems)]
        if unknown:
            raise BenchmarkError(f"{spec}: no theorem named {', '.join(unknown)}")
        wanted = set(names)
        theorems = [t for t in theorems if _selected(t, wanted)]
    if limit is not None:
        theorems = theorems[:limit]
    checksum = _folder_digest(path) if fmt.endswith("folder") else _sha256(path)
    return Benchmark(spec, theorems, str(path), checksum)
