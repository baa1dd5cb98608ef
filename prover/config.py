"""Run configuration: one dataclass per concern, filled from YAML and overridden by flags."""

from __future__ import annotations

import dataclasses
import difflib
import json
import types
import typing
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml

from search import SearchConfig


class ConfigError(ValueError):
    """A configuration that cannot be used; the message names the field and the fix."""


MAX_NEW_TOKENS = 32768
"""Longest generation a configuration may ask for: chain-of-thought provers write up to 32k tokens."""


@dataclass(frozen=True, slots=True)
class GeneratorConfig:
    """Which model proposes tactics, and how it decodes."""

    name: str = "portfolio"
    """portfolio | hf | vllm | openai."""
    model: str | None = None
    """Hub id or local path (hf, vllm); model name sent to the server (openai)."""
    prompt: str = "llemma"
    """llemma | instruct | reprover | internlm | bfs | whole-proof | deepseek-v1.5 | deepseek-v1.5-cot |
    deepseek-v2 | goedel-v2 | kimina."""
    samples: int = 8
    """Candidates per request (beams or samples); whole proofs: samples per theorem (pass@k)."""
    decoding: Literal["beam", "sample"] = "beam"
    temperature: float = 1.0
    top_p: float = 1.0
    max_new_tokens: int = 256
    """Tokens per generation, at most 32768 (a chain-of-thought proof is thousands)."""
    tactics: tuple[str, ...] = ()
    """The portfolio generator's list; empty means the built-in list for the language."""
    endpoint: str = "http://127.0.0.1:8000/v1"
    """Base URL of an OpenAI-compatible server (openai)."""
    api: Literal["completions", "chat"] = "completions"
    api_key_env: str = "OPENAI_API_KEY"
    """Environment variable holding the bearer token for the server, if any."""
    request_timeout: float = 120.0
    retries: int = 4
    device: str = "auto"
    dtype: str = "auto"
    batch_window: float = 0.005
    """Seconds to wait for requests of other searches to join one model call."""
    max_batch: int = 64
    concurrency: int = 1
    """Model calls in flight at once (1 for a local GPU model; more for a server)."""

    def __post_init__(self) -> None:
        if self.samples < 1:
            raise ValueError(f"samples must be at least 1, not {self.samples}")
        if not 1 <= self.max_new_tokens <= MAX_NEW_TOKENS:
            raise ValueError(f"max_new_tokens must be between 1 and {MAX_NEW_TOKENS}, not {self.max_new_tokens}")
        if self.temperature < 0 or not 0 < self.top_p <= 1:
            raise ValueError(
                f"temperature must be 0 or more and top_p in (0, 1], not {self.temperature} and {self.top_p}"
            )


@dataclass(frozen=True, slots=True)
class EnvConfig:
    """Which prover checks tactics, and where it lives."""

    name: str = "lean-repl"
    """lean-repl | leandojo | isabelle."""
    lean_project: str | None = None
    """Lean project with Mathlib and the REPL (default: the one `prover setup lean` made)."""
    repl_command: str | None = None
    """Whole command starting one REPL process; any executable speaking the REPL protocol."""
    workers: int = 2
    """Prover processes in the pool."""
    search_workers: int = 1
    """Processes one search may use at once (lean-repl): its own and up to this many minus one borrowed
    from the pool while they are idle; candidates and the expansions likely next run on them at once."""
    memory_limit_mb: int | None = None
    sandbox: Literal["auto", "on", "off"] = "auto"
    """Run Lean and PISA processes under bubblewrap: auto where it works, on or refuse, off."""
    dojo_repo: str | None = None
    """LeanDojo: git URL or local path of the traced repository holding the theorems."""
    dojo_commit: str | None = None
    dojo_file: str | None = None
    """LeanDojo: the file with the theorems; ``{split}`` / ``{Split}`` are filled per theorem."""
    pisa_address: tuple[str, ...] = ()
    """HOST:PORT of PISA servers someone else runs (never started or stopped by us), one theorem at a time each."""
    isa_path: str | None = None
    """The Isabelle2022 installation PISA uses (default: ~/Isabelle2022)."""
    pisa_jar: str | None = None
    """PISA-assembly-0.1.jar, to start our own servers."""
    pisa_command: str | None = None
    """A whole command starting a PISA server on ``{port}`` (instead of the jar)."""
    pisa_ports: tuple[int, ...] = (8000,)
    """Ports of the PISA servers we start, one per parallel check (PISA has a server class per port)."""
    axioms: tuple[str, ...] = ("propext", "Classical.choice", "Quot.sound")
    """Axioms a verified proof may depend on (`--allowed-axioms`)."""
    verify: Literal["repl", "kernel"] = "repl"
    """Lean verification level: `repl` (whole-theorem check, axiom audit, statement type compared) or
    `kernel` (also replayed through Lean's kernel by SafeVerify; `prover setup lean --verifier`)."""
    kernel_command: str | None = None
    """The kernel checker's command with `{target}` and `{submission}` (.olean paths); default: the
    SafeVerify that `prover setup lean --verifier` installed in the Lean project."""
    lean_command: str | None = None
    """The command compiling a .lean file for the kernel level (default: `lake env lean` in the project)."""

    def __post_init__(self) -> None:
        if self.workers < 1:
            raise ValueError(f"workers must be at least 1, not {self.workers}")
        if not 1 <= self.search_workers <= self.workers:
            raise ValueError(
                f"search_workers {self.search_workers} must be between 1 and workers ({self.workers}): a search "
                "borrows its extra processes from the pool; raise --workers or lower --search-workers"
            )


@dataclass(frozen=True, slots=True)
class RunConfig:
    """What to prove and where results go."""

    benchmark: str = "minif2f-test"
    limit: int | None = None
    names: tuple[str, ...] = ()
    strategy: Literal["best-first", "whole-proof", "dsp", "sketch"] = "best-first"
    repair_rounds: int = 0
    """Whole proofs: rounds of error-feedback repair (a failed proof goes back to the model with Lean's
    messages, in the prompt format's conversation), each round an attempt of the record."""
    draft: bool = False
    """DSP and sketch: have the model draft the informal proof first (DSP: even when the problem has one)."""
    attempts: int = 1
    concurrency: int = 8
    """Theorems searched at once."""
    shard: str | None = None
    """I/N: the theorems whose stable name hash falls in shard I of N."""
    seed: int = 0
    """Run seed; each attempt's seed derives from it, the theorem name and the attempt number."""
    ray: str | None = None
    """Run on Ray: ``auto`` joins the running cluster, an address joins that one, ``local`` starts one."""
    out: str | None = None
    keep_graphs: bool = False
    force_resume: bool = False
    """Resume a run directory even though settings that change results differ (noted in the manifest)."""

    def __post_init__(self) -> None:
        if self.repair_rounds < 0:
            raise ValueError(f"repair_rounds must be 0 or more, not {self.repair_rounds}")


@dataclass(frozen=True, slots=True)
class SketchConfig:
    """Sketch and decompose (`--strategy sketch`): how the `have ... := by sorry` gaps of a sketch are closed."""

    gap_expansions: int = 32
    """Best-first expansions per gap (`--gap-expansions`)."""
    gap_timeout: float = 120.0
    """Seconds of search per gap (`--gap-timeout`); the theorem's `--timeout` bounds the whole attempt."""
    gap_generator: Literal["portfolio", "same", "hf", "vllm", "openai"] = "portfolio"
    """portfolio (automation tactics) | same (the sketch model behind `gap_prompt`) | hf | vllm | openai
    (another model, `gap_model`)."""
    gap_model: str | None = None
    """The gap model (hf, vllm: hub id or path; openai: the name sent to the server)."""
    gap_endpoint: str | None = None
    """OpenAI-compatible server of the gap model (default: the generator's `endpoint`)."""
    gap_prompt: str = "llemma"
    """The tactic prompt of a model gap generator."""
    gap_samples: int = 8
    """Candidates per expansion of a model gap generator."""
    gap_decoding: Literal["beam", "sample"] = "beam"
    gap_temperature: float = 1.0
    gap_tactics: tuple[str, ...] = ()
    """The portfolio's tactics for gaps; empty means the built-in Lean list."""
    draft_prompt: str | None = None
    """The prompt that drafts the informal proof under `--draft` (default: the one paired with the sketch prompt)."""

    def __post_init__(self) -> None:
        if self.gap_expansions < 1 or self.gap_samples < 1:
            raise ValueError("gap_expansions and gap_samples must be at least 1")
        if self.gap_timeout <= 0:
            raise ValueError("gap_timeout must be positive seconds")


@dataclass(frozen=True, slots=True)
class ProveConfig:
    """Everything `prover prove` needs, by concern."""

    search: SearchConfig = field(default_factory=SearchConfig)
    generator: GeneratorConfig = field(default_factory=GeneratorConfig)
    env: EnvConfig = field(default_factory=EnvConfig)
    run: RunConfig = field(default_factory=RunConfig)
    sketch: SketchConfig = field(default_factory=SketchConfig)

    def to_dict(self) -> dict[str, dict[str, Any]]:
        return {f.name: dataclasses.asdict(getattr(self, f.name)) for f in dataclasses.fields(self)}


SECTIONS: dict[str, type] = {
    "search": SearchConfig,
    "generator": GeneratorConfig,
    "env": EnvConfig,
    "run": RunConfig,
    "sketch": SketchConfig,
}


_KINDS: dict[type, str] = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}


def _shown(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def _typed(hint: Any, value: Any, where: str) -> Any:
    """``value`` checked against a field's type hint (ints widen to floats, comma strings split to tuples)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        members = [a for a in args if a is not type(None)]
        if len(members) == 1:
            return _typed(members[0], value, where)
        return value
    if origin is typing.Literal:
        if value in args:
            return value
        raise ConfigError(f"{where}: expected one of {', '.join(map(str, args))}, got {_shown(value)}")
    if hint is tuple or origin is tuple:
        item = args[0] if args else str
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
            if item is int:  # "8000,8100" from a flag
                value = [int(v) if v.lstrip("-").isdigit() else v for v in value]
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{where}: expected a list, got {_shown(value)}")
        return tuple(_typed(item, v, f"{where}[{i}]") for i, v in enumerate(value))
    if hint in _KINDS:
        if hint is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, hint) and not (hint is not bool and isinstance(value, bool)):
            return value
        raise ConfigError(f"{where}: expected {_KINDS[hint]}, got {_shown(value)}")
    return value


def _section(cls: type, base: Any, values: dict[str, Any], where: str, section: str) -> Any:
    known = [f.name for f in dataclasses.fields(cls)]
    hints = typing.get_type_hints(cls)
    updates = {}
    for key, value in values.items():
        if key not in known:
            close = difflib.get_close_matches(key, known, n=1)
            hint = f" Did you mean: {close[0]}?" if close else ""
            raise ConfigError(f"{where} [{section}]: unknown field {key!r}.{hint} Known: {', '.join(known)}.")
        updates[key] = _typed(hints[key], value, f"{where}: {section}.{key}")
    try:
        return dataclasses.replace(base, **updates)
    except (TypeError, ValueError) as error:
        raise ConfigError(f"{where} [{section}]: {error}") from None


def merge(config: ProveConfig, overrides: dict[str, dict[str, Any]], where: str) -> ProveConfig:
    """A copy of ``config`` with ``{section: {field: value}}`` applied, checking every name."""
    parts = {}
    for section, values in overrides.items():
        if section not in SECTIONS:
            close = difflib.get_close_matches(section, list(SECTIONS), n=1)
            hint = f" Did you mean: {close[0]}?" if close else ""
            raise ConfigError(f"{where}: unknown section {section!r}.{hint} Known: {', '.join(SECTIONS)}.")
        if not isinstance(values, dict):
            raise ConfigError(f"{where}: section {section!r} must be a mapping of field: value")
        parts[section] = _section(SECTIONS[section], getattr(config, section), values, where, section)
    return dataclasses.replace(config, **parts)


def shipped_configs() -> list[str]:
    """Names of the configurations shipped in prover/configs."""
    folder = resources.files("prover") / "configs"
    return sorted(p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml"))


def load_config(name_or_path: str, base: ProveConfig | None = None) -> ProveConfig:
    """A shipped configuration by name, or a YAML file, applied over ``base``."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or path.exists():
        if not path.is_file():
            raise ConfigError(f"Config file {path} does not exist.")
        text = path.read_text()
    else:
        names = shipped_configs()
        if name_or_path not in names:
            close = difflib.get_close_matches(name_or_path, names, n=1)
            hint = f" Did you mean: {close[0]}?" if close else ""
            raise ConfigError(
                f"Unknown config {name_or_path!r}.{hint} Known: {', '.join(names)}; or give a .yaml path."
            )
        text = (resources.files("prover") / "configs" / f"{name_or_path}.yaml").read_text()
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as error:
        raise ConfigError(f"{name_or_path}: not valid YAML: {error}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{name_or_path}: expected a mapping of sections ({', '.join(SECTIONS)})")
    data.pop("description", None)
    return merge(base or ProveConfig(), data, name_or_path)
