"""What `prover serve --check` lets into Lean, and what each failure answers.

With ``--check`` a client's text becomes Lean commands: the ``[CTX]`` file's preamble
is loaded as a header and the goal is restated as a theorem. Both are untrusted:

- the header keeps its code lines only (comments and doc comments are dropped, read by
  the same lexer as the Lean verifier's), and each must be an ``import``, ``open`` or
  allowed ``set_option`` line (`lean_env.screen.screen_header`), else 400 naming the line;
- both are bounded in size (16 KiB of header, 32 KiB of goal), so screening stays short;
- the goal, as restated, goes through the verifier's screen (`lean_env.screen.screen`):
  a command keyword, ``#eval``, meta names or ``sorry`` anywhere in it is a 400;
- headers kept loaded in the Lean processes are a bounded LRU (``--max-headers``): when
  one is evicted, the idle processes holding it are restarted, which frees its memory.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from typing import Any

from lean_env.lexer import Kind, tokenize
from lean_env.process import HeaderError, ReplFailure
from lean_env.screen import screen, screen_header
from lean_env.verify import StatementError
from prover.server_openai import PromptError
from prover.suggest import GOAL_THEOREM, GoalFormatError
from search import Theorem

logger = logging.getLogger(__name__)

# Screening runs on the event loop (the screen's memo is not thread-safe); these bound its time there.
MAX_HEADER_CHARS = 16_384
"""A file's preamble (imports, opens, options): real ones are a few lines."""
MAX_GOAL_CHARS = 32_768


class CheckProblem(ValueError):
    """Client text that may not reach Lean; the message names the part and the reason."""


CLIENT_ERRORS: tuple[type[Exception], ...] = (
    CheckProblem,
    PromptError,
    GoalFormatError,
    HeaderError,
    StatementError,
    ReplFailure,
)
"""Errors a request's own text (or Lean on it) causes: a 4xx or 503 with the message, never a server fault."""


def problem_status(error: BaseException) -> tuple[int, str]:
    """The HTTP status and message for an error raised while answering a request."""
    if isinstance(error, CheckProblem | PromptError | GoalFormatError):
        return 400, str(error)
    if isinstance(error, HeaderError):
        return 400, f"the [CTX] header does not elaborate in Lean: {error}"
    if isinstance(error, StatementError):
        return 400, f"the goal does not elaborate as a theorem in Lean: {error}"
    if isinstance(error, ReplFailure):
        return 503, f"Lean failed while checking: {error}"
    return 500, f"internal error ({type(error).__name__}): {error}"


def _doc_comment_end(text: str, start: int) -> int:
    """Where the doc comment opened at ``start`` ends (after its ``-/``), with Lean's nesting of ``/- -/``."""
    depth, at = 1, start + 3
    while depth and at < len(text):
        if text.startswith("/-", at):
            depth, at = depth + 1, at + 2
        elif text.startswith("-/", at):
            depth, at = depth - 1, at + 2
        else:
            at += 1
    if depth:
        raise CheckProblem("the [CTX] header has a doc comment that never ends")
    return at


def clean_header(preamble: str) -> str:
    """The code lines of a file's preamble, comments and doc comments dropped, as the header to load.

    One lexer pass: a doc comment's tokens (the lexer reads its inside as code) are skipped up to
    its end; whatever is misread there is dropped, never sent.
    """
    tokens = tokenize(preamble)
    if tokens and tokens[-1].kind is Kind.UNSURE:
        raise CheckProblem(f"the [CTX] header cannot be read safely: {tokens[-1].text[:80]!r}")
    lines: dict[int, tuple[int, int]] = {}
    line = seen = skip_to = 0
    for token in tokens:  # in order: count the newlines between consecutive tokens only (linear)
        if token.start < skip_to:
            continue
        if token.kind is Kind.DOC_COMMENT:
            skip_to = _doc_comment_end(preamble, token.start)
            continue
        line += preamble.count("\n", seen, token.start)
        seen = token.start
        first, _ = lines.get(line, (token.start, 0))
        lines[line] = (first, token.start + len(token.text))
    return "".join(preamble[start:end] + "\n" for start, end in lines.values()) + "\n"


def screened(theorem: Theorem) -> Theorem:
    """The theorem with its header reduced to code lines; CheckProblem when either part is refused."""
    for part, text, limit in (
        ("[CTX] header", theorem.header, MAX_HEADER_CHARS),
        ("goal", theorem.statement, MAX_GOAL_CHARS),
    ):
        if len(text) > limit:
            raise CheckProblem(f"the {part} is over {limit} characters: too long to check")
    header = clean_header(theorem.header)
    refusal = screen_header(header)
    if refusal is not None:
        raise CheckProblem(f"[CTX] header refused: {refusal.reason}: {refusal.token!r}")
    goal = theorem.statement.strip().removeprefix(f"theorem {GOAL_THEOREM}").removesuffix(":= by")
    if "--" in goal or "/-" in goal:  # a goal Lean printed has no comments; one could hide the restated `:= by`
        raise CheckProblem("goal refused: a goal as Lean prints it has no comments (`--`, `/-`)")
    refusal = screen(goal)
    if refusal is not None:
        raise CheckProblem(f"goal refused: {refusal.reason}: {refusal.token!r}")
    return Theorem(theorem.name, theorem.statement, header=header)


class HeaderCache:
    """The headers the server keeps loaded, least recently used first, at most ``limit`` of them."""

    def __init__(self, limit: int, provider: Any) -> None:
        if limit < 1:
            raise ValueError("--max-headers must be at least 1")
        self.limit = limit
        self.provider = provider
        self.restarts = 0
        self._recent: OrderedDict[str, None] = OrderedDict()
        self._evicted: set[str] = set()

    async def admit(self, theorem: Theorem) -> Theorem:
        """The screened theorem, its header counted as used now (evicting the oldest past the limit)."""
        checked = screened(theorem)
        self._recent[checked.header] = None
        self._recent.move_to_end(checked.header)
        while len(self._recent) > self.limit:
            old, _ = self._recent.popitem(last=False)
            self._evicted.add(old)
        self._evicted.discard(checked.header)
        await self._release()
        return checked

    async def _release(self) -> None:
        """Restart idle processes that hold an evicted header: only a new process frees a header's memory."""
        pool = getattr(self.provider, "pool", None)
        if pool is None or not self._evicted:
            return
        for process in pool.processes:
            if process.sessions == 0 and any(process.has_header(h) for h in self._evicted):
                logger.info("restarting Lean process %d to drop evicted headers", process.index)
                await process.kill()
                self.restarts += 1
        self._evicted = {h for h in self._evicted if any(p.has_header(h) for p in pool.processes)}
