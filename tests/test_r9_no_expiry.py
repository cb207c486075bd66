"""R9: a pending request never expires by time. On the time-skipping test server a year
passes in seconds; the request is still pending, and the seller can then approve it.

The test server has no custom search attributes (and no API to register them), so here the
workflow's search-attribute upserts are made no-ops and the workflow starts without them;
test_request_workflows.py proves the attributes on the real dev server.
"""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import select
from temporalio import workflow
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from client.access_requests import RequestService, new_request_id
from models.enums import RequestMethod, RequestStatus
from models.messages import (
    AdmissionOutcome,
    ApproveRequest,
    RequestInput,
    RequestResult,
    RequestState,
    WaitAdmission,
)
from models.names import Message, WorkflowType, request_workflow_id
from models.settings import Settings
from models.tables import AccessRequest, Shop, ShopGrant
from store.db import read_session
from tests.conftest import AGENCY, ANA, OLI, S1_SHOP, WAIT_SECONDS
from worker import WORKFLOWS, activities_for

A_YEAR_AND_A_DAY = timedelta(days=366)


async def test_r9_request_pending_for_a_year_is_still_pending_and_can_be_approved(
    time_skipping_env: WorkflowEnvironment,
    demo: Engine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = time_skipping_env
    monkeypatch.setattr(workflow, "upsert_search_attributes", lambda *a, **k: None)
    settings = Settings(
        database_url=demo.url.render_as_string(hide_password=False),
        task_queue=f"r9-{uuid.uuid4().hex[:10]}",
        mail_outbox_dir=tmp_path / "outbox",
        dev_mode=True,
    )
    with read_session(demo) as session:
        shop = session.exec(select(Shop).where(Shop.code == S1_SHOP)).one()
    assert shop.id is not None
    method = RequestMethod.REQUEST_ACCESS
    request_id = new_request_id()
    with ThreadPoolExecutor(max_workers=settings.activity_threads) as executor:
        async with Worker(
            env.client,
            task_queue=settings.task_queue,
            workflows=WORKFLOWS,
            activities=activities_for(settings, demo),
            activity_executor=executor,
            # Unsandboxed so the no-op upsert above is the one workflow code calls.
            workflow_runner=UnsandboxedWorkflowRunner(),
        ):
            handle: Any = await env.client.start_workflow(
                WorkflowType.REQUEST_ACCESS,
                RequestInput(
                    request_id=request_id,
                    method=method,
                    bc_id=AGENCY,
                    shop_id=shop.id,
                    shop_code=shop.code,
                    requested_by=ANA,
                ),
                id=request_workflow_id(method, AGENCY, shop.code),
                task_queue=settings.task_queue,
                result_type=RequestResult,
            )
            admitted = await handle.execute_update(
                Message.ADMISSION, WaitAdmission(), result_type=AdmissionOutcome
            )
            assert admitted.status == "pending"
            started = await env.get_current_time()

            await env.sleep(A_YEAR_AND_A_DAY)

            assert await env.get_current_time() - started >= A_YEAR_AND_A_DAY
            state = await handle.query(Message.STATE, result_type=RequestState)
            assert state.status is RequestStatus.PENDING
            assert (await handle.describe()).status is WorkflowExecutionStatus.RUNNING
            with read_session(demo) as session:
                row = session.get(AccessRequest, request_id)
                assert row is not None and row.status is RequestStatus.PENDING

            service = RequestService(env.client, demo, settings.task_queue, timeout=WAIT_SECONDS)
            outcome = await service.approve(request_id, ApproveRequest(by=OLI))
            assert outcome.status is RequestStatus.APPROVED
            assert (await handle.result()).status == "approved"
    with read_session(demo) as session:
        grants = session.exec(select(ShopGrant).where(ShopGrant.bc_id == AGENCY)).all()
    assert len(grants) == 1
