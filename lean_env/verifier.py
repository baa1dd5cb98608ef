"""The Lean verifier: the ``repl`` level over REPL processes, then the ``kernel`` level when asked.

One object per provider, shared by every search: it remembers the printed type
of each benchmark statement (elaborated alone in the trusted header environment,
once per theorem) and runs each check as two requests (the theorem with its proof
on a fresh header environment, then the audit on the environment that returned).
A process lost during a check (crash, timeout, or a restart by a neighbouring
search) never turns into a rejection: the check is run again, and when it still
cannot run, ``CheckUnavailable`` ends the attempt as an ``error``.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Literal

from lean_env.kernel import KernelChecker
from lean_env.process import NEIGHBOUR_RESTARTS, ReplFailure, ReplProcess, StaleState, request_on_header
from lean_env.protocol import Command, CommandReply, Reply
from lean_env.verify import (
    DEFAULT_AXIOMS,
    METHOD,
    CheckPlan,
    StatementError,
    diagnostics,
    judge_audit,
    judge_check,
    kept_messages,
    plan_check,
    target_command,
    target_type,
)
from search import Theorem, Verdict

logger = logging.getLogger(__name__)

Level = Literal["repl", "kernel"]
LEVELS: tuple[str, ...] = ("repl", "kernel")
CRASH_RETRIES = 2  # a check that loses its process twice is an error, not a verdict

TARGET_CACHE = 4096


class CheckUnavailable(RuntimeError):
    """The check could not run to a verdict (the prover process kept failing); not a rejection."""


class ReplVerifier:
    """Checks whole proofs at the configured level; ``pick`` chooses the REPL process for a header."""

    def __init__(
        self,
        pick: Callable[[str], ReplProcess],
        *,
        allowed_axioms: Sequence[str] = DEFAULT_AXIOMS,
        level: Level = "repl",
        kernel: KernelChecker | None = None,
    ) -> None:
        if level not in LEVELS:
            raise ValueError(f"Unknown verification level {level!r}; choose one of {', '.join(LEVELS)}.")
        if level == "kernel" and kernel is None:
            raise ValueError("the kernel level needs a kernel checker")
        self.pick = pick
        self.allowed_axioms = tuple(allowed_axioms)
        self.level = level
        self.kernel = kernel
        self._types: OrderedDict[tuple[str, str], str] = OrderedDict()

    def remember_target(self, theorem: Theorem, reply: Reply) -> None:
        """Keep the statement's printed type from a reply to ``target_command`` (the search start)."""
        printed = target_type(theorem, reply)
        if printed is not None:
            self._remember((theorem.header, theorem.statement), printed)

    def _remember(self, key: tuple[str, str], printed: str) -> None:
        self._types[key] = printed
        self._types.move_to_end(key)
        while len(self._types) > TARGET_CACHE:
            self._types.popitem(last=False)

    async def verify(self, theorem: Theorem, proof: Sequence[str] | str, process: ReplProcess | None = None) -> Verdict:
        """The verdict on ``proof``; raises ``CheckUnavailable`` when no verdict could be reached."""
        plan = plan_check(theorem, proof)
        if isinstance(plan, Verdict):
            return plan
        process = process or self.pick(theorem.header)
        expected = await self.expected_type(process, theorem)
        check, audit = await self._check(process, plan)
        problem = judge_check(check)
        found = diagnostics(plan, check)
        if problem is not None:
            return Verdict(False, problem, METHOD, "repl", kept_messages(check), found)
        assert audit is not None
        verdict = judge_audit(plan, audit, expected, self.allowed_axioms)
        verdict = Verdict(verdict.ok, verdict.message, verdict.method, verdict.level, kept_messages(check), found)
        if not verdict.ok or self.level == "repl":
            return verdict
        assert self.kernel is not None
        kernel = await self.kernel.check(theorem, plan)
        message = f"{verdict.message}; {kernel.message}"
        return Verdict(kernel.ok, message, kernel.method, "kernel", verdict.messages, found)

    async def expected_type(self, process: ReplProcess, theorem: Theorem) -> str:
        """The statement's printed type, elaborated alone on the trusted header (once per theorem)."""
        key = (theorem.header, theorem.statement)
        if key in self._types:
            self._types.move_to_end(key)
            return self._types[key]
        try:
            reply, _ = await request_on_header(process, theorem.header, target_command(theorem))
        except StaleState:
            raise CheckUnavailable("the REPL process kept restarting under other searches") from None
        printed = target_type(theorem, reply)
        if printed is None:
            detail = reply.errors()[0].data if isinstance(reply, CommandReply) and reply.errors() else reply
            raise StatementError(f"{theorem.name}: the statement does not elaborate alone: {detail}")
        self._remember(key, printed)
        return printed

    async def _check(self, process: ReplProcess, plan: CheckPlan) -> tuple[Reply, Reply | None]:
        """The check's reply and, when it elaborated cleanly, the audit's; retried when the process is lost."""
        crashes, stale = 0, 0
        while True:
            try:
                env, generation = await process.header_env(plan.theorem.header)
                timeout = process.settings.command_timeout
                check = await process.request(Command(cmd=plan.text, env=env), timeout, generation)
                if judge_check(check) is not None or not isinstance(check, CommandReply):
                    return check, None
                audit = await process.request(Command(cmd=plan.audit, env=check.env), timeout, generation)
                return check, audit
            except StaleState:
                stale += 1
                if stale >= NEIGHBOUR_RESTARTS:
                    raise CheckUnavailable("the REPL process kept restarting under other searches") from None
            except ReplFailure as error:
                crashes += 1
                logger.warning("%s: the check lost its REPL process (%s)", plan.theorem.name, error)
                if crashes >= CRASH_RETRIES:
                    raise CheckUnavailable(f"the check could not run ({crashes} tries): {error}") from None
