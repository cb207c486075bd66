"""The rules of an access request that need the database, each in one transaction.

Admission (R1-R6), resends (R8), cancelling (R9 policy), the seller's decision with its
scenarios and the race (R11-R13), and the grant (R14). Every function is idempotent on
its business key, because activities run at least once.
"""

from __future__ import annotations

import math
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from sqlmodel import Session, col, func, select

from models.enums import (
    DAILY_REQUEST_LIMIT,
    ELIGIBLE_BC_COUNTRIES,
    RESEND_EMAIL_MIN_INTERVAL_SECONDS,
    SUPPORTED_SHOP_LOCATIONS,
    BCType,
    MemberRole,
    Permission,
    Relationship,
    RequestMethod,
    RequestStatus,
    Scenario,
    SendChannel,
)
from models.errors import ErrorCode, Refusal
from models.fields import require_display_name
from models.tables import (
    AccessRequest,
    BCMember,
    BusinessCenter,
    RequestSend,
    Shop,
    ShopGrant,
    ShopTeamMember,
    User,
    utcnow,
)
from store import audit
from store.people import bc_admin_emails, find_user, require_bc, require_bc_admin

SHOP_CODE = re.compile(r"^[A-Z0-9]{4,32}$")


def parse_shop_code(raw: str) -> str:
    """R5: a shop code is 4-32 letters and digits; case does not matter."""
    code = raw.strip().upper()
    if not SHOP_CODE.match(code):
        raise unknown_shop_code()
    return code


def unknown_shop_code() -> Refusal:
    """R5: one answer for malformed and unknown codes, so it reveals nothing about shops."""
    return Refusal(
        ErrorCode.UNKNOWN_SHOP_CODE,
        "No shop can be requested with that code. Check the shop code in Seller Center > "
        "My Account > Seller profile > Seller information.",
    )


def local_day(now_utc: datetime, tz: str) -> tuple[str, datetime]:
    """The BC's calendar day at ``now_utc`` and when the next one starts (aware UTC)."""
    zone = ZoneInfo(tz)
    local = now_utc.astimezone(zone)
    next_midnight = datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=zone)
    return local.date().isoformat(), next_midnight.astimezone(UTC)


def active_grants(session: Session, bc_id: int, shop_id: int) -> list[ShopGrant]:
    return list(
        session.exec(
            select(ShopGrant).where(
                ShopGrant.bc_id == bc_id,
                ShopGrant.shop_id == shop_id,
                col(ShopGrant.revoked_at).is_(None),
            )
        ).all()
    )


def check_eligible_bc(bc: BusinessCenter) -> None:
    """R2."""
    if bc.type in (BCType.DIRECT, BCType.AGENCY) and bc.country not in ELIGIBLE_BC_COUNTRIES:
        raise Refusal(
            ErrorCode.BC_NOT_ELIGIBLE,
            f"Business Center {bc.id} is a {bc.type.value} Business Center registered in "
            f"{bc.country}; requesting shop access is available to direct and agency "
            "Business Centers registered in "
            + ", ".join(sorted(ELIGIBLE_BC_COUNTRIES))
            + ", and to regular Business Centers anywhere.",
        )


def check_shop_location(shop: Shop) -> None:
    """R3."""
    if shop.location not in SUPPORTED_SHOP_LOCATIONS:
        raise Refusal(
            ErrorCode.SHOP_LOCATION_NOT_SUPPORTED,
            f"Shops located in {shop.location} cannot be requested from Business Center yet; "
            "cross-border shops and shops in "
            + ", ".join(sorted(SUPPORTED_SHOP_LOCATIONS - {"cross_border"}))
            + " can.",
        )


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

    held = active_grants(session, bc.id, shop_id)  # R6
    if any(g.relationship is Relationship.OWNER for g in held) or (
        held and method is RequestMethod.REQUEST_ACCESS
    ):
        grant = held[0]
        raise Refusal(
            ErrorCode.ALREADY_HAS_ACCESS,
            f"Business Center {bc.id} already has access to shop {shop.code} "
            f"({grant.relationship.value}, {grant.permission.value}).",
        )
    pending = session.exec(
        select(AccessRequest).where(
            AccessRequest.bc_id == bc.id,
            AccessRequest.shop_id == shop_id,
            AccessRequest.method == method,
            AccessRequest.status == RequestStatus.PENDING,
        )
    ).first()
    if pending is not None:
        raise already_pending(pending.id, shop.code)

    day, resets_at = local_day(now, bc.timezone)  # R4
    today = session.exec(
        select(func.count())
        .select_from(AccessRequest)
        .where(AccessRequest.bc_id == bc.id, AccessRequest.bc_local_day == day)
    ).one()
    if today >= DAILY_REQUEST_LIMIT:
        raise Refusal(
            ErrorCode.DAILY_LIMIT_REACHED,
            f"Business Center {bc.id} has made {DAILY_REQUEST_LIMIT} shop access requests "
            f"today ({day}, {bc.timezone}); the limit resets at midnight {bc.timezone}, "
            f"{resets_at.isoformat()}.",
            resets_at=resets_at.isoformat(),
        )

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
    session.add(request)
    session.add(
        RequestSend(
            request_id=request_id, seq=1, channel=SendChannel.EMAIL, by_user_id=user.id, at=now
        )
    )
    audit.record(
        session,
        actor=user.email,
        entity="access_request",
        entity_id=request_id,
        action="requested",
        at=now,
        method=method.value,
        bc_id=bc.id,
        shop_code=shop.code,
    )
    session.flush()
    return Admitted(request, created=True)


def already_pending(request_id: str, shop_code: str) -> Refusal:
    return Refusal(
        ErrorCode.REQUEST_ALREADY_PENDING,
        f"A request for shop {shop_code} is already pending approval ({request_id}); "
        "resend it instead of asking again.",
        request_id=request_id,
    )


def require_request(session: Session, request_id: str, *, lock: bool = False) -> AccessRequest:
    query = select(AccessRequest).where(AccessRequest.id == request_id)
    if lock:
        query = query.with_for_update()
    request = session.exec(query).first()
    if request is None:
        raise Refusal(ErrorCode.UNKNOWN_REQUEST, f"There is no access request {request_id}.")
    return request


def not_pending(request: AccessRequest) -> Refusal:
    detail = f"Request {request.id} is {request.status.value}"
    if request.superseded_by:
        detail += f" because request {request.superseded_by} was approved first"
    return Refusal(
        ErrorCode.REQUEST_NOT_PENDING,
        detail + "; only a pending request can change.",
        status=request.status.value,
    )


def record_resend(
    session: Session,
    *,
    request_id: str,
    seq: int,
    by: str,
    copy_link: bool,
    now: datetime | None = None,
) -> RequestSend:
    """R8: a resend by e-mail (at most one a minute after the first) or a copied link."""
    done = session.exec(
        select(RequestSend).where(RequestSend.request_id == request_id, RequestSend.seq == seq)
    ).first()
    if done is not None:
        return done
    now = now or utcnow()
    request = require_request(session, request_id, lock=True)
    bc = require_bc(session, request.bc_id)
    user = require_bc_admin(session, bc, by)
    if request.status is not RequestStatus.PENDING:
        raise not_pending(request)
    channel = SendChannel.COPY_LINK if copy_link else SendChannel.RESEND_EMAIL
    if channel is SendChannel.RESEND_EMAIL:
        last = session.exec(
            select(func.max(RequestSend.at)).where(
                RequestSend.request_id == request_id,
                RequestSend.channel == SendChannel.RESEND_EMAIL,
            )
        ).one()
        if last is not None:
            wait = RESEND_EMAIL_MIN_INTERVAL_SECONDS - (now - last).total_seconds()
            if wait > 0:
                retry_after = math.ceil(wait)
                raise Refusal(
                    ErrorCode.RESEND_TOO_SOON,
                    f"The request was resent by e-mail less than a minute ago; try again in "
                    f"{retry_after} seconds, or copy the link instead.",
                    retry_after_seconds=retry_after,
                )
    assert user.id is not None
    send = RequestSend(request_id=request_id, seq=seq, channel=channel, by_user_id=user.id, at=now)
    session.add(send)
    audit.record(
        session,
        actor=user.email,
        entity="access_request",
        entity_id=request_id,
        action="resent" if channel is SendChannel.RESEND_EMAIL else "link_copied",
        at=now,
        seq=seq,
    )
    session.flush()
    return send


def cancel_request(
    session: Session, *, request_id: str, by: str, now: datetime | None = None
) -> AccessRequest:
    """R9 policy: an admin of the requesting BC withdraws a pending request."""
    request = require_request(session, request_id, lock=True)
    bc = require_bc(session, request.bc_id)
    user = require_bc_admin(session, bc, by)
    if request.status is RequestStatus.CANCELLED and request.decided_by_user_id == user.id:
        return request  # the same cancel, retried
    if request.status is not RequestStatus.PENDING:
        raise not_pending(request)
    now = now or utcnow()
    request.status = RequestStatus.CANCELLED
    request.decided_at = now
    request.decided_by_user_id = user.id
    session.add(request)
    audit.record(
        session,
        actor=user.email,
        entity="access_request",
        entity_id=request_id,
        action="cancelled",
        at=now,
    )
    session.flush()
    return request


@dataclass(frozen=True)
class DecisionRecord:
    request: AccessRequest
    scenario: Scenario | None
    expired: AccessRequest | None
    already_decided: bool
    grant: ShopGrant | None = None
    # The approver's e-mail when this call decided (an earlier decision's is not loaded).
    decided_by: str | None = None


def seller_bcs(session: Session, user_id: int) -> list[tuple[BusinessCenter, MemberRole]]:
    rows = session.exec(
        select(BusinessCenter, BCMember.role)
        .join(BCMember, BCMember.bc_id == BusinessCenter.id)  # type: ignore[arg-type]
        .where(BCMember.user_id == user_id)
        .order_by(BusinessCenter.name)
    ).all()
    return [(bc, MemberRole(role)) for bc, role in rows]


def scenario_for(session: Session, shop: Shop, user_id: int) -> Scenario:
    """R12: which of S1-S4 the approving seller is in."""
    if shop.linked_bc_id is not None:
        return Scenario.S1
    bcs = seller_bcs(session, user_id)
    if not bcs:
        return Scenario.S2
    if any(role is MemberRole.ADMIN for _, role in bcs):
        return Scenario.S3
    return Scenario.S4


def require_shop_team(session: Session, shop: Shop, email: str) -> User:
    """R13: only a member of the shop's team decides; returns that member."""
    user = find_user(session, email)
    if user is None or user.id is None or session.get(ShopTeamMember, (shop.id, user.id)) is None:
        raise Refusal(
            ErrorCode.NOT_SHOP_TEAM,
            f"{email} is not on the team of shop {shop.code}; only its owner, main admins "
            "and ad managers can approve access.",
        )
    return user


def valid_timezone(tz: str | None) -> str:
    if not tz:
        raise Refusal(ErrorCode.INVALID_INPUT, "Pick a timezone for the new Business Center.")
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise Refusal(
            ErrorCode.INVALID_INPUT, f"{tz!r} is not an IANA timezone (e.g. Asia/Singapore)."
        ) from None
    if tz not in available_timezones() and tz != "UTC":
        raise Refusal(ErrorCode.INVALID_INPUT, f"{tz!r} is not an IANA timezone.")
    return tz


def new_bc_id(session: Session) -> int:
    while True:
        candidate = 7_000_000_000_000_000_000 + secrets.randbelow(10**18)
        if session.get(BusinessCenter, candidate) is None:
            return candidate


def decide_approval(
    session: Session,
    *,
    request_id: str,
    by: str,
    bc_id: int | None = None,
    new_bc_name: str | None = None,
    timezone: str | None = None,
    now: datetime | None = None,
) -> DecisionRecord:
    """Approve a pending request and grant its access, or say why not (R11-R14).

    The store is the arbiter of the race: this transaction locks every pending request of
    the same BC and shop, approves this one, expires the other method's at once, and
    writes the grant, so approval and access can never be seen apart.
    """
    now = now or utcnow()

    def of_request(column: Any) -> Any:
        return select(column).where(AccessRequest.id == request_id).scalar_subquery()

    # Lock both methods' rows of this (BC, shop) in a stable order, found in one statement
    # from the request's id; SQLite is already serialised by BEGIN IMMEDIATE.
    rows = session.exec(
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
    request = next((r for r in rows if r.id == request_id), None)
    if request is None:
        raise Refusal(ErrorCode.UNKNOWN_REQUEST, f"There is no access request {request_id}.")
    shop = session.get(Shop, request.shop_id)
    assert shop is not None and shop.id is not None

    if request.status is not RequestStatus.PENDING:
        grant = session.exec(
            select(ShopGrant).where(ShopGrant.source_request_id == request_id)
        ).first()
        return DecisionRecord(request, None, None, already_decided=True, grant=grant)

    approver = require_shop_team(session, shop, by)
    assert approver.id is not None
    user_id = approver.id
    scenario = scenario_for(session, shop, user_id)

    if scenario is Scenario.S1:
        if (bc_id is not None and bc_id != shop.linked_bc_id) or new_bc_name:
            raise Refusal(
                ErrorCode.INVALID_INPUT,
                f"Shop {shop.code} is already linked to Business Center {shop.linked_bc_id}; "
                "approve without choosing or creating one.",
            )
        approving_bc = shop.linked_bc_id
    elif scenario is Scenario.S2:
        if not (new_bc_name or "").strip():
            raise Refusal(
                ErrorCode.INVALID_INPUT,
                "Enter a name (1-200 characters) for your new Business Center.",
            )
        # The name goes into e-mails and pages: no control characters (issue 8).
        name = require_display_name(
            "new_bc_name", new_bc_name or "", label="The new Business Center's name"
        )
        tz = valid_timezone(timezone)
        bc = BusinessCenter(
            id=new_bc_id(session),
            name=name,
            timezone=tz,
            type=BCType.REGULAR,
            country=shop.location if len(shop.location) == 2 else "XX",
            created_at=now,
        )
        session.add(bc)
        session.flush()
        session.add(BCMember(bc_id=bc.id, user_id=user_id, role=MemberRole.ADMIN))
        audit.record(
            session,
            actor=approver.email,
            entity="business_center",
            entity_id=bc.id,
            action="created",
            at=now,
            name=name,
            timezone=tz,
            for_request=request_id,
        )
        approving_bc = bc.id
    elif scenario is Scenario.S3:
        admin_of = {b.id: b for b, role in seller_bcs(session, user_id) if role is MemberRole.ADMIN}
        if new_bc_name:
            raise Refusal(
                ErrorCode.INVALID_INPUT,
                "You already administer a Business Center; pick one of yours instead of "
                "creating a new one.",
            )
        if bc_id is None or bc_id not in admin_of:
            choices = ", ".join(f"{b.id} ({b.name})" for b in admin_of.values())
            raise Refusal(
                ErrorCode.BC_ADMIN_REQUIRED if bc_id is not None else ErrorCode.INVALID_INPUT,
                (f"You are not an admin of Business Center {bc_id}. " if bc_id else "")
                + f"Pick one of the Business Centers you administer: {choices}.",
                choices=sorted(admin_of),
            )
        approving_bc = bc_id
    else:  # S4
        theirs = [b for b, _ in seller_bcs(session, user_id)]
        admins = sorted({e for b in theirs for e in bc_admin_emails(session, b.id)})
        raise Refusal(
            ErrorCode.BC_ADMIN_REQUIRED,
            "To approve, you need admin access to your Business Center "
            + ", ".join(f"{b.id} ({b.name})" for b in theirs)
            + ". Ask its admin"
            + (f" ({', '.join(admins)})" if admins else "")
            + " to make you an admin, then open this link again.",
            bc_admins=admins,
        )

    if shop.linked_bc_id != approving_bc:
        shop.linked_bc_id = approving_bc
        session.add(shop)
        audit.record(
            session,
            actor=approver.email,
            entity="shop",
            entity_id=shop.code,
            action="linked_bc",
            at=now,
            bc_id=approving_bc,
        )
    request.status = RequestStatus.APPROVED
    request.decided_at = now
    request.decided_by_user_id = user_id
    request.approving_bc_id = approving_bc
    session.add(request)
    audit.record(
        session,
        actor=approver.email,
        entity="access_request",
        entity_id=request_id,
        action="approved",
        at=now,
        scenario=scenario.value,
        approving_bc_id=approving_bc,
    )

    expired = None
    for other in rows:
        if other.id != request_id and other.status is RequestStatus.PENDING:
            # R11: the same BC's other-method request for this shop loses the race.
            other.status = RequestStatus.EXPIRED
            other.decided_at = now
            other.superseded_by = request_id
            session.add(other)
            audit.record(
                session,
                actor="system",
                entity="access_request",
                entity_id=other.id,
                action="expired",
                at=now,
                superseded_by=request_id,
            )
            expired = other
    session.flush()
    # R14 in the same transaction: an approved request never lacks its grant.
    grant = _write_grant(session, request, now)
    return DecisionRecord(
        request, scenario, expired, already_decided=False, grant=grant, decided_by=approver.email
    )


GRANT_FOR_METHOD = {
    RequestMethod.REQUEST_ACCESS: (Relationship.PARTNER, Permission.AD_PROMOTION),
    RequestMethod.ADD_MY_SHOP: (Relationship.OWNER, Permission.MANAGER),
}


def _end_partner_grants(session: Session, request: AccessRequest, now: datetime) -> None:
    """Decision (docs/decisions.md): "Add my shop" by a partner upgrades it to owner. The
    owner grant replaces the partner grant(s) rather than sitting beside them, so the BC
    holds the shop once; member assignments and onward shares hang on (BC, shop), not on
    the grant, and stay. The ended grant is kept as history (R21)."""
    for held in active_grants(session, request.bc_id, request.shop_id):
        held.revoked_at = now
        session.add(held)
        audit.record(
            session,
            actor="system",
            entity="shop_grant",
            entity_id=held.id or 0,
            action="upgraded_to_owner",
            at=now,
            bc_id=request.bc_id,
            shop_id=request.shop_id,
            request_id=request.id,
        )


def grant_access(session: Session, *, request_id: str, now: datetime | None = None) -> ShopGrant:
    """R14: the approved request's BC gets the shop; once per request, however often called."""
    existing = session.exec(
        select(ShopGrant).where(ShopGrant.source_request_id == request_id)
    ).first()
    if existing is not None:
        return existing
    request = require_request(session, request_id, lock=True)
    if request.status is not RequestStatus.APPROVED:
        raise not_pending(request)
    return _write_grant(session, request, now or utcnow())


def _write_grant(session: Session, request: AccessRequest, now: datetime) -> ShopGrant:
    relationship, permission = GRANT_FOR_METHOD[request.method]
    if relationship is Relationship.OWNER:
        _end_partner_grants(session, request, now)
    grant = ShopGrant(
        bc_id=request.bc_id,
        shop_id=request.shop_id,
        relationship=relationship,
        permission=permission,
        source_request_id=request.id,
        granted_by_bc_id=request.approving_bc_id,
        created_at=now,
    )
    session.add(grant)
    session.flush()
    audit.record(
        session,
        actor="system",
        entity="shop_grant",
        entity_id=grant.id or 0,
        action="granted",
        at=grant.created_at,
        bc_id=request.bc_id,
        shop_id=request.shop_id,
        relationship=relationship.value,
        permission=permission.value,
        request_id=request.id,
    )
    return grant
