"""Replay every committed history in tests/histories/ against today's workflow code.

A failure means a code change would break requests (or invitations, removals) already
running in production: guard it with ``workflow.patched`` instead (TEMPORAL.md, "Long
life and determinism"). tests/record_histories.py records the request workflows' histories
(R1, R8-R12, R14); other workflow types drop theirs here too.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from models.names import WorkflowType
from worker import WORKFLOWS, workflow_runner

HISTORIES = sorted((Path(__file__).resolve().parent / "histories").glob("*.json"))


def workflow_type(history: WorkflowHistory) -> str:
    started = history.events[0].workflow_execution_started_event_attributes
    return started.workflow_type.name


def test_histories_cover_both_request_workflow_types() -> None:
    types = {workflow_type(WorkflowHistory.from_json(p.stem, p.read_text())) for p in HISTORIES}
    assert {WorkflowType.REQUEST_ACCESS, WorkflowType.ADD_MY_SHOP} <= types


@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
async def test_history_replays_on_current_code(path: Path) -> None:
    history = WorkflowHistory.from_json(path.stem, path.read_text())
    replayer = Replayer(
        workflows=WORKFLOWS,
        data_converter=pydantic_data_converter,
        workflow_runner=workflow_runner(),  # the workers' own sandbox
    )
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, f"{path.name}: {result.replay_failure!r}"
