"""Admitting a new access request (R1-R6) and recording its first send (R7).

One transaction per admission, idempotent on the request id because activities run at
least once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, insert
from sqlmodel import Session, func, select

from models.enums import (
    DAILY_REQUEST_LIMIT,
    ELIGIBLE_BC_COUNTRIES,
    SUPPORTED_SHOP_LOCATIONS,
    BCType,
    Relationship,
    RequestMethod,
    RequestStatus,
    SendChannel,
)
from models.errors import ErrorCode, Refusal
from models.tables import AccessRequest, BusinessCenter, RequestSend, Shop, User, utcnow
from store import audit
from store.grants import active_grants
from store.people import require_bc, require_bc_admin, unknown_shop_code

# R6: the one query for "is this (BC, shop, method) already pending?".
_PENDING = select(AccessRequest).where(
    AccessRequest.bc_id == bindparam("bc_id"),
    AccessRequest.shop_id == bindparam("shop_id"),
    AccessRequest.method == bindparam("method"),
    AccessRequest.status == RequestStatus.PENDING,
)


def find_pending_request(
    session: Session, *, bc_id: int, shop_id: int, method: RequestMethod
) -> AccessRequest | None:
    """The BC's pending request for this shop by this method, if any (R6)."""
    params = {"bc_id": bc_id, "shop_id": shop_id, "method": method}
    return session.exec(_PENDING, params=params).first()


def already_pending(request_id: str, shop_code: str) -> Refusal:
    return Refusal(ErrorCode.REQUEST_ALREADY_PENDING, request_id=request_id, shop_code=shop_code)


def local_day(now_utc: datetime, tz: str) -> tuple[str, datetime]:
    """The BC's calendar day at ``now_utc`` and when the next one starts (aware UTC)."""
    zone = ZoneInfo(tz)
    local = now_utc.astimezone(zone)
    next_midnight = datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=zone)
    return local.date().isoformat(), next_midnight.astimezone(UTC)


def check_eligible_bc(bc: BusinessCenter) -> None:
    """R2."""
    if bc.type in (BCType.DIRECT, BCType.AGENCY) and bc.country not in ELIGIBLE_BC_COUNTRIES:
        raise Refusal(
            ErrorCode.BC_NOT_ELIGIBLE,
            bc_id=bc.id,
            bc_type=bc.type.value,
            country=bc.country,
            eligible_countries=sorted(ELIGIBLE_BC_COUNTRIES),
        )


def check_shop_location(shop: Shop) -> None:
    """R3."""
    if shop.location not in SUPPORTED_SHOP_LOCATIONS:
        raise Refusal(
            ErrorCode.SHOP_LOCATION_NOT_SUPPORTED,
            location=shop.location,
            supported_locations=sorted(SUPPORTED_SHOP_LOCATIONS - {"cross_border"}),
        )


def check_not_held(session: Session, bc: BusinessCenter, shop: Shop, method: RequestMethod) -> None:
    """R6: a BC asks once for what it lacks; a partner may still ask to become the owner."""
    assert shop.id is not None
    held = active_grants(session, bc.id, shop.id)
    if any(g.relationship is Relationship.OWNER for g in held) or (
        held and method is RequestMethod.REQUEST_ACCESS
    ):
        raise Refusal(
            ErrorCode.ALREADY_HAS_ACCESS,
            bc_id=bc.id,
            shop_code=shop.code,
            relationship=held[0].relationship.value,
            permission=held[0].permission.value,
        )
    pending = find_pending_request(session, bc_id=bc.id, shop_id=shop.id, method=method)
    if pending is not None:
        raise already_pending(pending.id, shop.code)


def check_daily_limit(session: Session, bc: BusinessCenter, now: datetime) -> str:
    """R4: at most DAILY_REQUEST_LIMIT requests a BC-local day; returns that day."""
    day, resets_at = local_day(now, bc.timezone)
    today = session.exec(
        select(func.count())
        .select_from(AccessRequest)
        .where(AccessRequest.bc_id == bc.id, AccessRequest.bc_local_day == day)
    ).one()
    if today >= DAILY_REQUEST_LIMIT:
        raise Refusal(
            ErrorCode.DAILY_LIMIT_REACHED,
            bc_id=bc.id,
            limit=DAILY_REQUEST_LIMIT,
            day=day,
            timezone=bc.timezone,
            resets_at=resets_at.isoformat(),
        )
    return day


@dataclass(frozen=True)
class Admitted:
    request: AccessRequest
    created: bool


def admit_request(
    session: Session,
    *,
    request_id: str,
    method: RequestMethod,
    bc_id: int,
    shop_id: int,
    requested_by: str,
    workflow_id: str,
    now: datetime | None = None,
) -> Admitted:
    """Admit a new request or refuse it (R1-R6), recording its first send (R7)."""
    existing = session.get(AccessRequest, request_id)
    if existing is not None:
        return Admitted(existing, created=False)
    now = now or utcnow()

    # Locking the BC row serialises admissions of one BC, so R4's count is exact under
    # concurrency (SQLite: the write transaction already holds the database lock).
    bc = require_bc(session, bc_id, lock=True)
    user = require_bc_admin(session, bc, requested_by)  # R1
    check_eligible_bc(bc)  # R2
    shop = session.get(Shop, shop_id)
    if shop is None:
        raise unknown_shop_code()  # R5
    check_shop_location(shop)  # R3
    check_not_held(session, bc, shop, method)  # R6
    day = check_daily_limit(session, bc, now)  # R4

    assert user.id is not None
    request = AccessRequest(
        id=request_id,
        method=method,
        bc_id=bc.id,
        shop_id=shop_id,
        requested_by_user_id=user.id,
        created_at=now,
        bc_local_day=day,
        workflow_id=workflow_id,
    )
    _record_admission(session, request, user, shop)
    return Admitted(request, created=True)


# Core inserts on the tables: nothing reads the new rows back in this transaction, and
# the ORM's unit of work flushing them was a third of an admission's CPU in the worker's
# profile (docs/performance.md).
_INSERT_REQUEST = insert(AccessRequest.__table__)  # type: ignore[attr-defined]
_INSERT_SEND = insert(RequestSend.__table__)  # type: ignore[attr-defined]


def _record_admission(session: Session, request: AccessRequest, user: User, shop: Shop) -> None:
    """The request, its first send by e-mail (R7) and the audit line."""
    assert user.id is not None
    now = request.created_at
    session.execute(_INSERT_REQUEST, request.model_dump())
    session.execute(
        _INSERT_SEND,
        {
            "request_id": request.id,
            "seq": 1,
            "channel": SendChannel.EMAIL,
            "by_user_id": user.id,
            "at": now,
        },
    )
    audit.record(
        session,
        actor=user.email,
        entity="access_request",
        entity_id=request.id,
        action="requested",
        at=now,
        method=request.method.value,
        bc_id=request.bc_id,
        shop_code=shop.code,
    )
