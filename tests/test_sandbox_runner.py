"""service/sandbox.py: the workers' sandbox compiles its code snippets once, and is the
SDK's sandbox in every other respect (the replay and workflow tests run through it)."""

from __future__ import annotations

from pathlib import Path

import temporalio
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from service import sandbox
from worker import WORKFLOWS, workflow_runner

HISTORIES = Path(__file__).resolve().parent / "histories"


def test_the_pinned_sdk_is_the_one_the_runner_was_checked_against() -> None:
    """Fails on a temporalio upgrade: re-read ``_Instance._run_code`` in the new SDK, then
    move CHECKED_SDK_VERSION (the runner falls back to the SDK's own until then)."""
    assert temporalio.__version__ == sandbox.CHECKED_SDK_VERSION
    assert isinstance(workflow_runner(), sandbox.SandboxRunner)


async def test_replaying_a_request_compiles_a_few_snippets_and_reuses_them() -> None:
    """A request's history replays through the workers' runner; its dozens of sandbox
    calls (activations, payload contexts) compile a handful of distinct snippets."""
    path = sorted(HISTORIES.glob("*.json"))[0]
    history = WorkflowHistory.from_json(path.stem, path.read_text())
    replayer = Replayer(
        workflows=WORKFLOWS,
        data_converter=pydantic_data_converter,
        workflow_runner=workflow_runner(),
    )
    before = sandbox._compiled.cache_info()
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    after = sandbox._compiled.cache_info()
    assert result.replay_failure is None
    calls = (after.hits + after.misses) - (before.hits + before.misses)
    assert calls > 20, calls
    assert after.misses - before.misses <= 12  # a handful, each compiled once
