"""R12/R13: who may approve a request and which Business Center approves, per scenario.

One function per scenario of R12's table, each returning the approving BC's id or refusing
with what the seller must do instead. store/approval.py picks the function from the table.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import NoReturn
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from sqlmodel import Session, select

from models.enums import BCType, MemberRole, Scenario
from models.errors import ErrorCode, Refusal
from models.fields import require_display_name
from models.tables import BCMember, BusinessCenter, Shop, ShopTeamMember, User
from store import audit
from store.people import bc_admin_emails, find_user


@dataclass(frozen=True)
class Approval:
    """What the approving seller asked for, and who and when."""

    request_id: str
    shop: Shop
    approver: User
    now: datetime
    bc_id: int | None = None
    new_bc_name: str | None = None
    timezone: str | None = None

    @property
    def user_id(self) -> int:
        assert self.approver.id is not None
        return self.approver.id


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
        raise Refusal(ErrorCode.NOT_SHOP_TEAM, email=email, shop_code=shop.code)
    return user


def valid_timezone(tz: str | None) -> str:
    if not tz:
        raise Refusal(ErrorCode.INVALID_INPUT, reason="timezone_missing")
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise Refusal(ErrorCode.INVALID_INPUT, reason="timezone_unknown", timezone=tz) from None
    if tz not in available_timezones() and tz != "UTC":
        raise Refusal(ErrorCode.INVALID_INPUT, reason="timezone_unknown", timezone=tz)
    return tz


def new_bc_id(session: Session) -> int:
    while True:
        candidate = 7_000_000_000_000_000_000 + secrets.randbelow(10**18)
        if session.get(BusinessCenter, candidate) is None:
            return candidate


def s1_linked_bc(session: Session, ask: Approval) -> int:
    """S1: the shop is linked to a BC already; that BC approves, nothing to choose."""
    linked = ask.shop.linked_bc_id
    assert linked is not None
    if (ask.bc_id is not None and ask.bc_id != linked) or ask.new_bc_name:
        raise Refusal(
            ErrorCode.INVALID_INPUT,
            reason="s1_bc_given",
            shop_code=ask.shop.code,
            linked_bc_id=linked,
        )
    return linked


def s2_new_bc(session: Session, ask: Approval) -> int:
    """S2: the seller is in no BC; a new regular BC is created with them as its admin."""
    if not (ask.new_bc_name or "").strip():
        raise Refusal(ErrorCode.INVALID_INPUT, reason="new_bc_name_missing")
    # The name goes into e-mails and pages: no control characters.
    name = require_display_name(
        "new_bc_name", ask.new_bc_name or "", label="The new Business Center's name"
    )
    tz = valid_timezone(ask.timezone)
    location = ask.shop.location
    bc = BusinessCenter(
        id=new_bc_id(session),
        name=name,
        timezone=tz,
        type=BCType.REGULAR,
        country=location if len(location) == 2 else "XX",
        created_at=ask.now,
    )
    session.add(bc)
    session.flush()
    session.add(BCMember(bc_id=bc.id, user_id=ask.user_id, role=MemberRole.ADMIN))
    audit.record(
        session,
        actor=ask.approver.email,
        entity="business_center",
        entity_id=bc.id,
        action="created",
        at=ask.now,
        name=name,
        timezone=tz,
        for_request=ask.request_id,
    )
    return bc.id


def s3_chosen_bc(session: Session, ask: Approval) -> int:
    """S3: the seller administers BCs; they pick one of those."""
    admin_of = {b.id: b for b, role in seller_bcs(session, ask.user_id) if role is MemberRole.ADMIN}
    if ask.new_bc_name:
        raise Refusal(ErrorCode.INVALID_INPUT, reason="s3_new_bc")
    if ask.bc_id is None or ask.bc_id not in admin_of:
        choices = [f"{b.id} ({b.name})" for b in admin_of.values()]
        if ask.bc_id is None:
            raise Refusal(
                ErrorCode.INVALID_INPUT,
                reason="s3_bc_missing",
                bc_choices=choices,
                choices=sorted(admin_of),
            )
        raise Refusal(
            ErrorCode.BC_ADMIN_REQUIRED,
            reason="s3_not_admin",
            bc_id=ask.bc_id,
            bc_choices=choices,
            choices=sorted(admin_of),
        )
    return ask.bc_id


def s4_needs_admin(session: Session, ask: Approval) -> NoReturn:
    """S4: the seller is only a standard member; an admin of their BC must promote them."""
    theirs = [b for b, _ in seller_bcs(session, ask.user_id)]
    admins = sorted({e for b in theirs for e in bc_admin_emails(session, b.id)})
    raise Refusal(
        ErrorCode.BC_ADMIN_REQUIRED,
        reason="s4" if admins else "s4_no_admins",
        seller_bcs=[f"{b.id} ({b.name})" for b in theirs],
        bc_admins=admins,
    )


APPROVING_BC: dict[Scenario, Callable[[Session, Approval], int]] = {
    Scenario.S1: s1_linked_bc,
    Scenario.S2: s2_new_bc,
    Scenario.S3: s3_chosen_bc,
    Scenario.S4: s4_needs_admin,
}
"""R12's table: the scenario -> how the approving BC is found."""
