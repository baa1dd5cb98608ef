"""The Lean REPL's wire format as typed models (leanprover-community/repl).

Requests are JSON objects written to the REPL's stdin, each followed by a blank
line; each reply is a JSON object, often pretty-printed over several lines,
followed by a blank line. Field names mirror the wire (camelCase aliases).
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError


class _Wire(BaseModel):
    model_config = ConfigDict(populate_by_name=True, frozen=True, extra="forbid")

    def to_wire(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True)


class Pos(_Wire):
    line: int
    column: int


class Message(_Wire):
    severity: Literal["info", "warning", "error", "trace"]
    pos: Pos
    end_pos: Pos | None = Field(default=None, alias="endPos")
    data: str


class Sorry(_Wire):
    proof_state: int | None = Field(default=None, alias="proofState")
    pos: Pos | None = None  # absent in sorries reported by a proof step
    end_pos: Pos | None = Field(default=None, alias="endPos")
    goal: str


class TacticInfo(_Wire):
    tactic: str
    proof_state: int = Field(alias="proofState")
    pos: Pos
    end_pos: Pos = Field(alias="endPos")
    goals: str
    used_constants: list[str] | None = Field(default=None, alias="usedConstants")


# -- requests ---------------------------------------------------------------------------------


class Command(_Wire):
    """Elaborate Lean commands; without ``env`` a fresh environment starts (imports allowed)."""

    cmd: str
    env: int | None = None
    all_tactics: bool | None = Field(default=None, alias="allTactics")
    root_goals: bool | None = Field(default=None, alias="rootGoals")
    infotree: str | None = None


class FileCommand(_Wire):
    path: str
    env: int | None = None
    all_tactics: bool | None = Field(default=None, alias="allTactics")


class ProofStep(_Wire):
    """Run one tactic on a proof state."""

    tactic: str
    proof_state: int = Field(alias="proofState")


class PickleEnv(_Wire):
    pickle_to: str = Field(alias="pickleTo")
    env: int


class PickleProofState(_Wire):
    pickle_to: str = Field(alias="pickleTo")
    proof_state: int = Field(alias="proofState")


class UnpickleEnv(_Wire):
    unpickle_env_from: str = Field(alias="unpickleEnvFrom")


class UnpickleProofState(_Wire):
    unpickle_proof_state_from: str = Field(alias="unpickleProofStateFrom")
    env: int | None = None


Request = Command | FileCommand | ProofStep | PickleEnv | PickleProofState | UnpickleEnv | UnpickleProofState

# -- replies ----------------------------------------------------------------------------------


class CommandReply(_Wire):
    env: int
    messages: list[Message] | None = None
    sorries: list[Sorry] | None = None
    tactics: list[TacticInfo] | None = None
    infotree: Any = None

    def errors(self) -> list[Message]:
        return [m for m in self.messages or [] if m.severity == "error"]


class ProofStepReply(_Wire):
    proof_state: int = Field(alias="proofState")
    goals: list[str]
    messages: list[Message] | None = None
    sorries: list[Sorry] | None = None
    traces: list[str] | None = None
    proof_status: str | None = Field(default=None, alias="proofStatus")

    def errors(self) -> list[Message]:
        return [m for m in self.messages or [] if m.severity == "error"]


class ErrorReply(_Wire):
    """``{"message": "Lean error:\\n..."}``: the request itself failed (e.g. a tactic that does not parse)."""

    message: str


Reply = CommandReply | ProofStepReply | ErrorReply

_REQUESTS: tuple[type[_Wire], ...] = (
    ProofStep,
    Command,
    FileCommand,
    PickleProofState,
    PickleEnv,
    UnpickleEnv,
    UnpickleProofState,
)
_REPLIES: tuple[type[_Wire], ...] = (ErrorReply, ProofStepReply, CommandReply)


class ProtocolError(ValueError):
    """Text from the REPL that is not one of its reply forms."""


class UnencodableRequest(ValueError):
    """A request whose text cannot be written to the REPL (a lone surrogate): it is never sent."""


def _parse(data: Any, kinds: tuple[type[_Wire], ...], what: str) -> Any:
    if not isinstance(data, dict):
        raise ProtocolError(f"expected a JSON object for a {what}, got {type(data).__name__}")
    problems = []
    for kind in kinds:
        try:
            return kind.model_validate(data)
        except ValidationError as error:
            problems.append(f"{kind.__name__}: {error.errors()[0]['msg']}")
    raise ProtocolError(f"not a REPL {what} ({'; '.join(problems)}): {json.dumps(data)[:300]}")


def parse_request(data: Any) -> Request:
    return _parse(data, _REQUESTS, "request")


def parse_reply(data: Any) -> Reply:
    return _parse(data, _REPLIES, "reply")


def encode(request: Request) -> bytes:
    """A request as written to stdin: one JSON line and a blank line.

    Model text is hostile: a string holding a lone surrogate (which a JSON ``"\\ud800"`` from a model
    server decodes to) has no UTF-8 form; it raises ``UnencodableRequest`` before anything is written.
    """
    text = json.dumps(request.to_wire(), ensure_ascii=False) + "\n\n"
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise UnencodableRequest(
            f"the request holds text that is not valid Unicode ({error.reason} at character {error.start}); "
            "it was not sent to Lean"
        ) from None


def decode(text: str) -> Reply:
    """One reply's text (everything up to the blank line)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ProtocolError(f"the REPL printed something that is not JSON ({error.msg}): {text[:300]!r}") from None
    return parse_reply(data)
