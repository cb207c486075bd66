"""Replay every committed history in tests/histories/ against today's workflow code.

The histories were recorded afresh at 1.0.0 (tests/record_histories.py for the request
workflows and the webhook dispatcher, ``RECORD_HISTORIES=1`` on the tests that write the
others). From 1.0.0 on, a change that breaks a replay here would break running workflows:
patch it (``workflow.patched``) and keep the old files beside new ones (docs/operations.md,
"Upgrades").
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from models.names import PartnerActivity, WorkflowType
from worker import WORKFLOWS, workflow_runner

ROOT = Path(__file__).resolve().parent / "histories"
HISTORIES = sorted(ROOT.glob("*.json"))
# Replayed by their own tests (the time-skipping server's histories), but checked here too.
EVERY_HISTORY = sorted(ROOT.rglob("*.json"))
REQUEST_TYPES = {WorkflowType.REQUEST_ACCESS, WorkflowType.ADD_MY_SHOP}


def _load(path: Path) -> WorkflowHistory:
    return WorkflowHistory.from_json(path.stem, path.read_text())


def workflow_type(history: WorkflowHistory) -> str:
    started = history.events[0].workflow_execution_started_event_attributes
    return started.workflow_type.name


def test_histories_cover_every_workflow_type() -> None:
    registered = {workflow._Definition.must_from_class(cls).name for cls in WORKFLOWS}
    recorded = {workflow_type(_load(p)) for p in HISTORIES}
    assert registered - recorded == set()


def test_request_histories_cover_every_way_a_request_ends() -> None:
    """Each end a request can reach is one recorded path (R1, R11, R14, R9, R22, R23)."""
    ends: set[str] = set()
    armed = False
    for path in HISTORIES:
        history = _load(path)
        if workflow_type(history) not in REQUEST_TYPES:
            continue
        for event in history.events:
            if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
                result = event.workflow_execution_completed_event_attributes.result
                ends.add(json.loads(result.payloads[0].data)["status"])
            if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
                name = event.activity_task_scheduled_event_attributes.activity_type.name
                armed = armed or name == PartnerActivity.ARM_ACCESS_END
    assert {"approved", "expired", "cancelled", "declined", "refused", "failed"} <= ends
    assert armed, "no approval with an end date (R23) starting its timer is recorded"


@pytest.mark.parametrize("path", EVERY_HISTORY, ids=[p.stem for p in EVERY_HISTORY])
def test_no_history_carries_a_patch(path: Path) -> None:
    """Pre-1.0 histories are re-recorded, never patched: no version marker in any."""
    markers = [
        event.marker_recorded_event_attributes.marker_name
        for event in _load(path).events
        if event.event_type == EventType.EVENT_TYPE_MARKER_RECORDED
    ]
    assert "core_patch" not in markers


@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
async def test_history_replays_on_current_code(path: Path) -> None:
    history = _load(path)
    replayer = Replayer(
        workflows=WORKFLOWS,
        data_converter=pydantic_data_converter,
        workflow_runner=workflow_runner(),  # the workers' own sandbox
    )
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, f"{path.name}: {result.replay_failure!r}"
