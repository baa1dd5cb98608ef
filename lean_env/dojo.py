"""`--env leandojo`: the LeanDojo API (lean-dojo 4.x) behind the `ProofEnv` contract.

LeanDojo is synchronous; every call runs in a worker thread so the event loop
keeps serving the other searches. One `Dojo` per theorem, entered at `start`
and exited at `close`. The repository must have been traced by LeanDojo first.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lean_env.repl_env import ReplPool
from lean_env.screen import screened_outcome
from lean_env.verifier import ReplVerifier
from lean_env.verify import plan_check, proof_body
from search import Failed, GaveUp, Goals, Outcome, Proved, Theorem, TimedOut, Verdict

logger = logging.getLogger(__name__)

INSTALL_HINT = "LeanDojo is not installed: pip install 'llemma-prover[lean]'"


def import_lean_dojo() -> Any:
    try:
        import lean_dojo
    except ImportError as error:
        raise ImportError(f"{INSTALL_HINT} ({error})") from None
    return lean_dojo


class DojoStartError(RuntimeError):
    """LeanDojo could not enter the theorem (DojoInitError, or a crash at start)."""


@dataclass(frozen=True, slots=True)
class DojoSource:
    """Where LeanDojo finds the theorems: a git URL or local path, a commit, and a file.

    ``file_path`` may contain ``{split}`` / ``{Split}`` (e.g. ``MiniF2F/{Split}.lean``),
    filled from each theorem's split.
    """

    repo: str
    commit: str
    file_path: str

    def file_for(self, theorem: Theorem) -> Path:
        split = theorem.split or ""
        return Path(self.file_path.format(split=split, Split=split.capitalize()))


class LeanDojoEnv:
    """One theorem in one Dojo; every earlier state stays usable (tree search)."""

    concurrent_apply = False  # one Lean process per Dojo

    def __init__(
        self,
        source: DojoSource,
        *,
        tactic_timeout: float = 600,
        verifier: ReplVerifier | None = None,
        lean_dojo: Any = None,
    ) -> None:
        self.source = source
        self.tactic_timeout = tactic_timeout
        self.verifier = verifier
        self._dojo_module = lean_dojo or import_lean_dojo()
        self._dojo: Any = None
        self._theorem: Any = None

    def _dojo_theorem(self, theorem: Theorem) -> Any:
        ld = self._dojo_module
        repo = ld.LeanGitRepo(self.source.repo, self.source.commit)
        return ld.Theorem(repo, self.source.file_for(theorem), theorem.name)

    async def start(self, theorem: Theorem) -> Goals:
        await self.close()
        ld = self._dojo_module
        self._theorem = self._dojo_theorem(theorem)
        dojo = ld.Dojo(self._theorem, timeout=max(1, int(self.tactic_timeout)))
        try:
            self._dojo, state = await asyncio.to_thread(dojo.__enter__)
        except (ld.DojoInitError, ld.DojoCrashError) as error:
            raise DojoStartError(f"LeanDojo could not start {theorem.name}: {type(error).__name__}: {error}") from None
        return Goals(state.pp, state.num_goals, handle=state)

    async def apply(self, goals: Goals, tactic: str, timeout: float) -> Outcome:
        assert self._dojo is not None, "start() first"
        refused = screened_outcome(tactic)
        if refused is not None:
            return refused
        ld = self._dojo_module
        try:
            result = await asyncio.to_thread(self._dojo.run_tac, goals.handle, tactic)
        except ld.DojoTacticTimeoutError:
            return TimedOut(float(self._dojo.timeout))
        except ld.DojoCrashError as error:
            oom = " (out of memory)" if getattr(error, "is_out_of_memory", False) else ""
            raise DojoStartError(f"the Dojo crashed{oom}: {error}") from None
        return self._outcome(result)

    def _outcome(self, result: Any) -> Outcome:
        ld = self._dojo_module
        if isinstance(result, ld.TacticState):
            return Goals(result.pp, result.num_goals, handle=result)
        if isinstance(result, ld.ProofFinished):
            return Proved(getattr(result, "message", "") or "")
        if isinstance(result, ld.ProofGivenUp):
            return GaveUp("LeanDojo: the proof was given up (sorry)")
        if isinstance(result, ld.LeanError):
            return Failed(result.error)
        return Failed(f"unexpected LeanDojo result {result!r}")

    async def verify(self, theorem: Theorem, proof: Sequence[str] | str) -> Verdict:
        if self.verifier is not None:
            return await self.verifier.verify(theorem, proof)
        plan = plan_check(theorem, proof)
        if isinstance(plan, Verdict):
            return plan
        return await self._check_with_dojo(theorem, proof_body(theorem, proof))

    async def _check_with_dojo(self, theorem: Theorem, body: str) -> Verdict:
        # LeanDojo recompiles the file with the proof in place and rejects errors and sorry
        # warnings; it does not audit axioms, which the verdict says.
        method = "lean_dojo.check_proof (file recompiled; no axiom audit)"
        check_proof = getattr(self._dojo_module, "check_proof", None)
        if check_proof is None:
            from lean_dojo.interaction.dojo import check_proof
        ok = await asyncio.to_thread(check_proof, self._dojo_theorem(theorem), "by\n" + body)
        return Verdict(bool(ok), "" if ok else "the file did not compile with the proof", method, "leandojo")

    async def close(self) -> None:
        dojo, self._dojo = self._dojo, None
        if dojo is not None:
            with contextlib.suppress(Exception):  # the Dojo kills its own Lean process on exit
                await asyncio.to_thread(dojo.__exit__, None, None, None)


class LeanDojoProvider:
    """The `leandojo` environment: a fresh `LeanDojoEnv` per theorem."""

    language = "lean4"

    def __init__(
        self,
        source: DojoSource,
        *,
        tactic_timeout: float,
        verifier_pool: ReplPool | None = None,
        verifier: ReplVerifier | None = None,
    ) -> None:
        self.source = source
        self.tactic_timeout = tactic_timeout
        self.verifier_pool = verifier_pool
        self.verifier = verifier or (ReplVerifier(verifier_pool.pick) if verifier_pool is not None else None)
        self._module = import_lean_dojo()

    @contextlib.asynccontextmanager
    async def session(self) -> AsyncIterator[LeanDojoEnv]:
        env = LeanDojoEnv(
            self.source,
            tactic_timeout=self.tactic_timeout,
            verifier=self.verifier,
            lean_dojo=self._module,
        )
        try:
            yield env
        finally:
            await env.close()

    async def close(self) -> None:
        if self.verifier_pool is not None:
            await self.verifier_pool.close()
