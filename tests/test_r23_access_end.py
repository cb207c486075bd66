"""R23: access that ends on a date, across the boundary on the time-skipping server.

Days pass in seconds: three days before the end date the partner's admins are reminded;
at the end date the same removal as R19 runs by itself (the grant and its onward share end,
campaigns stop, the partner is told), and a worker restart in between changes nothing. The
seller may change or clear the date while the access lasts; approval may carry one.

As in test_r9_no_expiry.py, the test server has no custom search attributes: upserts are
no-ops here and workflows start without them.
"""

from __future__ import annotations

import json
import os
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import select
from temporalio import workflow
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from client import end_date_operations as end_dates_client
from client.access_requests import RequestService, new_request_id
from client.partners import PartnerService
from models.end_date_messages import EndDateResult, EndDateState
from models.enums import Permission, RequestMethod, RequestStatus
from models.messages import AdmissionOutcome, ApproveRequest, RequestInput, WaitAdmission
from models.names import (
    EndDateName,
    Message,
    WorkflowType,
    access_end_workflow_id,
    assignment_end_workflow_id,
    request_workflow_id,
)
from models.partner_enums import CampaignStatus
from models.settings import Settings
from models.tables import BCPartner, Campaign, MemberAssignment, ShopGrant, utcnow
from store import campaigns, history, invitations, sharing
from store.db import read_session, write_session
from tests.conftest import (
    AGENCY,
    ANA,
    LEE,
    OLI,
    S1_SHOP,
    SAM,
    SUBAGENCY,
    WAIT_SECONDS,
    outbox_messages,
    time_skipping_worker,
)
from tests.partners_support import AGENCY_ADS, grant_in_store, load_extra, shop_id_of

DAY = timedelta(days=1)
HISTORIES = Path(__file__).resolve().parent / "histories"


async def _record(env: WorkflowEnvironment, workflow_id: str, name: str) -> None:
    """Write a history for tests/test_replay.py (RECORD_HISTORIES=1 refreshes them)."""
    path = HISTORIES / f"{name}.json"
    if os.environ.get("RECORD_HISTORIES") != "1" and path.exists():
        return
    history = await env.client.get_workflow_handle(workflow_id).fetch_history()
    path.write_text(json.dumps(json.loads(history.to_json()), indent=1))


@pytest.fixture()
def ts_settings(demo: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setattr(workflow, "upsert_search_attributes", lambda *a, **k: None)
    return Settings(
        database_url=demo.url.render_as_string(hide_password=False),
        task_queue=f"r23-{uuid.uuid4().hex[:10]}",
        mail_outbox_dir=tmp_path / "outbox",
        dev_mode=True,
    )


def _agency_shares_with_subagency(engine: Engine) -> None:
    with write_session(engine) as session:
        sharing.offer_partner_shop(
            session,
            invitation_id="inv_r23",
            bc_id=AGENCY,
            partner_bc_id=SUBAGENCY,
            shop_id=shop_id_of(engine, S1_SHOP),
            permission=Permission.AD_PROMOTION,
            by=ANA,
            workflow_id="wf",
        )
    with write_session(engine) as session:
        invitations.accept_invitation(session, invitation_id="inv_r23", by=LEE)


def _grants(engine: Engine, bc_id: int) -> list[ShopGrant]:
    with read_session(engine) as session:
        return list(session.exec(select(ShopGrant).where(ShopGrant.bc_id == bc_id)).all())


def _campaign_status(engine: Engine) -> list[CampaignStatus]:
    with read_session(engine) as session:
        return [c.status for c in session.exec(select(Campaign)).all()]


# What an e-mail is, in any language: its key (its subject is in the reader's, R28; Lee's
# BC is in Malaysia).
_KEYS = {"Reminder": "until:", "Access removed": "removal:"}


def _mails(settings: Settings, subject_part: str) -> list[Any]:
    prefix = _KEYS.get(subject_part)
    return [
        m for m in outbox_messages(settings)
        if (str(m["X-Shop-Access-Key"]).strip().startswith(prefix) if prefix
            else subject_part in str(m["Subject"]))
    ]  # fmt: skip


async def _poll(check: Callable[[], bool], env: WorkflowEnvironment) -> None:
    """Wait on state, with a deadline; time-skipping sleeps let the workers run."""
    for _ in range(int(WAIT_SECONDS * 10)):
        if check():
            return
        await env.sleep(timedelta(seconds=1))
    raise AssertionError("state not reached in time")


async def test_r23_reminded_three_days_before_then_removed_at_the_end_across_a_worker_restart(
    time_skipping_env: WorkflowEnvironment, demo: Engine, ts_settings: Settings
) -> None:
    env, settings = time_skipping_env, ts_settings
    load_extra(demo)
    grant_in_store(demo, bc_id=AGENCY, shop_code=S1_SHOP, admin=ANA, seller=OLI)
    _agency_shares_with_subagency(demo)
    with write_session(demo) as session:
        campaigns.create_campaign(
            session,
            ad_account_id=AGENCY_ADS,
            shop_id=shop_id_of(demo, S1_SHOP),
            name="Sale",
            by=ANA,
        )
    (agency_grant,) = _grants(demo, AGENCY)
    assert agency_grant.id is not None
    ends_at = (await env.get_current_time()) + 10 * DAY

    async with time_skipping_worker(env.client, settings, demo):
        done = await end_dates_client.set_partner_end_date(
            env.client, demo, settings.task_queue,
            shop_code=S1_SHOP, partner_bc_id=AGENCY, ends_at=ends_at, by=OLI,
        )  # fmt: skip
        assert done.grant_ids == [agency_grant.id]
        assert _grants(demo, AGENCY)[0].ends_at == ends_at
        await env.sleep(6 * DAY)
        assert _mails(settings, "Reminder") == []  # four days left: not yet
        await env.sleep(2 * DAY)  # three days left: reminded
        await _poll(lambda: len(_mails(settings, "Reminder")) == 1, env)
        (reminder,) = _mails(settings, "Reminder")
        assert reminder["To"] == ANA
        assert "ends on" in str(reminder["Subject"])
        assert _grants(demo, AGENCY)[0].revoked_at is None  # still on
        assert _campaign_status(demo) == [CampaignStatus.DELIVERING]

    # The worker stops for a day (the test server skips no further with a task waiting);
    # the timer is durable: the next worker runs the removal at the end date.
    await env.sleep(DAY)
    async with time_skipping_worker(env.client, settings, demo):
        handle = env.client.get_workflow_handle(
            access_end_workflow_id(agency_grant.id), result_type=EndDateResult
        )
        await env.sleep(timedelta(hours=12))
        assert _grants(demo, AGENCY)[0].revoked_at is None  # half a day left
        await env.sleep(DAY)
        await _poll(lambda: _grants(demo, AGENCY)[0].revoked_at is not None, env)
        result = await handle.result()
        assert result.status == "removed"
        assert result.removal is not None and result.removal.status == "completed"
        await _record(env, handle.id, "AccessEnd_reminded_then_removed")
    assert all(g.revoked_at is not None for g in _grants(demo, AGENCY))
    assert all(g.revoked_at is not None for g in _grants(demo, SUBAGENCY))  # onward share
    assert _campaign_status(demo) == [CampaignStatus.STOPPED]
    told = _mails(settings, "Access removed")
    assert {m["To"] for m in told} >= {ANA, LEE}
    assert len(_mails(settings, "Reminder")) == 1  # reminded once, restart or not


async def test_r23_seller_changes_then_clears_the_date_and_access_lasts(
    time_skipping_env: WorkflowEnvironment, demo: Engine, ts_settings: Settings
) -> None:
    env, settings = time_skipping_env, ts_settings
    load_extra(demo)
    grant_in_store(demo, bc_id=AGENCY, shop_code=S1_SHOP, admin=ANA, seller=OLI)
    (grant,) = _grants(demo, AGENCY)
    assert grant.id is not None
    now = await env.get_current_time()
    async with time_skipping_worker(env.client, settings, demo):

        async def set_end_date(days: int | None) -> None:
            await end_dates_client.set_partner_end_date(
                env.client, demo, settings.task_queue, shop_code=S1_SHOP, partner_bc_id=AGENCY,
                ends_at=now + days * DAY if days else None, by=OLI,
            )  # fmt: skip

        await set_end_date(5)
        await set_end_date(30)  # changed before the reminder: no reminder for day 5
        handle = env.client.get_workflow_handle(
            access_end_workflow_id(grant.id), result_type=EndDateResult
        )
        await env.sleep(12 * DAY)
        assert _grants(demo, AGENCY)[0].revoked_at is None
        assert _mails(settings, "Reminder") == []
        state = await handle.query(EndDateName.STATE, result_type=EndDateState)
        assert state.ends_at == now + 30 * DAY
        await set_end_date(None)
        result = await handle.result()
        assert result.status == "cleared"
        await _record(env, handle.id, "AccessEnd_changed_then_cleared")
        await env.sleep(40 * DAY)
        (after,) = _grants(demo, AGENCY)
        assert after.revoked_at is None and after.ends_at is None
        assert _mails(settings, "Reminder") == []


async def test_r23_approval_with_an_end_date_close_by_reminds_at_once_and_ends_on_time(
    time_skipping_env: WorkflowEnvironment, demo: Engine, ts_settings: Settings
) -> None:
    env, settings = time_skipping_env, ts_settings
    with read_session(demo) as session:
        from store.people import find_shop_by_code

        shop = find_shop_by_code(session, S1_SHOP)
    assert shop is not None and shop.id is not None
    method = RequestMethod.REQUEST_ACCESS
    request_id = new_request_id()
    async with time_skipping_worker(env.client, settings, demo):
        handle: Any = await env.client.start_workflow(
            WorkflowType.REQUEST_ACCESS,
            RequestInput(
                request_id=request_id, method=method, bc_id=AGENCY, shop_id=shop.id,
                shop_code=shop.code, requested_by=ANA,
            ),
            id=request_workflow_id(method, AGENCY, shop.code),
            task_queue=settings.task_queue,
        )  # fmt: skip
        admitted = await handle.execute_update(
            Message.ADMISSION, WaitAdmission(), result_type=AdmissionOutcome
        )
        assert admitted.status == "pending"
        service = RequestService(env.client, demo, settings.task_queue, timeout=WAIT_SECONDS)
        ends_at = utcnow() + 2 * DAY
        outcome = await service.approve(request_id, ApproveRequest(by=OLI), until=ends_at)
        assert outcome.status is RequestStatus.APPROVED
        (grant,) = _grants(demo, AGENCY)
        assert grant.id is not None and grant.ends_at == ends_at
        # Two days left when approved: the reminder goes at once.
        await _poll(lambda: len(_mails(settings, "Reminder")) == 1, env)
        until = env.client.get_workflow_handle(
            access_end_workflow_id(grant.id), result_type=EndDateResult
        )
        assert (await until.describe()).status is WorkflowExecutionStatus.RUNNING
        await env.sleep(DAY)
        assert _grants(demo, AGENCY)[0].revoked_at is None
        await env.sleep(DAY + timedelta(hours=1))
        await _poll(lambda: _grants(demo, AGENCY)[0].revoked_at is not None, env)
        assert (await until.result()).status == "removed"
    (ended,) = _grants(demo, AGENCY)
    assert ended.revoked_at is not None
    with read_session(demo) as session:
        from models.tables import AccessRequest

        request = session.get(AccessRequest, request_id)
        assert request is not None and request.status is RequestStatus.REVOKED
        # R21: the history says why access ended, not that a person removed it.
        story = [t.label for t in history.transitions(session, [request_id])[request_id]]
    assert story[-1] == "access ended by its end date", story


async def test_r23_a_share_and_an_assignment_with_end_dates_end_on_time(
    time_skipping_env: WorkflowEnvironment, demo: Engine, ts_settings: Settings
) -> None:
    """share-shop --until and assign-member --until: the share's end runs R19 for the BC
    that got it (AGENCY keeps the shop); the assignment just ends."""
    env, settings = time_skipping_env, ts_settings
    load_extra(demo)
    grant_in_store(demo, bc_id=AGENCY, shop_code=S1_SHOP, admin=ANA, seller=OLI)
    with write_session(demo) as session:
        session.add(BCPartner(bc_id=AGENCY, partner_bc_id=SUBAGENCY, created_at=utcnow()))
    now = await env.get_current_time()
    partners = PartnerService(env.client, demo, settings.task_queue)
    async with time_skipping_worker(env.client, settings, demo):
        shared = await partners.share_shop(
            bc_id=AGENCY, shop_code=S1_SHOP, partner_bc_id=SUBAGENCY,
            permission=Permission.AD_PROMOTION, by=ANA, until=now + 5 * DAY,
        )  # fmt: skip
        assert shared.status == "shared" and shared.ends_at == now + 5 * DAY
        view = await partners.assign_member_with_end_date(
            bc_id=AGENCY, shop_code=S1_SHOP, member=SAM, permission=Permission.AD_PROMOTION,
            by=ANA, until=now + 2 * DAY,
        )  # fmt: skip
        assert view.ends_at == now + 2 * DAY
        await env.sleep(DAY)
        assert _active_assignments(demo) == 1
        await env.sleep(DAY + timedelta(hours=1))
        await _poll(lambda: _active_assignments(demo) == 0, env)
        assignment = env.client.get_workflow_handle(
            assignment_end_workflow_id(view_id(demo)), result_type=EndDateResult
        )
        assert (await assignment.result()).status == "ended"
        await _record(env, assignment.id, "AssignmentEnd_reminded_at_once_then_ended")
        assert _grants(demo, SUBAGENCY)[0].revoked_at is None
        await env.sleep(3 * DAY)
        await _poll(lambda: _grants(demo, SUBAGENCY)[0].revoked_at is not None, env)
        assert _grants(demo, AGENCY)[0].revoked_at is None  # the sharer keeps its own
        # The partner's admins were reminded (the share had 5 days: reminded at day 2), and
        # the member, the assignment's holder, at once (it had 2 days).
        reminded = Counter(str(m["To"]) for m in _mails(settings, "Reminder"))
        assert reminded == Counter({LEE: 1, SAM: 1})


def _active_assignments(engine: Engine) -> int:
    with read_session(engine) as session:
        rows = session.exec(select(MemberAssignment)).all()
    return sum(1 for r in rows if r.ended_at is None)


def view_id(engine: Engine) -> int:
    with read_session(engine) as session:
        (row,) = session.exec(select(MemberAssignment)).all()
    assert row.id is not None
    return row.id
