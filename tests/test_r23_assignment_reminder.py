"""R23: the member holding an assignment with an end date is reminded three days before.

On the time-skipping server, as tests/test_r23_access_end.py: no reminder before day -3,
exactly one to the member (not to the BC's admins) at it, the assignment ends on its date;
a moved date re-arms and reminds for the new date only; a cleared date sends nothing more.
The activity alone: once per assignment and date, nothing for a date no longer stored.
"""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import select
from temporalio.client import WorkflowHistory
from temporalio.testing import WorkflowEnvironment

from activities.delivery import OutboxTransport
from activities.end_date_activities import EndDateActivities
from client import end_date_operations as end_dates_client
from client.partners import PartnerService
from models import i18n
from models.end_date_messages import EndDateResult, RemindAssignmentEnding
from models.enums import Permission
from models.names import EndDateName, assignment_end_workflow_id
from models.settings import Settings
from models.tables import EmailDelivery, MemberAssignment, utcnow
from store import end_dates, members
from store.db import read_session, write_session
from tests.conftest import AGENCY, ANA, OLI, S1_SHOP, SAM, outbox_messages, time_skipping_worker
from tests.partners_support import grant_in_store, load_extra, shop_id_of
from tests.test_r23_access_end import DAY, HISTORIES, _poll, _record

SUBJECT = "Reminder: your permission on the shop"
RECORDED = "AssignmentEnd_reminded_then_ended"


def shown(moment: datetime) -> str:
    """An end date as the member reads it (R28): Agency One is in Singapore, so English and
    Singapore time, written by Babel."""
    return i18n.when(moment, "en", "Asia/Singapore")


@pytest.fixture()
def ts_settings(demo: Engine, tmp_path: Path) -> Settings:
    return Settings(
        database_url=demo.url.render_as_string(hide_password=False),
        task_queue=f"r23a-{uuid.uuid4().hex[:10]}",
        mail_outbox_dir=tmp_path / "outbox",
        dev_mode=True,
    )


def _reminders(settings: Settings) -> list[Any]:
    return [m for m in outbox_messages(settings) if SUBJECT in str(m["Subject"])]


def _per_recipient(settings: Settings) -> Counter[str]:
    return Counter(str(m["To"]) for m in _reminders(settings))


def _text(message: Any) -> str:
    return str(message.get_body(preferencelist=("plain",)).get_content())


def _dates_reminded(settings: Settings, start: datetime) -> list[int]:
    """Which end dates (days after ``start``) the reminders sent so far name."""
    texts = [_text(m) for m in _reminders(settings)]
    return [d for d in range(1, 60) if any(shown(start + d * DAY) in t for t in texts)]


def _assignment(engine: Engine) -> MemberAssignment:
    with read_session(engine) as session:
        (row,) = session.exec(select(MemberAssignment)).all()
    return row


def _held_by_agency(engine: Engine) -> None:
    load_extra(engine)
    grant_in_store(engine, bc_id=AGENCY, shop_code=S1_SHOP, admin=ANA, seller=OLI)


async def _assign(
    env: WorkflowEnvironment, engine: Engine, settings: Settings, until: datetime
) -> int:
    """``assign-member --until``: the first call assigns, a later one moves the date."""
    partners = PartnerService(env.client, engine, settings.task_queue)
    view = await partners.assign_member_with_end_date(
        bc_id=AGENCY, shop_code=S1_SHOP, member=SAM, permission=Permission.AD_PROMOTION, by=ANA,
        until=until,
    )  # fmt: skip
    assert view.ends_at == until
    assignment_id = _assignment(engine).id
    assert assignment_id is not None
    return assignment_id


async def test_r23_the_member_is_reminded_three_days_before_once_then_the_assignment_ends(
    time_skipping_env: WorkflowEnvironment, demo: Engine, ts_settings: Settings
) -> None:
    env, settings = time_skipping_env, ts_settings
    _held_by_agency(demo)
    ends_at = (await env.get_current_time()) + 10 * DAY
    async with time_skipping_worker(env.client, settings, demo):
        assignment_id = await _assign(env, demo, settings, ends_at)
        await env.sleep(6 * DAY)
        assert _reminders(settings) == []  # four days left: not yet
        await env.sleep(2 * DAY)  # three days left: reminded
        await _poll(lambda: len(_reminders(settings)) == 1, env)
        (reminder,) = _reminders(settings)
        assert reminder["To"] == SAM  # the holder, not the BC's admins
        assert shown(ends_at) in str(reminder["Subject"])
        text = _text(reminder)
        for says in ("Ad promotion permission", S1_SHOP, "Agency One", shown(ends_at), ANA):
            assert says in text, says
        assert _assignment(demo).ended_at is None  # still on
        await env.sleep(2 * DAY + timedelta(hours=1))  # past the end date
        await _poll(lambda: _assignment(demo).ended_at is not None, env)
        handle = env.client.get_workflow_handle(
            assignment_end_workflow_id(assignment_id), result_type=EndDateResult
        )
        assert (await handle.result()).status == "ended"
        await _record(env, handle.id, RECORDED)
    assert _per_recipient(settings) == Counter({SAM: 1})


async def test_r23_a_moved_date_reminds_for_the_new_date_only_and_clearing_sends_nothing(
    time_skipping_env: WorkflowEnvironment, demo: Engine, ts_settings: Settings
) -> None:
    env, settings = time_skipping_env, ts_settings
    _held_by_agency(demo)
    now = await env.get_current_time()
    async with time_skipping_worker(env.client, settings, demo):
        assignment_id = await _assign(env, demo, settings, now + 10 * DAY)
        await env.sleep(DAY)
        await _assign(env, demo, settings, now + 20 * DAY)  # moved before day -3
        await env.sleep(9 * DAY)  # past day 7 and even day 10: nothing for the old date
        assert _reminders(settings) == []
        assert _assignment(demo).ended_at is None
        await env.sleep(8 * DAY)  # day 18: three days before day 20 has passed
        await _poll(lambda: len(_reminders(settings)) == 1, env)
        assert _dates_reminded(settings, now) == [20]
        await _assign(env, demo, settings, now + 25 * DAY)  # moved after its reminder
        await env.sleep(5 * DAY)  # day 23: three days before day 25 has passed
        await _poll(lambda: len(_reminders(settings)) == 2, env)
        assert _dates_reminded(settings, now) == [20, 25]
        await _assign(env, demo, settings, now + 40 * DAY)
        with write_session(demo) as session:
            row = session.get(MemberAssignment, assignment_id)
            assert row is not None
            end_dates.set_assignment_end(session, row, None, actor=ANA, now=utcnow())
        await end_dates_client.follow_assignment(
            env.client, settings.task_queue, assignment_id, None
        )
        handle = env.client.get_workflow_handle(
            assignment_end_workflow_id(assignment_id), result_type=EndDateResult
        )
        assert (await handle.result()).status == "cleared"
        await env.sleep(30 * DAY)  # past day 37 and day 40
    assert _per_recipient(settings) == Counter({SAM: 2})  # one per date reminded
    assert _assignment(demo).ended_at is None


def test_r23_the_assignment_reminder_goes_once_per_date_and_never_for_an_old_date(
    demo: Engine, tmp_path: Path
) -> None:
    """The activity alone: a retry sends nothing more; a date no longer stored, nothing."""
    _held_by_agency(demo)
    ends_at = utcnow() + 10 * DAY
    with write_session(demo) as session:
        row = members.assign_member(
            session, bc_id=AGENCY, shop_id=shop_id_of(demo, S1_SHOP), member_email=SAM,
            permission=Permission.AD_PROMOTION, by=ANA,
        )  # fmt: skip
        end_dates.set_assignment_end(session, row, ends_at, actor=ANA, now=utcnow())
        session.flush()
        assignment_id = row.id
    assert assignment_id is not None
    outbox = tmp_path / "outbox"
    until = EndDateActivities(demo, OutboxTransport(outbox), "Shop Access <no-reply@x.example>")
    remind = RemindAssignmentEnding(assignment_id=assignment_id, ends_at=ends_at)
    assert until.remind_assignment(remind).sent == 1
    until.remind_assignment(remind)  # a retry: the outbox rewrites the same message
    old = RemindAssignmentEnding(assignment_id=assignment_id, ends_at=ends_at - DAY)
    assert until.remind_assignment(old).sent == 0  # the store holds another date
    (sent,) = outbox.glob("*.eml")
    with read_session(demo) as session:
        (delivery,) = session.exec(select(EmailDelivery)).all()
    assert delivery.to_addr == SAM and delivery.sent_at is not None
    assert SAM in sent.read_text("utf-8")


def test_r23_the_recorded_reminder_history_holds_the_reminder_and_the_end() -> None:
    """The history test_replay.py replays for this path took it: a reminder, then the end
    (and no patch marker: before 1.0.0 a change re-records instead, docs/operations.md)."""
    history = WorkflowHistory.from_json(RECORDED, (HISTORIES / f"{RECORDED}.json").read_text())
    markers = [e for e in history.events if e.HasField("marker_recorded_event_attributes")]
    activities = [
        e.activity_task_scheduled_event_attributes.activity_type.name
        for e in history.events
        if e.HasField("activity_task_scheduled_event_attributes")
    ]
    assert markers == []
    assert activities == [EndDateName.REMIND_ASSIGNMENT, EndDateName.END_ASSIGNMENT]
