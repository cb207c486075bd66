"""The benchmark's bare baseline (bench/bare_workflow.py) issues the same commands as ours.

The bare restates the request workflow so that its worker loads none of ours' activity
modules; this test is what stops the two drifting apart. Both run one happy-path
lifecycle (admission, the team's e-mail, one approval, the requester's notice) on the same
no-op activities, and their histories must hold the same commands in the same order:
local activities (markers), timers, scheduled activities, search attribute
upserts (with the status they publish, R21) and completion. Events whose order depends on
timing (workflow tasks, activity starts, update acceptance) are left out.

The same worker (ours on no-op activities, no store) also shows what the request
workflow's own refusals carry: code and details, the words made from them.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from temporalio import activity
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle, WorkflowHistory, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.worker import Worker

from bench.bare_workflow import (
    BARE_ACTIVITIES,
    BARE_WORKFLOW_TYPE,
    BareAccessRequest,
    notify_requester,
)
from models.enums import RequestMethod
from models.errors import ErrorCode
from models.messages import (
    ApproveRequest,
    EmailsSent,
    RequesterNotice,
    RequestInput,
    RequestState,
    ResendRequest,
    WaitAdmission,
)
from models.names import Activity, Message, WorkflowType
from models.wording import wording
from tests.conftest import wait_until
from worker import workflow_runner
from workflows.request_access_to_shop import RequestAccessWorkflow

HELD: dict[str, threading.Event] = {}
"""Requests whose notice waits for the test: their workflow stays open after approval."""


@activity.defn(name=Activity.NOTIFY_REQUESTER)
def notify_or_hold(input: RequesterNotice) -> EmailsSent:
    held = HELD.get(input.request_id)
    if held is not None:
        held.wait(60)
    return notify_requester(input)


@pytest_asyncio.fixture(loop_scope="session")
async def task_queue(
    client: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[str]:
    """A worker running ours and the bare side by side, both on the bare's activities."""
    monkeypatch.setenv("MAIL_OUTBOX_DIR", str(tmp_path))  # where the bare's mail marks go
    queue = f"bare-drift-{uuid.uuid4().hex[:8]}"
    with ThreadPoolExecutor(max_workers=4) as executor:
        async with Worker(
            client,
            task_queue=queue,
            workflows=[RequestAccessWorkflow, BareAccessRequest],
            activities=[a for a in BARE_ACTIVITIES if a is not notify_requester] + [notify_or_hold],
            activity_executor=executor,
            workflow_runner=workflow_runner(),
        ):
            yield queue


def commands(history: WorkflowHistory) -> list[str]:
    """The commands a workflow issued, in order, each with what identifies it."""
    seen: list[str] = []
    for event in history.events:
        if event.event_type == EventType.EVENT_TYPE_MARKER_RECORDED:
            marker = event.marker_recorded_event_attributes
            if marker.marker_name == "core_patch":  # workflow.patched: none before 1.0.0
                data = marker.details["patch-data"].payloads[0].data
                seen.append(f"patch {json.loads(data)['id']}")
                continue
            data = marker.details["data"].payloads[0].data
            seen.append(f"local activity {json.loads(data)['activity_type']}")
        elif event.event_type == EventType.EVENT_TYPE_TIMER_STARTED:
            seen.append("timer started")
        elif event.event_type == EventType.EVENT_TYPE_TIMER_CANCELED:
            seen.append("timer cancelled")
        elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            name = event.activity_task_scheduled_event_attributes.activity_type.name
            seen.append(f"activity {name}")
        elif event.event_type == EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
            fields = event.upsert_workflow_search_attributes_event_attributes.search_attributes
            for name, payload in sorted(fields.indexed_fields.items()):
                seen.append(f"upsert {name}={json.loads(payload.data)}")
        elif event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
            seen.append("completed")
    return seen


async def approved(
    client: Client, task_queue: str, workflow_type: str, request_id: str | None = None
) -> WorkflowHandle[Any, Any]:
    """One request through admission, the team's e-mail and one approval."""
    request_id = request_id or f"req_{uuid.uuid4().hex[:20]}"
    handle: WorkflowHandle[Any, Any] = await client.start_workflow(
        workflow_type,
        RequestInput(
            request_id=request_id,
            method=RequestMethod.REQUEST_ACCESS,
            bc_id=1,
            shop_id=1,
            shop_code="GBLINKED01",
            requested_by="ana@agency-one.com",
        ),
        id=f"{workflow_type}:{request_id}",
        task_queue=task_queue,
    )
    await handle.execute_update(Message.ADMISSION, WaitAdmission())

    async def first_email_sent() -> bool:
        state = await handle.query(Message.STATE, result_type=RequestState)
        return state.first_email_sent

    # R7's e-mail before the approval, so both histories order it the same way.
    await wait_until(first_email_sent, what=f"{workflow_type}: the team's e-mail")
    await handle.execute_update(Message.APPROVE, ApproveRequest(by="oli@brand-linked.com"))
    return handle


async def one_lifecycle(client: Client, task_queue: str, workflow_type: str) -> list[str]:
    handle = await approved(client, task_queue, workflow_type)
    await handle.result()
    return commands(await handle.fetch_history())


async def test_bare_workflow_issues_the_same_commands_as_ours(
    client: Client, task_queue: str
) -> None:
    ours = await one_lifecycle(client, task_queue, WorkflowType.REQUEST_ACCESS)
    bare = await one_lifecycle(client, task_queue, BARE_WORKFLOW_TYPE)
    assert ours == [
        "local activity store.admit_request",
        "upsert RequestStatus=pending",
        "activity mail.send_request_emails",
        # R25: the wait's reminder timer; the approval cancels it.
        "timer started",
        "local activity store.decide_and_grant",
        "upsert RequestStatus=approved",
        "timer cancelled",
        "activity mail.notify_requester",
        "completed",
    ]
    assert bare == ours


async def test_r8_resend_after_approval_is_refused_with_code_and_details(
    client: Client, task_queue: str
) -> None:
    """The workflow's validator refuses ``request_not_pending`` with the store's detail keys:
    the words come from models/wording.py, and nothing reaches history."""
    request_id = f"req_{uuid.uuid4().hex[:20]}"
    HELD[request_id] = threading.Event()  # open, approved, notice on its way
    try:
        handle = await approved(client, task_queue, WorkflowType.REQUEST_ACCESS, request_id)
        before = len((await handle.fetch_history()).events)
        with pytest.raises(WorkflowUpdateFailedError) as info:
            await handle.execute_update(Message.RESEND, ResendRequest(by="ana@agency-one.com"))
    finally:
        HELD.pop(request_id).set()
    refusal = info.value.cause
    assert isinstance(refusal, ApplicationError)
    assert refusal.type == ErrorCode.REQUEST_NOT_PENDING and refusal.non_retryable
    details = {"request_id": request_id, "status": "approved"}
    assert refusal.details == (details,)
    assert refusal.message == wording(ErrorCode.REQUEST_NOT_PENDING, details)
    await handle.result()
    history = await handle.fetch_history()
    assert len(history.events) > before  # it went on to notify and complete
    assert commands(history).count("activity mail.send_request_emails") == 1  # no resend
