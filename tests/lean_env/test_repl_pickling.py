"""The fake REPL pickles proof states as the real one does (leanprover-community/repl, since v4.9.0).

Through real fake-REPL processes and our own client: a state pickled in one process is unpickled in
another with that process's environment of the same header and goes on where it was; the refusals and
the crash are the real REPL's.
"""

from __future__ import annotations

import json

import pytest

from lean_env.process import ReplCrashed, ReplProcess, ReplSettings
from lean_env.protocol import (
    Command,
    ErrorReply,
    PickleProofState,
    ProofStep,
    ProofStepReply,
    UnpickleProofState,
)
from lean_env.verify import target_command
from search import Theorem
from tests.lean_env.conftest import HEADER, SCRIPT, T1, FakeRepl

# Only the state made by exactly `subst h` is closed by `done`: a state that forgot its path would not be.
PATH_SCRIPT = {**SCRIPT, "paths": {json.dumps(["subst h"]): {"done": []}}}


@pytest.fixture
async def processes(tmp_path):
    fake = FakeRepl(tmp_path, script=PATH_SCRIPT)
    settings = ReplSettings(command=fake.argv, command_timeout=30)
    pair = (ReplProcess(settings, 0), ReplProcess(settings, 1))
    yield fake, pair
    for process in pair:
        await process.close()


async def made_state(process: ReplProcess) -> int:
    """The state after `subst h` on t1, in ``process``."""
    env, generation = await process.header_env(HEADER)
    theorem = Theorem("t1", T1 + "\n", header=HEADER)
    reply = await process.request(Command(cmd=target_command(theorem), env=env), 10, generation)
    root = reply.sorries[0].proof_state
    step = await process.request(ProofStep(tactic="subst h", proof_state=root), 10, generation)
    assert isinstance(step, ProofStepReply) and step.goals == ["⊢ 2 + 2 = 4"]
    return step.proof_state


async def test_a_state_pickled_in_one_process_goes_on_in_another(processes, tmp_path):
    fake, (first, second) = processes
    state = await made_state(first)
    file = tmp_path / "state.olean"
    pickled = await first.request(PickleProofState(pickle_to=str(file), proof_state=state), 10)
    assert isinstance(pickled, ProofStepReply) and pickled.goals == ["⊢ 2 + 2 = 4"]
    assert pickled.proof_state != state and file.exists()  # the REPL answers the state under a new id
    env, _ = await second.header_env(HEADER)
    loads = len(fake.header_loads())
    unpickled = await second.request(UnpickleProofState(unpickle_proof_state_from=str(file), env=env), 10)
    assert isinstance(unpickled, ProofStepReply) and unpickled.goals == ["⊢ 2 + 2 = 4"]
    assert len(fake.header_loads()) == loads  # with an environment of the header, nothing is imported again
    done = await second.request(ProofStep(tactic="done", proof_state=unpickled.proof_state), 10)
    assert isinstance(done, ProofStepReply) and done.goals == [] and done.proof_status == "Completed"


async def test_without_an_environment_the_imports_are_loaded_again(processes, tmp_path):
    fake, (first, second) = processes
    file = tmp_path / "state.olean"
    await first.request(PickleProofState(pickle_to=str(file), proof_state=await made_state(first)), 10)
    loads = len(fake.header_loads())
    unpickled = await second.request(UnpickleProofState(unpickle_proof_state_from=str(file)), 10)
    assert isinstance(unpickled, ProofStepReply) and unpickled.goals == ["⊢ 2 + 2 = 4"]
    assert len(fake.header_loads()) == loads + 1


async def test_unknown_ids_are_refused_as_the_real_repl_refuses_them(processes, tmp_path):
    _, (first, second) = processes
    file = tmp_path / "state.olean"
    unknown_state = await first.request(PickleProofState(pickle_to=str(file), proof_state=99), 10)
    assert unknown_state == ErrorReply(message="Unknown proof State.")
    await first.request(PickleProofState(pickle_to=str(file), proof_state=await made_state(first)), 10)
    unknown_env = await second.request(UnpickleProofState(unpickle_proof_state_from=str(file), env=7), 10)
    assert unknown_env == ErrorReply(message="Unknown environment.")


async def test_a_state_unpickled_into_another_header_knows_nothing_of_it(processes, tmp_path):
    _, (first, second) = processes
    file = tmp_path / "state.olean"
    await first.request(PickleProofState(pickle_to=str(file), proof_state=await made_state(first)), 10)
    env, _ = await second.header_env("import Lean\n\n")
    unpickled = await second.request(UnpickleProofState(unpickle_proof_state_from=str(file), env=env), 10)
    assert isinstance(unpickled, ProofStepReply)
    step = await second.request(ProofStep(tactic="done", proof_state=unpickled.proof_state), 10)
    assert isinstance(step, ErrorReply) and "unknown constant" in step.message


async def test_a_file_that_cannot_be_read_ends_the_process(processes, tmp_path):
    _, (first, _) = processes
    await first.header_env(HEADER)
    with pytest.raises(ReplCrashed, match="uncaught exception"):
        await first.request(UnpickleProofState(unpickle_proof_state_from=str(tmp_path / "missing.olean")), 10)
    assert first.pid is None  # killed and reaped; the next request starts a new one
