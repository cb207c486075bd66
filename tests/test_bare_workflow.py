"""The benchmark's bare baseline (bench/bare_workflow.py) issues the same commands as ours.

The bare restates the request workflow so that its worker loads none of ours' activity
modules; this test is what stops the two drifting apart (issue 9). Both run one happy-path
lifecycle (admission, the team's e-mail, one approval, the requester's notice) on the same
no-op activities, and their histories must hold the same commands in the same order:
local activities (markers), scheduled activities, search attribute upserts (with the
status they publish, R21) and completion. Events whose order depends on timing (workflow
tasks, activity starts, update acceptance) are left out.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import pytest_asyncio
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHistory
from temporalio.worker import Worker

from bench.bare_workflow import BARE_ACTIVITIES, BARE_WORKFLOW_TYPE, BareAccessRequest
from models.enums import RequestMethod
from models.messages import ApproveRequest, RequestInput, RequestState, WaitAdmission
from models.names import Message, WorkflowType
from tests.conftest import wait_until
from worker import workflow_runner
from workflows.request_access import RequestAccessWorkflow
from workflows.search_attributes import REQUEST_STATUS


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
            activities=BARE_ACTIVITIES,
            activity_executor=executor,
            workflow_runner=workflow_runner(),
        ):
            yield queue


def commands(history: WorkflowHistory) -> list[str]:
    """The commands a workflow issued, in order, each with what identifies it."""
    seen: list[str] = []
    for event in history.events:
        if event.event_type == EventType.EVENT_TYPE_MARKER_RECORDED:
            data = event.marker_recorded_event_attributes.details["data"].payloads[0].data
            seen.append(f"local activity {json.loads(data)['activity_type']}")
        elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            name = event.activity_task_scheduled_event_attributes.activity_type.name
            seen.append(f"activity {name}")
        elif event.event_type == EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
            fields = event.upsert_workflow_search_attributes_event_attributes
            payload = fields.search_attributes.indexed_fields[REQUEST_STATUS.name]
            seen.append(f"upsert {REQUEST_STATUS.name}={json.loads(payload.data)}")
        elif event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
            seen.append("completed")
    return seen


async def one_lifecycle(client: Client, task_queue: str, workflow_type: str) -> list[str]:
    request_id = f"req_{uuid.uuid4().hex[:20]}"
    handle = await client.start_workflow(
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
        "local activity store.decide_and_grant",
        "upsert RequestStatus=approved",
        "activity mail.notify_requester",
        "completed",
    ]
    assert bare == ours
