"""Nothing retries for ever.

Each class of activity failure (activities/refusals.py): refusals keep their code; faults
that heal (database locked or away) are re-raised for Temporal to retry; bad data and
broken invariants become non-retryable ``invalid_data`` / ``broken_invariant``; constraint
violations are retried a few times, then are broken invariants.

End to end: a request whose admission meets bad stored data (a BC's timezone edited by hand
into one that does not exist) ends at once with ``RequestStatus = 'failed'``, the reason
in its result, its history and the caller's error, and no row in the store. A member
invitation whose admission fails for good ends ``failed`` too; a removal whose campaign
step fails for good ends ``failed`` (the grants stay ended). A mail refused for good
(``email_rejected``) is noted in the request's state and summary, and the request carries
on to approval.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from pydantic import BaseModel
from sqlalchemy import Engine, text
from sqlalchemy.exc import (
    DataError,
    IntegrityError,
    NoResultFound,
    OperationalError,
    StatementError,
)
from temporalio import activity
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.exceptions import ApplicationError
from temporalio.worker import Worker

from activities import refusals
from activities.refusals import INTEGRITY_ATTEMPTS, fault_of, refusals_as_errors
from client.access_requests import RequestService
from client.partners import PartnerService
from models.enums import MemberRole, RequestMethod, RequestStatus
from models.errors import ErrorCode, Refusal
from models.messages import (
    ApproveRequest,
    DecideApproval,
    Decision,
    EmailsSent,
    RequestResult,
    RequestState,
    SendRequestEmails,
)
from models.names import Activity, Message, PartnerActivity, request_workflow_id
from models.partner_messages import (
    CreateMemberInvitation,
    InvitationOutcome,
    InvitationResult,
    PageStopped,
    StopCampaignPage,
)
from models.settings import Settings
from models.tables import AccessRequest
from store.db import read_session, write_session
from tests.conftest import AGENCY, ANA, OLI, S1_SHOP
from tests.partners_support import grant_in_store

# --- the classifier, one test per class ------------------------------------------------------


def _raising(err: BaseException) -> Any:
    @refusals_as_errors
    def activity_body() -> None:
        raise err

    return activity_body


def test_a_refusal_keeps_its_code_and_details() -> None:
    with pytest.raises(ApplicationError) as info:
        _raising(Refusal(ErrorCode.NOT_BC_ADMIN, "Ask an admin.", bc=1))()
    assert info.value.type == ErrorCode.NOT_BC_ADMIN and info.value.non_retryable
    assert info.value.message == "Ask an admin." and info.value.details == ({"bc": 1},)


@pytest.mark.parametrize(
    "err",
    [
        OperationalError("UPDATE x", {}, Exception("database is locked")),
        ConnectionResetError("connection reset by peer"),
        TimeoutError("timed out"),
        RuntimeError("something we have not met yet"),
    ],
    ids=["db-locked", "connection-reset", "timeout", "unknown"],
)
def test_faults_that_may_heal_are_left_to_temporal_to_retry(err: BaseException) -> None:
    with pytest.raises(type(err)):
        _raising(err)()


class _Row(BaseModel):
    id: int


def _validation_error() -> Exception:
    try:
        _Row.model_validate({"id": "not a number"})
    except ValueError as err:
        return err
    raise AssertionError("unreachable")


@pytest.mark.parametrize(
    ("err", "code"),
    [
        (OverflowError("Python int too large to convert to SQLite INTEGER"), "invalid_data"),
        (ValueError("bad stored value"), "invalid_data"),
        (_validation_error(), "invalid_data"),
        (DataError("INSERT", {}, Exception("value out of range")), "invalid_data"),
        (AssertionError("shop.id is None"), "broken_invariant"),
        (KeyError("missing"), "broken_invariant"),
        (NoResultFound("no row"), "broken_invariant"),
        (
            StatementError("bad enum", "SELECT", {}, LookupError("'x' is not a status")),
            "broken_invariant",
        ),
    ],
    ids=["overflow", "value", "pydantic", "db-data", "assert", "lookup", "no-row", "wrapped"],
)
def test_bad_data_and_broken_invariants_never_retry(err: BaseException, code: str) -> None:
    with pytest.raises(ApplicationError) as info:
        _raising(err)()
    assert info.value.type == code and info.value.non_retryable
    wrapped = isinstance(err, StatementError) and not isinstance(err, DataError)
    cause = err.orig if wrapped else err  # type: ignore[attr-defined]
    assert info.value.message.startswith(type(cause).__name__)


def test_a_stored_timezone_that_does_not_exist_is_invalid_data() -> None:
    from zoneinfo import ZoneInfo

    with pytest.raises(ApplicationError) as info:
        refusals_as_errors(lambda: ZoneInfo("Mars/Olympus"))()
    assert info.value.type == ErrorCode.INVALID_DATA and "Mars/Olympus" in info.value.message


def test_a_constraint_violation_is_retried_then_is_a_broken_invariant(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    err = IntegrityError("INSERT", {}, Exception("UNIQUE constraint failed: shop_grant.key"))
    for attempt in range(1, INTEGRITY_ATTEMPTS):
        assert fault_of(err, attempt) is None  # a concurrent writer: the retry steps over
    monkeypatch.setattr(refusals, "_attempt", lambda: INTEGRITY_ATTEMPTS)
    with pytest.raises(ApplicationError) as info:
        _raising(err)()
    assert info.value.type == ErrorCode.BROKEN_INVARIANT and info.value.non_retryable


# --- end to end: bad stored data at admission ---------------------------------------------


async def test_admission_on_bad_stored_data_ends_failed_not_retrying(
    service: RequestService, demo: Engine, client: Client
) -> None:
    with write_session(demo) as session:  # a row made inconsistent by hand
        session.execute(
            text("UPDATE business_center SET timezone = 'Mars/Olympus' WHERE id = :id"),
            {"id": AGENCY},
        )
    started = time.monotonic()
    with pytest.raises(Refusal) as info:
        await service.submit(
            method=RequestMethod.REQUEST_ACCESS, bc_id=AGENCY, shop_code=S1_SHOP, by=ANA
        )
    # Answered at once (the first attempt is the last), not after the caller's timeout.
    assert time.monotonic() - started < service.timeout
    assert info.value.code == ErrorCode.INVALID_DATA
    assert "Mars/Olympus" in info.value.message

    workflow_id = request_workflow_id(RequestMethod.REQUEST_ACCESS, AGENCY, S1_SHOP)
    handle = client.get_workflow_handle(workflow_id, result_type=RequestResult)
    async with asyncio.timeout(20):
        result = await handle.result()
    assert result.status == "failed" and result.refusal_code == ErrorCode.INVALID_DATA
    assert result.refusal_message and "Mars/Olympus" in result.refusal_message
    history = await handle.fetch_history()
    assert "Mars/Olympus" in history.to_json()  # the reason, for whoever opens it
    with read_session(demo) as session:
        assert session.get(AccessRequest, result.request_id) is None

    # Ops find it in the Temporal UI by status (visibility is eventually consistent).
    query = f"BusinessCenterId = '{AGENCY}' AND RequestStatus = 'failed'"
    deadline = time.monotonic() + 15
    while True:
        found = [w async for w in client.list_workflows(query) if w.id == workflow_id]
        if found and found[0].status is WorkflowExecutionStatus.COMPLETED:
            break
        assert time.monotonic() < deadline, f"{workflow_id} not listed by {query!r}"
        await asyncio.sleep(0.2)


# --- workflows meeting activities that fail for good ----------------------------------------


@contextlib.asynccontextmanager
async def worker_replacing(
    client: Client, settings: Settings, engine: Engine, method: str, stub: Any
) -> AsyncIterator[None]:
    """The real worker on the test's queue, with the activity method ``method`` replaced by
    ``stub`` (same activity name): a failure the real code only shows on a broken system."""
    from worker import WORKFLOWS, activities_for, workflow_runner

    real = [a for a in activities_for(settings, engine) if a.__name__ != method]
    assert len(real) == len(activities_for(settings, engine)) - 1, method
    with ThreadPoolExecutor(max_workers=settings.activity_threads) as executor:
        async with Worker(
            client,
            task_queue=settings.task_queue,
            workflows=WORKFLOWS,
            activities=[*real, stub],
            activity_executor=executor,
            workflow_runner=workflow_runner(settings.worker_sandbox),
        ):
            yield


async def test_r7_a_refused_first_email_is_noted_and_the_request_carries_on(
    client: Client, settings: Settings, demo: Engine
) -> None:
    """The mail activity refusing for good (an SMTP 5xx: ``email_rejected``) leaves the
    request pending with the failure in its state and summary; the seller can still
    approve through the copied link (R7, R14)."""

    @activity.defn(name=Activity.SEND_REQUEST_EMAILS)
    def refused_by_smtp(_: SendRequestEmails) -> EmailsSent:
        raise ApplicationError(
            "550 5.1.1 mailbox unavailable", type="email_rejected", non_retryable=True
        )

    async with worker_replacing(client, settings, demo, "send_request_emails", refused_by_smtp):
        service = RequestService(client, demo, settings.task_queue, timeout=20)
        sub = await service.submit(
            method=RequestMethod.REQUEST_ACCESS, bc_id=AGENCY, shop_code=S1_SHOP, by=ANA
        )
        handle = client.get_workflow_handle(sub.workflow_id, result_type=RequestResult)
        deadline = time.monotonic() + 15
        while not (
            state := await handle.query(Message.STATE, result_type=RequestState)
        ).mail_failures:
            assert time.monotonic() < deadline, "the mail failure was never noted"
            await asyncio.sleep(0.1)
        assert "email_rejected" in state.mail_failures[0]
        assert state.status is RequestStatus.PENDING
        outcome = await service.approve(sub.request_id, ApproveRequest(by=OLI))
        assert outcome.status is RequestStatus.APPROVED
        async with asyncio.timeout(20):
            result = await handle.result()
        assert result.status == RequestStatus.APPROVED


# --- a removal whose campaign step fails for good ends "failed" ---------------------------


async def test_r19_removal_ends_failed_when_stopping_campaigns_fails_for_good(
    client: Client, settings: Settings, demo: Engine
) -> None:
    """The grants end at once (R19); if stopping the campaigns then meets bad data, the
    removal does not retry for ever: it ends ``failed`` with the reason, and ops find it
    by ``RequestStatus = 'failed'``."""

    @activity.defn(name=PartnerActivity.STOP_CAMPAIGN_PAGE)
    def broken_page(_: StopCampaignPage) -> PageStopped:
        raise ApplicationError(
            "ValueError: campaign 7 has no ad account", type="invalid_data", non_retryable=True
        )

    grant_in_store(demo, bc_id=AGENCY, shop_code=S1_SHOP, admin=ANA, seller=OLI)
    async with worker_replacing(client, settings, demo, "stop_page", broken_page):
        partners = PartnerService(client, demo, settings.task_queue, timeout=20)
        ended, workflow_id = await partners.remove_access(
            shop_code=S1_SHOP, partner_bc_id=AGENCY, by=OLI
        )
        assert ended.ended_grant_ids  # the access is gone whatever follows
        async with asyncio.timeout(20):
            result = await partners.removal_result(workflow_id)
    assert result.status == "failed" and result.refusal_code == ErrorCode.INVALID_DATA
    assert result.refusal_message and "no ad account" in result.refusal_message
    query = f"BusinessCenterId = '{AGENCY}' AND RequestStatus = 'failed'"
    deadline = time.monotonic() + 15
    while not [w async for w in client.list_workflows(query) if w.id == workflow_id]:
        assert time.monotonic() < deadline, f"{workflow_id} not listed by {query!r}"
        await asyncio.sleep(0.2)


async def test_r16_invitation_whose_admission_fails_for_good_ends_failed(
    client: Client, settings: Settings, demo: Engine
) -> None:
    @activity.defn(name=PartnerActivity.CREATE_MEMBER_INVITATION)
    def broken_admission(_: CreateMemberInvitation) -> InvitationOutcome:
        raise ApplicationError(
            "AssertionError: BC row without a timezone", type="broken_invariant", non_retryable=True
        )

    async with worker_replacing(
        client, settings, demo, "create_member_invitation", broken_admission
    ):
        partners = PartnerService(client, demo, settings.task_queue, timeout=20)
        with pytest.raises(Refusal) as info:
            await partners.invite_members(
                bc_id=AGENCY, emails=["new@brand.com"], role=MemberRole.STANDARD,
                ad_accounts=[], by=ANA,
            )  # fmt: skip
        assert info.value.code == ErrorCode.BROKEN_INVARIANT
        query = f"TaskQueue = '{settings.task_queue}'"
        deadline = time.monotonic() + 15
        while not (runs := [w async for w in client.list_workflows(query)]):
            assert time.monotonic() < deadline, "the invitation workflow never showed"
            await asyncio.sleep(0.2)
        handle = client.get_workflow_handle(runs[0].id, result_type=InvitationResult)
        async with asyncio.timeout(20):
            result = await handle.result()
    assert result.status == "failed" and result.refusal_code == ErrorCode.BROKEN_INVARIANT


async def test_r13_an_approval_meeting_bad_data_answers_at_once_and_stays_pending(
    client: Client, settings: Settings, demo: Engine
) -> None:
    """An update's activity failing for good reaches the caller as its code and message at
    once (not after the caller's timeout); the request stays pending, so once the data is
    fixed the seller's next click can approve it."""

    @activity.defn(name=Activity.DECIDE_AND_GRANT)
    def broken_decision(_: DecideApproval) -> Decision:
        raise ApplicationError(
            "AssertionError: shop 1 has no team", type="broken_invariant", non_retryable=True
        )

    async with worker_replacing(client, settings, demo, "decide_and_grant", broken_decision):
        service = RequestService(client, demo, settings.task_queue, timeout=20)
        sub = await service.submit(
            method=RequestMethod.REQUEST_ACCESS, bc_id=AGENCY, shop_code=S1_SHOP, by=ANA
        )
        started = time.monotonic()
        with pytest.raises(Refusal) as info:
            await service.approve(sub.request_id, ApproveRequest(by=OLI))
        assert time.monotonic() - started < service.timeout
        assert info.value.code == ErrorCode.BROKEN_INVARIANT
        assert "has no team" in info.value.message
        handle = client.get_workflow_handle(sub.workflow_id)
        state = await handle.query(Message.STATE, result_type=RequestState)
        assert state.status is RequestStatus.PENDING
    with read_session(demo) as session:
        row = session.get(AccessRequest, sub.request_id)
        assert row is not None and row.status is RequestStatus.PENDING
