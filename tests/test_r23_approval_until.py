"""R23 + R20: an approval's end date is part of the decision, not a step after it.

The ``approve`` update carries the date; the deciding transaction stores it with the grant
and the request workflow starts the grant's ``AccessEnd`` through an activity. So when
the caller's update returns there is nothing left for it to do, a date the caller let
through is still refused by the decision with nothing changed, and a worker killed between
the decision and the timer loses nothing: the next worker starts the timer and R19's
removal runs at the end date.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import select
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from client.access_requests import RequestService, Submitted, refusal_from
from models.end_date_messages import AccessEndInput, EndDateResult
from models.enums import RequestMethod, RequestStatus
from models.errors import ErrorCode
from models.messages import ApprovalOutcome, ApproveRequest, RequestState
from models.names import Message, access_end_workflow_id
from models.settings import Settings
from models.tables import AccessRemoval, AccessRequest, AuditEvent, ShopGrant, utcnow
from store.db import read_session
from tests.conftest import (
    AGENCY,
    ANA,
    OLI,
    S1_SHOP,
    WAIT_SECONDS,
    start_worker_process,
    wait_until,
)
from tests.partners_support import snapshot

ROOT = Path(__file__).resolve().parent.parent
RA = RequestMethod.REQUEST_ACCESS

# A real worker.py whose timer-arming activity only marks that it was reached and then
# hangs: killing this process then lands exactly between the decision and the timer.
STALLED_ARMING = """
import asyncio, sys
from pathlib import Path
from temporalio import activity
import activities.partners as partners
from models.names import PartnerActivity

MARK = Path(sys.argv[1])

class Stalled:
    @activity.defn(name=PartnerActivity.ARM_ACCESS_END)
    async def arm_access_end(self, input: partners.GrantUntil) -> None:
        MARK.write_text(str(input.grant_id))
        await asyncio.Event().wait()

partners.PartnerTimerActivities.arm_access_end = Stalled.arm_access_end
import worker
worker.main([])
"""


def _grants(engine: Engine) -> list[ShopGrant]:
    with read_session(engine) as session:
        return list(session.exec(select(ShopGrant).where(ShopGrant.bc_id == AGENCY)).all())


def _dated(engine: Engine, grant_id: int) -> int:
    """How many times the store recorded an end date for this grant (R21)."""
    with read_session(engine) as session:
        events = session.exec(
            select(AuditEvent).where(
                AuditEvent.entity == "shop_grant",
                AuditEvent.entity_id == str(grant_id),
                AuditEvent.action == "end_date_set",
            )
        ).all()
    return len(events)


async def _timer_run(client: Client, workflow_id: str, ends_at: datetime) -> str | None:
    """The run id of the ``AccessEnd`` started for this date, if one is (the session's
    dev server may still know an earlier test's closed run under the same grant id)."""
    try:
        run_id = (await client.get_workflow_handle(workflow_id).describe()).run_id
        history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
    except RPCError as err:
        if err.status is RPCStatusCode.NOT_FOUND:
            return None
        raise
    started = history.events[0].workflow_execution_started_event_attributes
    (input,) = await client.data_converter.decode(started.input.payloads, [AccessEndInput])
    return run_id if input.ends_at == ends_at else None


async def _mailed(client: Client, sub: Submitted) -> None:
    """The run loop's first e-mail is out (so a snapshot after it is a still picture)."""
    handle = client.get_workflow_handle(sub.workflow_id)

    async def first_sent() -> bool:
        return (await handle.query(Message.STATE, result_type=RequestState)).first_email_sent

    await wait_until(first_sent, what="the request's first e-mail")


async def test_r23_the_date_is_stored_with_the_decision_and_the_timer_follows(
    service: RequestService, demo: Engine, client: Client
) -> None:
    sub = await service.submit(method=RA, bc_id=AGENCY, shop_code=S1_SHOP, by=ANA)
    ends_at = (utcnow() + timedelta(days=30)).replace(microsecond=0)
    outcome = await service.approve(sub.request_id, ApproveRequest(by=OLI), until=ends_at)
    assert outcome.status is RequestStatus.APPROVED
    # Read at once, no wait: the update returned after the transaction that holds both.
    (grant,) = _grants(demo)
    assert grant.id is not None and grant.ends_at == ends_at
    await wait_until(
        lambda: _timer_run(client, access_end_workflow_id(grant.id or 0), ends_at),
        what="the grant's AccessEnd started by the request workflow",
    )
    assert _dated(demo, grant.id) == 1


async def test_r23_a_past_date_that_reaches_the_workflow_decides_nothing(
    service: RequestService, demo: Engine, client: Client
) -> None:
    """The service refuses a past date first; a raw client that skips it meets the same
    refusal in the deciding transaction: still pending, no grant, nothing written."""
    sub = await service.submit(method=RA, bc_id=AGENCY, shop_code=S1_SHOP, by=ANA)
    await _mailed(client, sub)
    before = snapshot(demo)
    handle = client.get_workflow_handle(sub.workflow_id)
    with pytest.raises(WorkflowUpdateFailedError) as failed:
        await handle.execute_update(
            Message.APPROVE,
            ApproveRequest(by=OLI, until=utcnow() - timedelta(minutes=1)),
            result_type=ApprovalOutcome,
        )
    refusal = refusal_from(failed.value)
    assert refusal is not None and refusal.code == ErrorCode.END_DATE_PASSED
    assert "already passed" in refusal.message
    assert snapshot(demo) == before
    state = await handle.query(Message.STATE, result_type=RequestState)
    assert state.status is RequestStatus.PENDING and state.granted is None


async def _stalled_worker(
    settings: Settings, address: str, log: Path, mark: Path
) -> asyncio.subprocess.Process:
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "DEV_MODE": "1",
        "TASK_QUEUE": settings.task_queue,
        "MAIL_OUTBOX_DIR": str(settings.mail_outbox_dir),
        "TEMPORAL_ADDRESS": address,
    }
    return await asyncio.create_subprocess_exec(
        sys.executable, "-c", STALLED_ARMING, str(mark),
        cwd=ROOT, env=env, stdout=log.open("ab"), stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip


@pytest.mark.slow
async def test_r20_r23_a_worker_killed_between_decision_and_timer_still_ends_access(
    temporal_env: WorkflowEnvironment, demo: Engine, settings: Settings, tmp_path: Path
) -> None:
    client = temporal_env.client
    address = client.service_client.config.target_host
    log, mark = tmp_path / "worker.log", tmp_path / "arming-reached"
    first = await _stalled_worker(settings, address, log, mark)
    second: Any = None
    try:
        # The first answer waits for the worker process to start (slow on a loaded machine).
        service = RequestService(client, demo, settings.task_queue, timeout=2 * WAIT_SECONDS)
        sub = await service.submit(method=RA, bc_id=AGENCY, shop_code=S1_SHOP, by=ANA)
        # A short date on the dev server's real clock: far enough that the decision comes
        # first on a loaded machine, near enough to wait for the removal. (Armed late, the
        # timer ends access at once, so the outcome never depends on the machine's speed.)
        ends_at = (utcnow() + timedelta(seconds=45)).replace(microsecond=0)
        outcome = await service.approve(sub.request_id, ApproveRequest(by=OLI), until=ends_at)
        assert outcome.status is RequestStatus.APPROVED
        await wait_until(mark.exists, what="the workflow reaching the timer's activity")
        first.send_signal(signal.SIGKILL)
        await first.wait()

        # Between the two: the decision and its date are stored, no timer exists yet.
        (grant,) = _grants(demo)
        assert grant.id is not None and grant.ends_at == ends_at and grant.revoked_at is None
        until_id = access_end_workflow_id(grant.id)
        assert await _timer_run(client, until_id, ends_at) is None

        second = await start_worker_process(settings, address, log)
        run_id = await wait_until(
            lambda: _timer_run(client, until_id, ends_at),
            timeout=3 * WAIT_SECONDS,
            what="the next worker starting the grant's AccessEnd",
        )
        until = client.get_workflow_handle(until_id, run_id=run_id, result_type=EndDateResult)
        async with asyncio.timeout(3 * WAIT_SECONDS):
            ended = await until.result()
    finally:
        for proc in (first, second):
            if proc is not None and proc.returncode is None:
                proc.kill()
                await proc.wait()

    # R19's removal ran at the end date, once; the date was stored once, with one grant.
    assert ended.status == "removed", log.read_text()[-2000:]
    (grant,) = _grants(demo)
    assert grant.revoked_at is not None and grant.ends_at == ends_at
    assert _dated(demo, grant.id or 0) == 1
    with read_session(demo) as session:
        request = session.get(AccessRequest, sub.request_id)
        removals = session.exec(select(AccessRemoval)).all()
    assert request is not None and request.status is RequestStatus.REVOKED
    assert [(r.id, r.status.value) for r in removals] == [(f"until-g{grant.id}", "completed")]
