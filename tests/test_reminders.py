"""R25 Reminders, across their timers on the time-skipping test server: a request still
pending 3 and 10 days after the last e-mail to the shop team reminds every member, with
their own approval link, at most twice; never after a decision; a resend e-mail starts the
clock over; a worker restart in between repeats and loses no reminder.

As in test_r9_no_expiry.py, the test server has no custom search attributes: the
workflow's upserts are no-ops here and the workflow starts without them. For the same
reason the history of the first walk (two reminders fired, a restart, an approval) lives in
tests/histories/time_skipping/, outside test_replay.py's glob, and is replayed here with
the same no-op upserts. Re-record it with ``RECORD_R25_HISTORY=1`` after a deliberate
change (before 1.0.0 the new file replaces the old; tests/record_histories.py says why).
"""

from __future__ import annotations

import json
import os
import re
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import select
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer, UnsandboxedWorkflowRunner

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
from models.tables import Shop
from store.db import read_session
from tests.conftest import (
    AGENCY,
    ANA,
    OLI,
    S1_SHOP,
    WAIT_SECONDS,
    outbox_messages,
    time_skipping_worker,
    wait_until,
)
from worker import WORKFLOWS

HOUR, DAY = timedelta(hours=1), timedelta(days=1)
HISTORY = Path(__file__).resolve().parent / "histories" / "time_skipping"
REMINDERS_HISTORY = HISTORY / "RequestAccessToShop_reminders.json"


@pytest.fixture()
def settings(demo: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setattr(workflow, "upsert_search_attributes", lambda *a, **k: None)
    return Settings(
        database_url=demo.url.render_as_string(hide_password=False),
        task_queue=f"r25-{uuid.uuid4().hex[:10]}",
        mail_outbox_dir=tmp_path / "outbox",
        dev_mode=True,
    )


async def start_request(
    env: WorkflowEnvironment, settings: Settings, engine: Engine
) -> tuple[Any, str]:
    with read_session(engine) as session:
        shop = session.exec(select(Shop).where(Shop.code == S1_SHOP)).one()
    assert shop.id is not None
    method = RequestMethod.REQUEST_ACCESS
    request_id = new_request_id()
    handle: Any = await env.client.start_workflow(
        WorkflowType.REQUEST_ACCESS,
        RequestInput(
            request_id=request_id,
            method=method,
            bc_id=AGENCY,
            shop_id=shop.id,
            shop_code=shop.code,
            requested_by=ANA,
            reminder_days=settings.reminder_days,
        ),
        id=request_workflow_id(method, AGENCY, shop.code),
        task_queue=settings.task_queue,
        result_type=RequestResult,
    )
    admitted = await handle.execute_update(
        Message.ADMISSION, WaitAdmission(), result_type=AdmissionOutcome
    )
    assert admitted.status == "pending"
    await wait_until(lambda: first_emails(settings), what="the first e-mail to the team")
    return handle, request_id


def first_emails(settings: Settings) -> list[Any]:
    return [m for m in outbox_messages(settings) if "asks for access" in m["Subject"]]


def reminders(settings: Settings) -> list[Any]:
    return [m for m in outbox_messages(settings) if "is still waiting for access" in m["Subject"]]


def waited(settings: Settings) -> list[str]:
    """What each reminder says about the wait, sorted (the outbox is in no time order)."""
    bodies = [m.get_body(("plain",)).get_content() for m in reminders(settings)]
    return sorted(
        " ".join(found.split()) for b in bodies for found in re.findall(r"\d+\s+days? ago", b)
    )


async def state_of(handle: Any) -> RequestState:
    state: RequestState = await handle.query(Message.STATE, result_type=RequestState)
    return state


async def sent(handle: Any, settings: Settings, count: int) -> None:
    """Wait until the workflow has sent ``count`` reminders and their mails are out."""
    await wait_until(lambda: _reminded(handle, settings, count), what=f"{count} reminder(s) sent")


async def _reminded(handle: Any, settings: Settings, count: int) -> bool:
    return (await state_of(handle)).reminders_sent == count and len(reminders(settings)) == count


async def test_r25_reminds_after_3_and_10_days_at_most_twice_across_a_worker_restart(
    time_skipping_env: WorkflowEnvironment, demo: Engine, settings: Settings
) -> None:
    env = time_skipping_env
    async with time_skipping_worker(env.client, settings, demo):
        handle, request_id = await start_request(env, settings, demo)
        await env.sleep(3 * DAY - HOUR)
        assert reminders(settings) == [] and (await state_of(handle)).reminders_sent == 0
        await env.sleep(2 * HOUR)
        await sent(handle, settings, 1)

    first = reminders(settings)[0]
    assert first["To"] == OLI  # the shop's team (its only member in the demo data)
    body = first.get_body(("plain",)).get_content()
    assert "3 days ago" in body and "/approve/" in body and "decline" in body

    # A new worker (a deploy, a crash) carries on from history: no repeat, no loss.
    async with time_skipping_worker(env.client, settings, demo):
        await env.sleep(6 * DAY)  # day 9: nothing new
        assert len(reminders(settings)) == 1
        await env.sleep(2 * DAY)  # day 11
        await sent(handle, settings, 2)
        assert waited(settings) == ["10 days ago", "3 days ago"]
        await env.sleep(60 * DAY)  # at most two
        assert len(reminders(settings)) == 2
        assert (await state_of(handle)).status is RequestStatus.PENDING  # R9: no expiry

        service = RequestService(env.client, demo, settings.task_queue, timeout=WAIT_SECONDS)
        approved = await service.approve(request_id, ApproveRequest(by=OLI))
        assert approved.status is RequestStatus.APPROVED
        assert (await handle.result()).status == "approved"
    assert len(reminders(settings)) == 2
    if os.environ.get("RECORD_R25_HISTORY") == "1":
        history = await handle.fetch_history()
        HISTORY.mkdir(exist_ok=True)
        REMINDERS_HISTORY.write_text(json.dumps(json.loads(history.to_json()), indent=1) + "\n")


async def test_r25_the_recorded_reminders_history_replays_on_current_code(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two fired reminder timers, their mails, a worker restart and the approval replay on
    today's code: a change to the reminders that breaks this must re-record it."""
    monkeypatch.setattr(workflow, "upsert_search_attributes", lambda *a, **k: None)
    history = WorkflowHistory.from_json(REMINDERS_HISTORY.stem, REMINDERS_HISTORY.read_text())
    fired = [e for e in history.events if e.HasField("timer_fired_event_attributes")]
    assert len(fired) == 2  # the history is the one this test means
    replayer = Replayer(
        workflows=WORKFLOWS,
        data_converter=pydantic_data_converter,
        workflow_runner=UnsandboxedWorkflowRunner(),
    )
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, repr(result.replay_failure)


async def test_r25_a_resend_e_mail_starts_the_clock_over(
    time_skipping_env: WorkflowEnvironment, demo: Engine, settings: Settings
) -> None:
    env = time_skipping_env
    async with time_skipping_worker(env.client, settings, demo):
        handle, request_id = await start_request(env, settings, demo)
        service = RequestService(env.client, demo, settings.task_queue, timeout=WAIT_SECONDS)
        await env.sleep(2 * DAY)
        await service.resend(request_id, by=ANA, copy_link=False)  # day 2
        await env.sleep(2 * DAY)  # day 4: 3 days after the first e-mail, 2 after the resend
        assert reminders(settings) == [] and (await state_of(handle)).reminders_sent == 0
        await env.sleep(DAY + HOUR)  # day 5 and an hour: 3 days after the resend
        await sent(handle, settings, 1)
        # A copied link mails no one, so it moves no clock: the second is due on day 12.
        await service.resend(request_id, by=ANA, copy_link=True)
        await env.sleep(6 * DAY)  # day 11
        assert len(reminders(settings)) == 1
        await env.sleep(DAY + HOUR)  # day 12 and two hours
        await sent(handle, settings, 2)
        # The second reminder says how long the request has waited since it was made.
        assert waited(settings) == ["12 days ago", "5 days ago"]


async def test_r25_no_reminder_after_a_decline_or_with_reminders_turned_off(
    time_skipping_env: WorkflowEnvironment, demo: Engine, settings: Settings
) -> None:
    env = time_skipping_env
    async with time_skipping_worker(env.client, settings, demo):
        handle, request_id = await start_request(env, settings, demo)
        service = RequestService(env.client, demo, settings.task_queue, timeout=WAIT_SECONDS)
        await env.sleep(DAY)
        assert (await service.decline(request_id, by=OLI)).status == "declined"
        assert (await handle.result()).status == "declined"
        await env.sleep(30 * DAY)
        assert reminders(settings) == []

    quiet = settings.model_copy(update={"request_reminder_days": ""})
    assert quiet.reminder_days == []
    async with time_skipping_worker(env.client, quiet, demo):
        handle, _request_id = await start_request(env, quiet, demo)
        await env.sleep(30 * DAY)
        state = await state_of(handle)
        assert state.status is RequestStatus.PENDING and state.reminders_sent == 0
        assert reminders(quiet) == []


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("3,10,20", "at most 2"),
        ("10,3", "ascending"),
        ("3,3", "ascending"),
        ("0", "above 0"),
        ("-1", "above 0"),
        ("3 days", "above 0"),
        ("2.5", "above 0"),
    ],
)
def test_r25_a_policy_the_rule_cannot_mean_is_refused_at_startup(value: str, words: str) -> None:
    """REQUEST_REMINDER_DAYS is checked where the settings are read, so no worker, CLI or
    link handler starts requests with a policy R25 cannot mean."""
    from pydantic import ValidationError

    with pytest.raises(ValidationError) as info:
        Settings(dev_mode=True, request_reminder_days=value)
    assert "REQUEST_REMINDER_DAYS" in str(info.value) and words in str(info.value)


@pytest.mark.parametrize(("value", "days"), [("3,10", [3, 10]), (" 1 , 7 ", [1, 7]), ("", [])])
def test_r25_the_policy_as_the_workflow_takes_it(value: str, days: list[int]) -> None:
    assert Settings(dev_mode=True, request_reminder_days=value).reminder_days == days


async def test_r25_every_member_of_the_team_is_reminded_with_their_own_link(
    time_skipping_env: WorkflowEnvironment, demo: Engine, settings: Settings
) -> None:
    from tests.conftest import LINKED_BC, load_data

    max_ = "max@brand-linked.com"
    load_data(demo, {
        "users": [{"email": max_, "name": "Max (main admin)"}],
        "shops": [{"code": S1_SHOP, "name": "Linked Brand Store (S1)", "location": "GB",
                   "linked_bc": LINKED_BC,
                   "team": [{"email": OLI, "role": "owner"},
                            {"email": max_, "role": "main_admin"}]}],
    })  # fmt: skip
    env = time_skipping_env
    async with time_skipping_worker(env.client, settings, demo):
        handle, _request_id = await start_request(env, settings, demo)
        await env.sleep(3 * DAY + HOUR)
        await wait_until(
            lambda: len(reminders(settings)) == 2, what="a reminder to each team member"
        )
        assert (await state_of(handle)).reminders_sent == 1
    assert sorted(m["To"] for m in reminders(settings)) == sorted([OLI, max_])
    links = {
        m["To"]: next(
            line
            for line in m.get_body(("plain",)).get_content().splitlines()
            if "/approve/" in line
        )
        for m in reminders(settings)
    }
    assert links[OLI] != links[max_]  # each their own personal link (R13)
