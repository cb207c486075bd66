"""Request workflows through the real worker and dev server (``client``): what the CLI and
the link handler see.

Refusals from submit/resend/cancel/approve come back as :class:`Refusal` with their stable
code (R1-R6, R8, R12-R13); resend e-mails again and --copy returns the link (R8); cancel
(R9 policy); the race ends the losing workflow by itself (R11); the Temporal UI's signal
approves (R10); a double-submitted approval decides once; ops find requests by search
attribute (R21); continue-as-new keeps everything (R9, R20).
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from sqlalchemy import Engine, func
from sqlmodel import select
from temporalio.client import Client, WorkflowExecutionStatus

from client.access_requests import RequestService, Submitted
from models.enums import RequestMethod, RequestStatus, Scenario
from models.errors import ErrorCode, Refusal
from models.messages import ApproveRequest, RequestResult, RequestState
from models.names import Message
from models.settings import Settings
from models.tables import AccessRequest, AuditEvent, RequestSend, ShopGrant
from store.admission import admit_request
from store.db import read_session, write_session
from store.people import find_shop_by_code
from tests.conftest import (
    AGENCY,
    ANA,
    KIM,
    LEE,
    NIA,
    OLI,
    RAJ,
    S1_SHOP,
    S2_SHOP,
    S4_SHOP,
    SAM,
    SUBAGENCY,
    WAIT_SECONDS,
    can_suggesting_worker,
    closed_runs,
    load_data,
    outbox_messages,
    wait_until,
)

RA, AMS = RequestMethod.REQUEST_ACCESS, RequestMethod.ADD_MY_SHOP
FOREIGN_AGENCY = 7100000000000000090
FAY = "fay@foreign.example"
EXTRA = {
    "users": [{"email": FAY, "name": "Fay"}],
    "business_centers": [
        {"id": FOREIGN_AGENCY, "name": "Agence FR", "type": "agency", "country": "FR",
         "timezone": "Europe/Paris", "members": [{"email": FAY, "role": "admin"}]},
    ],
    "shops": [
        {"code": "JPSHOP0001", "name": "Tokyo Store", "location": "JP", "linked_bc": None,
         "team": [{"email": OLI, "role": "owner"}]},
        *[
            {"code": f"BULKSHOP{i:02d}", "name": f"Bulk {i}", "location": "SG",
             "linked_bc": None, "team": [{"email": OLI, "role": "owner"}]}
            for i in range(21)
        ],
    ],
}  # fmt: skip


@pytest.fixture()
def data(demo: Engine) -> Engine:
    load_data(demo, EXTRA)
    return demo


async def submit(
    service: RequestService, code: str = S1_SHOP, method: RequestMethod = RA,
    bc: int = AGENCY, by: str = ANA,
) -> Submitted:  # fmt: skip
    return await service.submit(method=method, bc_id=bc, shop_code=code, by=by)


async def refusal_of(awaitable: Any) -> Refusal:
    with pytest.raises(Refusal) as info:
        await awaitable
    return info.value


def count(engine: Engine, table: type, *where: Any) -> int:
    with read_session(engine) as session:
        return int(session.exec(select(func.count()).select_from(table).where(*where)).one())


def request_row(engine: Engine, request_id: str) -> AccessRequest:
    with read_session(engine) as session:
        row = session.get(AccessRequest, request_id)
        assert row is not None
        return row


async def result_of(client: Client, workflow_id: str) -> RequestResult:
    handle = client.get_workflow_handle(workflow_id, result_type=RequestResult)
    async with asyncio.timeout(WAIT_SECONDS):
        return await handle.result()


async def eventually(check: Any) -> None:
    """Wait until ``check()`` is true: the first e-mail goes out after admission answers."""
    await wait_until(check, what="the e-mails expected")


def team_emails(settings: Settings, to: str | None = None) -> list[Any]:
    return [
        m for m in outbox_messages(settings)
        if "asks for access" in m["Subject"] and (to is None or m["To"] == to)
    ]  # fmt: skip


# --- refusals on submit (R1-R6) --------------------------------------------------------------


@pytest.mark.parametrize(
    ("kw", "code", "words"),
    [
        ({"by": SAM}, ErrorCode.NOT_BC_ADMIN, ("co-admin",)),
        ({"bc": FOREIGN_AGENCY, "by": "fay@foreign.example"}, ErrorCode.BC_NOT_ELIGIBLE, ("FR",)),
        ({"code": "JPSHOP0001"}, ErrorCode.SHOP_LOCATION_NOT_SUPPORTED, ("JP",)),
        ({"code": "NOSUCHSHOP"}, ErrorCode.UNKNOWN_SHOP_CODE, ("Seller information",)),
        ({"code": "bad code!"}, ErrorCode.UNKNOWN_SHOP_CODE, ("Seller information",)),
    ],
)
async def test_r1_r5_submit_refusals_carry_their_code_and_change_nothing(
    service: RequestService, data: Engine, settings: Settings,
    kw: dict[str, Any], code: ErrorCode, words: tuple[str, ...],
) -> None:  # fmt: skip
    refusal = await refusal_of(submit(service, **kw))
    assert refusal.code == code
    for word in words:
        assert word in refusal.message
    assert count(data, AccessRequest) == 0
    assert count(data, RequestSend) == 0
    assert outbox_messages(settings) == []


async def test_r4_twenty_first_submit_is_refused_with_the_reset_time(
    service: RequestService, data: Engine
) -> None:
    # Twenty admitted today straight in the store (the store tests cover counting).
    with write_session(data) as session:
        for i in range(20):
            shop = find_shop_by_code(session, f"BULKSHOP{i:02d}")
            assert shop is not None and shop.id is not None
            admit_request(
                session, request_id=f"req_bulk{i:02d}", method=RA, bc_id=AGENCY,
                shop_id=shop.id, requested_by=ANA, workflow_id=f"wf-{i}",
            )  # fmt: skip
    refusal = await refusal_of(submit(service, "BULKSHOP20"))
    assert refusal.code == ErrorCode.DAILY_LIMIT_REACHED
    assert "resets at midnight Asia/Singapore" in refusal.message
    assert "resets_at" in refusal.details
    assert count(data, AccessRequest) == 20


async def test_r6_second_submit_while_pending_points_to_the_pending_request(
    service: RequestService, demo: Engine, settings: Settings
) -> None:
    first = await submit(service)
    refusal = await refusal_of(submit(service))
    assert refusal.code == ErrorCode.REQUEST_ALREADY_PENDING
    assert first.request_id in refusal.message and "resend" in refusal.message
    assert count(demo, AccessRequest) == 1
    await eventually(lambda: len(team_emails(settings)) == 1)
    # And no second one can follow: e-mails go out per recorded send, and the refused
    # submit recorded none (no sleep-and-look: state, not time).
    assert count(demo, RequestSend) == 1
    assert len(team_emails(settings)) == 1


async def test_r6_submit_when_the_bc_holds_the_shop_says_so(
    service: RequestService, demo: Engine
) -> None:
    first = await submit(service)
    await service.approve(first.request_id, ApproveRequest(by=OLI))
    refusal = await refusal_of(submit(service))
    assert refusal.code == ErrorCode.ALREADY_HAS_ACCESS
    assert "already has access" in refusal.message
    assert count(demo, AccessRequest) == 1


# --- resend and cancel (R8, R9) --------------------------------------------------------------


async def test_r8_resend_emails_the_team_again_and_copy_returns_the_link(
    service: RequestService, demo: Engine, settings: Settings
) -> None:
    sub = await submit(service)
    await eventually(lambda: len(team_emails(settings, OLI)) == 1)
    out = await service.resend(sub.request_id, by=ANA, copy_link=False)
    assert (out.channel, out.seq) == ("resend_email", 2)
    mails = team_emails(settings, OLI)
    assert len(mails) == 2
    assert any(m["Subject"].startswith("Reminder: ") for m in mails)
    copied = await service.resend(sub.request_id, by=ANA, copy_link=True)
    assert copied.channel == "copy_link" and copied.approval_url == sub.approval_url
    assert "/approve/" in copied.approval_url
    assert len(team_emails(settings, OLI)) == 2  # copying sends nothing
    refusal = await refusal_of(service.resend(sub.request_id, by=ANA, copy_link=False))
    assert refusal.code == ErrorCode.RESEND_TOO_SOON and "copy the link" in refusal.message
    refusal = await refusal_of(service.resend(sub.request_id, by=SAM, copy_link=True))
    assert refusal.code == ErrorCode.NOT_BC_ADMIN
    with read_session(demo) as session:
        sends = session.exec(
            select(RequestSend.channel).where(RequestSend.request_id == sub.request_id)
        ).all()
    assert [str(s) for s in sends] == ["email", "resend_email", "copy_link"]
    assert len(team_emails(settings, OLI)) == 2


async def test_r9_cancel_withdraws_and_then_nothing_changes_it(
    service: RequestService, demo: Engine, client: Client
) -> None:
    sub = await submit(service)
    refusal = await refusal_of(service.cancel(sub.request_id, by=SAM))
    assert refusal.code == ErrorCode.NOT_BC_ADMIN
    out = await service.cancel(sub.request_id, by=ANA)
    assert out.status == "cancelled"
    assert (await result_of(client, sub.workflow_id)).status == "cancelled"
    assert request_row(demo, sub.request_id).status is RequestStatus.CANCELLED
    for attempt in (
        service.approve(sub.request_id, ApproveRequest(by=OLI)),
        service.resend(sub.request_id, by=ANA, copy_link=True),
        service.cancel(sub.request_id, by=ANA),
    ):
        refusal = await refusal_of(attempt)
        assert refusal.code == ErrorCode.REQUEST_NOT_PENDING and "cancelled" in refusal.message
    assert count(demo, ShopGrant) == 0


async def test_unknown_request_is_refused(service: RequestService, demo: Engine) -> None:
    refusal = await refusal_of(service.approve("req_nope", ApproveRequest(by=OLI)))
    assert refusal.code == ErrorCode.UNKNOWN_REQUEST and "req_nope" in refusal.message


async def test_r7_personal_link_refusals_change_nothing(
    service: RequestService, demo: Engine, client: Client, settings: Settings
) -> None:
    """An empty or overlong address, or an unknown request, is refused before anything
    is queued or sent."""
    sub = await submit(service, S1_SHOP)
    for address in ("   ", "a" * 310 + "@example.com"):
        refusal = await refusal_of(service.request_personal_link(sub.request_id, address))
        assert refusal.code == ErrorCode.INVALID_INPUT
        assert refusal.message == "Enter your e-mail address."
    refusal = await refusal_of(service.request_personal_link("req_nope", OLI))
    assert refusal.code == ErrorCode.UNKNOWN_REQUEST and "req_nope" in refusal.message
    state = await client.get_workflow_handle(sub.workflow_id).query(
        Message.STATE, result_type=RequestState
    )
    assert state.status is RequestStatus.PENDING and state.personal_links == []
    assert not [m for m in outbox_messages(settings) if "Your link" in str(m["Subject"])]


# --- the seller's decision (R10-R14) ---------------------------------------------------------


async def test_r13_r12_approval_refusals_leave_the_request_pending(
    service: RequestService, demo: Engine, client: Client
) -> None:
    s1 = await submit(service, S1_SHOP)
    s2 = await submit(service, S2_SHOP)
    s4 = await submit(service, S4_SHOP)
    cases = [
        (s1, ApproveRequest(by=RAJ), ErrorCode.NOT_SHOP_TEAM, "not on the team"),
        (s4, ApproveRequest(by=KIM), ErrorCode.BC_ADMIN_REQUIRED, "bo@brand-member.com"),
        (s2, ApproveRequest(by=NIA), ErrorCode.INVALID_INPUT, "Enter a name"),
        (s2, ApproveRequest(by=NIA, new_bc_name="N", timezone="Nowhere/City"),
         ErrorCode.INVALID_INPUT, "IANA"),
    ]  # fmt: skip
    for sub, command, code, words in cases:
        refusal = await refusal_of(service.approve(sub.request_id, command))
        assert refusal.code == code, refusal.message
        assert words in refusal.message
        assert request_row(demo, sub.request_id).status is RequestStatus.PENDING
        state = await client.get_workflow_handle(sub.workflow_id).query(
            Message.STATE, result_type=RequestState
        )
        assert state.status is RequestStatus.PENDING
    assert count(demo, ShopGrant) == 0
    # Still valid after a refusal: S2 approves with a name and a timezone.
    outcome = await service.approve(
        s2.request_id, ApproveRequest(by=NIA, new_bc_name="Nia's BC", timezone="Asia/Singapore")
    )
    assert outcome.status is RequestStatus.APPROVED and outcome.scenario is Scenario.S2
    refusal = await refusal_of(service.approve(s2.request_id, ApproveRequest(by=NIA)))
    assert refusal.code == ErrorCode.REQUEST_NOT_PENDING and "approved" in refusal.message


async def test_r11_approving_one_method_ends_the_others_workflow_as_expired(
    service: RequestService, demo: Engine, client: Client, settings: Settings
) -> None:
    ra = await submit(service, method=RA)
    ams = await submit(service, method=AMS)
    theirs = await submit(service, bc=SUBAGENCY, by=LEE)  # another BC: never affected
    outcome = await service.approve(ams.request_id, ApproveRequest(by=OLI))
    assert outcome.status is RequestStatus.APPROVED
    loser = await result_of(client, ra.workflow_id)
    assert (loser.status, loser.superseded_by) == ("expired", ams.request_id)
    assert (await result_of(client, ams.workflow_id)).status == "approved"
    row = request_row(demo, ra.request_id)
    assert row.status is RequestStatus.EXPIRED and row.superseded_by == ams.request_id
    assert request_row(demo, theirs.request_id).status is RequestStatus.PENDING
    refusal = await refusal_of(service.approve(ra.request_id, ApproveRequest(by=OLI)))
    assert refusal.code == ErrorCode.REQUEST_NOT_PENDING
    assert f"{ams.request_id} was approved first" in refusal.message
    assert count(demo, ShopGrant, ShopGrant.bc_id == AGENCY) == 1


async def test_r11_two_concurrent_approvals_through_workflows_grant_once(
    service: RequestService, demo: Engine, client: Client
) -> None:
    ra = await submit(service, method=RA)
    ams = await submit(service, method=AMS)
    outcomes = await asyncio.gather(
        service.approve(ra.request_id, ApproveRequest(by=OLI)),
        service.approve(ams.request_id, ApproveRequest(by=OLI)),
        return_exceptions=True,
    )
    done = [o for o in outcomes if not isinstance(o, BaseException)]
    won = [o for o in done if o.status is RequestStatus.APPROVED]
    assert len(won) == 1, outcomes
    winner = won[0].request_id
    for other in done:  # the loser's caller is told it expired because the other won
        if other is not won[0]:
            assert other.status is RequestStatus.EXPIRED and other.superseded_by == winner
    for failed in outcomes:  # or, if it arrived later, that it is no longer pending
        if isinstance(failed, BaseException):
            assert isinstance(failed, Refusal) and failed.code == ErrorCode.REQUEST_NOT_PENDING
    results = {sub.request_id: await result_of(client, sub.workflow_id) for sub in (ra, ams)}
    assert sorted(r.status for r in results.values()) == ["approved", "expired"]
    assert next(r for r in results.values() if r.status == "expired").superseded_by == winner
    assert count(demo, ShopGrant) == 1


async def test_r10_approve_from_the_temporal_ui_signal(
    service: RequestService, demo: Engine, client: Client, settings: Settings
) -> None:
    sub = await submit(service)
    handle = client.get_workflow_handle(sub.workflow_id)
    await handle.signal(Message.APPROVE_SIGNAL, ApproveRequest(by=RAJ))  # refused: not team
    await handle.signal(Message.APPROVE_SIGNAL, ApproveRequest(by=OLI))
    assert (await result_of(client, sub.workflow_id)).status == "approved"
    assert request_row(demo, sub.request_id).status is RequestStatus.APPROVED
    assert count(demo, ShopGrant) == 1
    assert sum(m["Subject"].startswith("Approved:") for m in outbox_messages(settings)) == 1


async def test_r10_double_submit_with_one_idempotency_key_approves_once(
    service: RequestService, demo: Engine, client: Client, settings: Settings
) -> None:
    sub = await submit(service)
    key = f"form-{uuid.uuid4().hex}"
    first, second = await asyncio.gather(
        service.approve(sub.request_id, ApproveRequest(by=OLI), idempotency_key=key),
        service.approve(sub.request_id, ApproveRequest(by=OLI), idempotency_key=key),
    )
    assert first == second and first.status is RequestStatus.APPROVED
    assert not first.already_decided
    assert (await result_of(client, sub.workflow_id)).status == "approved"
    assert count(demo, ShopGrant) == 1
    assert count(demo, AuditEvent, AuditEvent.action == "approved") == 1
    assert sum(m["Subject"].startswith("Approved:") for m in outbox_messages(settings)) == 1


# --- ops in the Temporal UI (R21) ------------------------------------------------------------


async def test_r21_visibility_finds_the_request_by_bc_and_status(
    service: RequestService, demo: Engine, client: Client
) -> None:
    sub = await submit(service)
    await service.approve(sub.request_id, ApproveRequest(by=OLI))
    await result_of(client, sub.workflow_id)
    query = f"BusinessCenterId = '{AGENCY}' AND RequestStatus = 'approved'"

    async def listed_completed() -> list[Any]:  # visibility is eventually consistent
        found = [w async for w in client.list_workflows(query) if w.id == sub.workflow_id]
        return found if found and found[0].status is WorkflowExecutionStatus.COMPLETED else []

    found = await wait_until(listed_completed, interval=0.2, what=f"{query!r} lists it")
    assert found, f"{sub.workflow_id} not listed by {query!r}"
    info = found[0]
    assert info.status is WorkflowExecutionStatus.COMPLETED
    assert info.workflow_type == "RequestAccessToShop"
    attrs = {k.name: v for k, v in info.typed_search_attributes}  # type: ignore[attr-defined]
    assert attrs["ShopCode"] == S1_SHOP and attrs["RequestMethod"] == "request_access"
    pending = f"ShopCode = '{S1_SHOP}' AND RequestStatus = 'pending'"
    assert info.run_id not in [w.run_id async for w in client.list_workflows(pending)]


# --- continue-as-new (R9, R20) ---------------------------------------------------------------


async def test_r9_request_survives_continue_as_new_with_resends_and_approves(
    demo: Engine, settings: Settings
) -> None:
    """A dev server that suggests continue-as-new after a few events: every resend moves
    the request to a new run, carrying all its state, and approval still works once."""
    async with can_suggesting_worker(settings, demo) as client:
        service = RequestService(client, demo, settings.task_queue, timeout=WAIT_SECONDS)
        sub = await submit(service)
        await service.resend(sub.request_id, by=ANA, copy_link=False)
        for _ in range(4):
            await service.resend(sub.request_id, by=ANA, copy_link=True)
        handle = client.get_workflow_handle(sub.workflow_id)
        state = await handle.query(Message.STATE, result_type=RequestState)
        assert state.sends == 6 and state.first_email_sent
        assert state.approval_url == sub.approval_url
        outcome = await service.approve(sub.request_id, ApproveRequest(by=OLI))
        assert outcome.status is RequestStatus.APPROVED
        result = await result_of(client, sub.workflow_id)
        assert result.status == "approved"
        runs = await closed_runs(client, sub.workflow_id)
    assert len(runs) >= 3, f"expected several continue-as-new runs, got {len(runs)}"
    assert [r.status for r in runs].count(WorkflowExecutionStatus.CONTINUED_AS_NEW) == len(runs) - 1
    assert [r.status for r in runs].count(WorkflowExecutionStatus.COMPLETED) == 1
    # Nothing was done twice across runs: two team e-mails, one grant, one notice.
    assert len(team_emails(settings, OLI)) == 2
    assert count(demo, ShopGrant) == 1
    assert sum(m["Subject"].startswith("Approved:") for m in outbox_messages(settings)) == 1
    assert count(demo, RequestSend, RequestSend.request_id == sub.request_id) == 6
