"""The seller's decision (R11-R14): the race, who may decide, the scenario, the grant.

The store is the arbiter of the race: one transaction locks every pending request of the
same BC and shop, approves this one, expires the other method's at once, and writes the
grant with its end date if the seller chose one (R23), so approval, access and when it
ends can never be seen apart. Idempotent on the request id.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from models.enums import RequestStatus, Scenario
from models.tables import AccessRequest, Shop, ShopGrant, utcnow
from store import audit, end_dates
from store.grants import grant_of_request, write_grant
from store.request_records import unknown_request
from store.scenarios import APPROVING_BC, Approval, require_shop_team, scenario_for


@dataclass(frozen=True)
class DecisionRecord:
    request: AccessRequest
    scenario: Scenario | None
    expired: AccessRequest | None
    already_decided: bool
    grant: ShopGrant | None = None
    # The approver's e-mail when this call decided (an earlier decision's is not loaded).
    decided_by: str | None = None


def lock_contenders(session: Session, request_id: str) -> Sequence[AccessRequest]:
    """R11: the request and every pending request of its (BC, shop), locked.

    Both methods' rows are found in one statement from the request's id and locked in a
    stable order; SQLite is already serialised by BEGIN IMMEDIATE.
    """

    def of_request(column: Any) -> Any:
        return select(column).where(AccessRequest.id == request_id).scalar_subquery()

    return session.exec(
        select(AccessRequest)
        .where(
            AccessRequest.bc_id == of_request(AccessRequest.bc_id),
            AccessRequest.shop_id == of_request(AccessRequest.shop_id),
            (AccessRequest.status == RequestStatus.PENDING) | (AccessRequest.id == request_id),
        )
        .order_by(col(AccessRequest.id))
        .with_for_update()
        # Re-read rows already in the session: after waiting for the lock they may have
        # been decided by the transaction that held it (PostgreSQL).
        .execution_options(populate_existing=True)
    ).all()


def link_shop(session: Session, ask: Approval, approving_bc: int) -> None:
    """R12: the approving BC becomes the shop's linked BC (S2, S3)."""
    if ask.shop.linked_bc_id == approving_bc:
        return
    ask.shop.linked_bc_id = approving_bc
    session.add(ask.shop)
    audit.record(
        session,
        actor=ask.approver.email,
        entity="shop",
        entity_id=ask.shop.code,
        action="linked_bc",
        at=ask.now,
        bc_id=approving_bc,
    )


def mark_approved(
    session: Session, request: AccessRequest, ask: Approval, scenario: Scenario, bc_id: int
) -> None:
    request.status = RequestStatus.APPROVED
    request.decided_at = ask.now
    request.decided_by_user_id = ask.user_id
    request.approving_bc_id = bc_id
    session.add(request)
    audit.record(
        session,
        actor=ask.approver.email,
        entity="access_request",
        entity_id=request.id,
        action="approved",
        at=ask.now,
        scenario=scenario.value,
        approving_bc_id=bc_id,
    )


def expire_losers(
    session: Session, contenders: Sequence[AccessRequest], winner: str, now: datetime
) -> AccessRequest | None:
    """R11: the same BC's other-method request for this shop loses the race at once."""
    expired = None
    for other in contenders:
        if other.id != winner and other.status is RequestStatus.PENDING:
            other.status = RequestStatus.EXPIRED
            other.decided_at = now
            other.superseded_by = winner
            session.add(other)
            audit.record(
                session,
                actor="system",
                entity="access_request",
                entity_id=other.id,
                action="expired",
                at=now,
                superseded_by=winner,
            )
            expired = other
    return expired


def decide_approval(
    session: Session,
    *,
    request_id: str,
    by: str,
    bc_id: int | None = None,
    new_bc_name: str | None = None,
    timezone: str | None = None,
    until: datetime | None = None,
    now: datetime | None = None,
) -> DecisionRecord:
    """Approve a pending request and grant its access, or say why not (R11-R14).

    ``until`` (R23): the grant's end date, written in this same transaction; a date
    already past is refused before anything is decided."""
    contenders = lock_contenders(session, request_id)  # R11
    request = next((r for r in contenders if r.id == request_id), None)
    if request is None:
        raise unknown_request(request_id)
    if request.status is not RequestStatus.PENDING:  # decided before: the same answer
        grant = grant_of_request(session, request_id=request_id)
        return DecisionRecord(request, None, None, already_decided=True, grant=grant)
    shop = session.get(Shop, request.shop_id)
    assert shop is not None and shop.id is not None
    approver = require_shop_team(session, shop, by)  # R13
    now = now or utcnow()  # after the lock: the decision's moment, not the wait's start
    if until is not None:
        end_dates.require_future(until, now)
    ask = Approval(request_id, shop, approver, now, bc_id, new_bc_name, timezone)

    scenario = scenario_for(session, shop, ask.user_id)  # R12
    approving_bc = APPROVING_BC[scenario](session, ask)
    link_shop(session, ask, approving_bc)
    mark_approved(session, request, ask, scenario, approving_bc)
    expired = expire_losers(session, contenders, request_id, ask.now)
    session.flush()
    grant = write_grant(session, request=request, now=ask.now)  # R14, same transaction
    if until is not None:  # R23, same transaction again: no grant without its end date
        end_dates.set_end(session, grant, until, actor=approver.email, now=ask.now)
        session.flush()
    return DecisionRecord(
        request, scenario, expired, already_decided=False, grant=grant, decided_by=approver.email
    )
