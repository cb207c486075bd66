"""R22 Decline through the real worker and dev server: the shop team declines a pending
request (optional reason); it ends ``declined`` in the store, the workflow's result and
RequestStatus (R21); the requester is e-mailed with the reason; nothing is granted; the BC
may ask again (R6 counts only pending requests). R13 applies as for approving, and the
other method's request for the same shop is not affected (decline is not an approval).
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import col, select
from temporalio.api.sdk.v1 import WorkflowMetadata
from temporalio.client import Client

from client.access_requests import RequestService, Submitted
from models.enums import RequestMethod, RequestStatus
from models.errors import ErrorCode, Refusal
from models.messages import ApproveRequest, DeclineRequest, RequestResult, RequestState
from models.names import Message
from models.reasons import REASON_MAX_LENGTH
from models.settings import Settings
from models.tables import AccessRequest, AuditEvent, ShopGrant
from store.db import read_session
from tests.conftest import (
    AGENCY,
    ANA,
    KIM,
    OLI,
    RAJ,
    RAJ_BC,
    S1_SHOP,
    S3_SHOP,
    outbox_messages,
    wait_until,
)

RA, AMS = RequestMethod.REQUEST_ACCESS, RequestMethod.ADD_MY_SHOP


async def submit(
    service: RequestService, code: str = S1_SHOP, method: RequestMethod = RA
) -> Submitted:
    return await service.submit(method=method, bc_id=AGENCY, shop_code=code, by=ANA)


async def refusal_of(awaitable: Any) -> Refusal:
    with pytest.raises(Refusal) as info:
        await awaitable
    return info.value


def row(engine: Engine, request_id: str) -> AccessRequest:
    with read_session(engine) as session:
        found = session.get(AccessRequest, request_id)
        assert found is not None
        return found


def audit_actions(engine: Engine, request_id: str) -> list[tuple[str, str]]:
    with read_session(engine) as session:
        events = session.exec(
            select(AuditEvent)
            .where(AuditEvent.entity_id == request_id)
            .order_by(col(AuditEvent.id))
        ).all()
        return [(e.action, e.actor) for e in events]


def grants(engine: Engine) -> int:
    with read_session(engine) as session:
        return len(session.exec(select(ShopGrant).where(ShopGrant.bc_id == AGENCY)).all())


def declined_mails(settings: Settings) -> list[Any]:
    return [m for m in outbox_messages(settings) if m["Subject"].startswith("Declined:")]


async def state_of(client: Client, workflow_id: str) -> RequestState:
    handle = client.get_workflow_handle(workflow_id)
    state: RequestState = await handle.query(Message.STATE, result_type=RequestState)
    return state


async def test_r22_decline_ends_declined_tells_the_requester_and_the_bc_may_ask_again(
    service: RequestService, demo: Engine, client: Client, settings: Settings
) -> None:
    sub = await submit(service)
    reason = "We only work with agencies we already know."
    out = await service.decline(sub.request_id, by=OLI, reason=f"  {reason} ")
    assert out.status == "declined" and out.decline_reason == reason

    handle = client.get_workflow_handle(sub.workflow_id, result_type=RequestResult)
    assert (await handle.result()).status == "declined"
    declined = row(demo, sub.request_id)
    assert declined.status is RequestStatus.DECLINED and declined.decline_reason == reason
    assert declined.decided_at is not None
    assert audit_actions(demo, sub.request_id)[-1] == ("declined", OLI)  # R21: who and when
    assert grants(demo) == 0

    # The requester is told once, with the reason and who declined.
    mail = (await wait_until(lambda: declined_mails(settings), what="the declined e-mail"))[0]
    assert mail["To"] == ANA and "Linked Brand Store" in mail["Subject"]
    body = mail.get_body(("plain",)).get_content()
    assert reason in body and OLI in body and "ask again" in body

    # R21: the Temporal UI's summary line and filter tell the same story.
    metadata = await handle.query("__temporal_workflow_metadata", result_type=WorkflowMetadata)
    assert "**declined**" in metadata.current_details
    assert f"declined by {OLI}: {reason}" in metadata.current_details
    query = f"WorkflowId = '{sub.workflow_id}' AND RequestStatus = 'declined'"
    await wait_until(
        lambda: _listed(client, query), what="the request listed as declined", interval=0.2
    )

    # A declined request changes no more, whoever asks.
    for attempt in (
        service.approve(sub.request_id, ApproveRequest(by=OLI)),
        service.decline(sub.request_id, by=OLI),
        service.resend(sub.request_id, by=ANA, copy_link=True),
        service.cancel(sub.request_id, by=ANA),
    ):
        refusal = await refusal_of(attempt)
        assert refusal.code == ErrorCode.REQUEST_NOT_PENDING and "declined" in refusal.message
    assert grants(demo) == 0 and len(declined_mails(settings)) == 1

    # R6 counts only pending requests: the BC may ask again, as a new request.
    again = await submit(service)
    assert again.request_id != sub.request_id and again.status == "pending"


async def _listed(client: Client, query: str) -> bool:
    return bool([w async for w in client.list_workflows(query)])


@pytest.mark.parametrize(
    ("by", "reason", "code", "words"),
    [
        (KIM, None, ErrorCode.NOT_SHOP_TEAM, KIM),  # R13: not on the shop's team
        ("nobody@example.com", None, ErrorCode.NOT_SHOP_TEAM, "nobody@example.com"),
        (OLI, "line one\nline two", ErrorCode.INVALID_INPUT, "control characters"),
        (OLI, "x" * (REASON_MAX_LENGTH + 1), ErrorCode.INVALID_INPUT, "at most 500"),
        (OLI, "ok \u202egnp.exe", ErrorCode.INVALID_INPUT, "control characters"),
    ],
)
async def test_r22_r13_decline_refusals_carry_their_code_and_change_nothing(
    service: RequestService, demo: Engine, client: Client, settings: Settings,
    by: str, reason: str | None, code: ErrorCode, words: str,
) -> None:  # fmt: skip
    sub = await submit(service)
    before = audit_actions(demo, sub.request_id)
    refusal = await refusal_of(service.decline(sub.request_id, by=by, reason=reason))
    assert refusal.code == code and words in refusal.message
    assert row(demo, sub.request_id).status is RequestStatus.PENDING
    assert audit_actions(demo, sub.request_id) == before
    state = await state_of(client, sub.workflow_id)
    assert state.status is RequestStatus.PENDING and state.decline_reason is None
    assert declined_mails(settings) == []
    # Still decidable afterwards.
    assert (await service.decline(sub.request_id, by=OLI)).status == "declined"


async def test_r22_a_raw_update_with_a_bad_reason_is_refused_before_history(
    service: RequestService, demo: Engine, client: Client
) -> None:
    """The workflow's validator refuses what the service would, for callers that skip it
    (a raw client, the Temporal UI): the update never enters history."""
    sub = await submit(service)
    handle = client.get_workflow_handle(sub.workflow_id)
    with pytest.raises(Exception) as info:
        await handle.execute_update(Message.DECLINE, DeclineRequest(by=OLI, reason="a\r\nb"))
    assert "control characters" in str(info.value.__cause__ or info.value)
    events = [e async for e in handle.fetch_history_events()]
    accepted = [
        e.workflow_execution_update_accepted_event_attributes.accepted_request.input.name
        for e in events
        if e.HasField("workflow_execution_update_accepted_event_attributes")
    ]
    assert Message.DECLINE not in accepted and Message.ADMISSION in accepted
    assert row(demo, sub.request_id).status is RequestStatus.PENDING


async def test_r22_declining_one_method_leaves_the_others_request_pending(
    service: RequestService, demo: Engine, client: Client
) -> None:
    """Decline is not an approval: no race (R11), the other method's request stays pending
    and can still be approved."""
    ams = await submit(service, S3_SHOP, AMS)
    ra = await submit(service, S3_SHOP, RA)
    assert (await service.decline(ams.request_id, by=RAJ, reason="Not ours")).status == "declined"
    assert row(demo, ra.request_id).status is RequestStatus.PENDING
    assert (await state_of(client, ra.workflow_id)).status is RequestStatus.PENDING
    approved = await service.approve(ra.request_id, ApproveRequest(by=RAJ, bc_id=RAJ_BC))
    assert approved.status is RequestStatus.APPROVED and approved.superseded_by is None
    assert row(demo, ams.request_id).status is RequestStatus.DECLINED  # unchanged by the win
    assert row(demo, ams.request_id).superseded_by is None


async def test_r22_a_retried_decline_activity_decides_once(demo: Engine) -> None:
    """The store function is idempotent on (request, decider): an activity retried after
    its commit returns the same decision and writes no second audit event."""
    from models.tables import utcnow
    from store import decline
    from store.admission import admit_request
    from store.db import write_session

    with write_session(demo) as session:
        shop_id = _shop_id(session, S1_SHOP)
        admitted = admit_request(
            session, request_id="req_retry", method=RA, bc_id=AGENCY, shop_id=shop_id,
            requested_by=ANA, workflow_id="wf-retry",
        )  # fmt: skip
        assert admitted.request.status is RequestStatus.PENDING
    for _ in (1, 2):
        with write_session(demo) as session:
            done = decline.decline_request(
                session, request_id="req_retry", by=OLI, reason="no", now=utcnow()
            )
            assert done.status is RequestStatus.DECLINED
    assert [a for a, _ in audit_actions(demo, "req_retry")].count("declined") == 1


def _shop_id(session: Any, code: str) -> int:
    from store.people import find_shop_by_code

    shop = find_shop_by_code(session, code)
    assert shop is not None and shop.id is not None
    return shop.id
