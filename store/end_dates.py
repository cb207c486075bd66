"""Access until a date (R23): the rules for setting, changing and clearing an end date, and
what happens to a grant when its date comes.

An end date lives on the grant (``shop_grant.ends_at``). The store is the truth: the
access-end workflow only keeps a timer, and at the end asks :func:`end_grant` what to do,
which re-reads the grant, so a lost signal or a changed date never ends access wrongly.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from models.end_date_messages import GrantEndOutcome
from models.end_date_parsing import shown
from models.enums import Permission, Relationship
from models.errors import ErrorCode, Refusal
from models.tables import (
    BusinessCenter,
    MemberAssignment,
    Shop,
    ShopGrant,
    ShopTeamMember,
    User,
    utcnow,
)
from store import audit
from store.db import read_session
from store.partner_refusals import not_a_partner_of_shop
from store.people import bc_admin_emails, find_user, require_bc, require_shop_by_code
from store.removal import partner_grants, require_removal_authority
from store.sharing import require_shop


def require_future(ends_at: datetime, now: datetime) -> None:
    if ends_at <= now:
        raise Refusal(ErrorCode.END_DATE_PASSED, ends_at=shown(ends_at))


def own_end(session: Session, bc_id: int, shop_id: int) -> datetime | None:
    """When ``bc_id``'s own access to the shop ends: None if any of its grants has no end
    (or it holds none: the sharing rules refuse that case themselves)."""
    grants = session.exec(
        select(ShopGrant).where(
            ShopGrant.bc_id == bc_id,
            ShopGrant.shop_id == shop_id,
            col(ShopGrant.revoked_at).is_(None),
        )
    ).all()
    ends = [g.ends_at for g in grants]
    if not ends or any(e is None for e in ends):
        return None
    return max(e for e in ends if e is not None)


def check_not_later_than_grantor(
    session: Session, *, grantor_bc_id: int, shop: Shop, ends_at: datetime | None
) -> None:
    """R23: a BC never grants beyond its own end date (no end date is "later" too)."""
    assert shop.id is not None
    limit = own_end(session, grantor_bc_id, shop.id)
    if limit is None:
        return
    if ends_at is None or ends_at > limit:
        raise Refusal(
            ErrorCode.END_DATE_TOO_LATE,
            ends_at=shown(ends_at) if ends_at else "none",
            own_ends_at=shown(limit),
            bc_id=grantor_bc_id,
            shop_code=shop.code,
        )


def set_end(
    session: Session, grant: ShopGrant, ends_at: datetime | None, *, actor: str, now: datetime
) -> None:
    """Write (or clear) one grant's end date, checked against its grantor's, and record it."""
    if ends_at is not None:
        require_future(ends_at, now)
    shop = require_shop(session, grant.shop_id)
    if grant.source_share_key is not None and grant.granted_by_bc_id is not None:
        check_not_later_than_grantor(
            session, grantor_bc_id=grant.granted_by_bc_id, shop=shop, ends_at=ends_at
        )
    grant.ends_at = ends_at
    session.add(grant)
    audit.record(
        session,
        actor=actor,
        entity="shop_grant",
        entity_id=grant.id or 0,
        action="end_date_set" if ends_at else "end_date_cleared",
        at=now,
        bc_id=grant.bc_id,
        shop_code=shop.code,
        ends_at=ends_at.isoformat() if ends_at else None,
    )


@dataclass(frozen=True)
class EndDateSet:
    shop_id: int
    shop_code: str
    partner_bc_id: int
    grant_ids: list[int]
    ends_at: datetime | None


def set_partner_end(
    session: Session,
    *,
    shop_code: str,
    partner_bc_id: int,
    ends_at: datetime | None,
    by: str,
    now: datetime | None = None,
) -> EndDateSet:
    """R23: the seller (whoever may remove the partner, R19) sets, changes or clears when
    a partner's access to the shop ends; every partner grant the BC holds on it follows."""
    now = now or utcnow()
    shop = require_shop_by_code(session, shop_code)
    assert shop.id is not None
    user = require_removal_authority(session, shop, by)
    partner = require_bc(session, partner_bc_id)
    grants = partner_grants(session, shop.id, partner.id, lock=True)
    if not grants:
        raise not_a_partner_of_shop(partner, shop)
    for grant in grants:
        set_end(session, grant, ends_at, actor=user.email, now=now)
    session.flush()
    return EndDateSet(shop.id, shop.code, partner.id, [g.id for g in grants if g.id], ends_at)


def _removal_actor(session: Session, shop: Shop) -> str | None:
    """Who the R19 removal runs in the name of: it needs someone with the authority to
    remove; the shop's team member with the lowest id (the audit also names the date)."""
    return session.exec(
        select(User.email)
        .join(ShopTeamMember, col(ShopTeamMember.user_id) == col(User.id))
        .where(ShopTeamMember.shop_id == shop.id)
        .order_by(col(User.id))
    ).first()


def end_grant(
    session: Session, *, grant_id: int, ends_at: datetime, now: datetime | None = None
) -> GrantEndOutcome:
    """At the end date: end this grant alone if the BC keeps the shop another way, else
    say that the R19 removal must run. Idempotent: a second call finds the grant gone."""
    now = now or utcnow()
    grant = session.get(ShopGrant, grant_id, with_for_update=True)
    if grant is None or grant.revoked_at is not None or grant.ends_at is None:
        return GrantEndOutcome(status="gone")
    # The workflow's timer says the date has come (its clock: the time-skipping server's
    # in tests); the store only confirms it still holds that date.
    if grant.ends_at != ends_at:
        return GrantEndOutcome(status="not_due", ends_at=grant.ends_at)
    shop = require_shop(session, grant.shop_id)
    others = [
        g
        for g in session.exec(
            select(ShopGrant).where(
                ShopGrant.bc_id == grant.bc_id,
                ShopGrant.shop_id == grant.shop_id,
                col(ShopGrant.revoked_at).is_(None),
                ShopGrant.id != grant.id,
            )
        ).all()
        if g.ends_at is None or g.ends_at > now
    ]
    if others or grant.relationship is not Relationship.PARTNER:
        grant.revoked_at = now
        session.add(grant)
        audit.record(
            session,
            actor="system",
            entity="shop_grant",
            entity_id=grant_id,
            action="ended_on_date",
            at=now,
            bc_id=grant.bc_id,
            shop_code=shop.code,
        )
        return GrantEndOutcome(status="ended", shop_id=shop.id, shop_code=shop.code)
    bc = session.get(BusinessCenter, grant.bc_id)
    assert bc is not None
    return GrantEndOutcome(
        status="remove",
        shop_id=shop.id,
        shop_code=shop.code,
        partner_bc_id=bc.id,
        by=_removal_actor(session, shop),
    )


def ending_grant(session: Session, grant_id: int, ends_at: datetime) -> ShopGrant | None:
    """The grant if it is still active and still ends at ``ends_at`` (for the reminder)."""
    grant = session.get(ShopGrant, grant_id)
    if grant is None or grant.revoked_at is not None or grant.ends_at != ends_at:
        return None
    return grant


def set_assignment_end(
    session: Session,
    assignment: MemberAssignment,
    ends_at: datetime | None,
    *,
    actor: str,
    now: datetime,
) -> None:
    """R23: a member's assignment ends by itself, never later than the BC's own access."""
    if ends_at is not None:
        require_future(ends_at, now)
    shop = require_shop(session, assignment.shop_id)
    check_not_later_than_grantor(
        session, grantor_bc_id=assignment.bc_id, shop=shop, ends_at=ends_at
    )
    assignment.ends_at = ends_at
    session.add(assignment)
    audit.record(
        session,
        actor=actor,
        entity="member_assignment",
        entity_id=f"bc-{assignment.bc_id}:shop-{assignment.shop_id}:user-{assignment.user_id}",
        action="end_date_set" if ends_at else "end_date_cleared",
        at=now,
        shop_code=shop.code,
        ends_at=ends_at.isoformat() if ends_at else None,
    )


def end_assignment(
    session: Session, *, assignment_id: int, ends_at: datetime, now: datetime | None = None
) -> GrantEndOutcome:
    """At an assignment's end date: it ends (the smaller removal: only the assignment)."""
    assignment = session.get(MemberAssignment, assignment_id, with_for_update=True)
    if assignment is None or assignment.ended_at is not None or assignment.ends_at is None:
        return GrantEndOutcome(status="gone")
    if assignment.ends_at != ends_at:
        return GrantEndOutcome(status="not_due", ends_at=assignment.ends_at)
    now = now or utcnow()
    assignment.ended_at = now
    session.add(assignment)
    audit.record(
        session,
        actor="system",
        entity="member_assignment",
        entity_id=f"bc-{assignment.bc_id}:shop-{assignment.shop_id}:user-{assignment.user_id}",
        action="ended_on_date",
        at=now,
    )
    return GrantEndOutcome(status="ended", shop_id=assignment.shop_id)


@dataclass(frozen=True)
class AssignmentEnding:
    """What the reminder to an assignment's holder says (R23): who, which shop and BC,
    which permission, and the BC's admins to ask to keep it."""

    assignment_id: int
    member_email: str
    member_name: str
    bc_id: int
    bc_name: str
    shop_name: str
    shop_code: str
    permission: Permission
    admins: list[tuple[str, str]]  # (name, address) of each admin of the BC
    # R28: the member's saved language, else the BC's country.
    language: str | None = None
    country: str | None = None
    timezone: str | None = None  # the BC's: where the end date is shown


def ending_assignment(
    session: Session, assignment_id: int, ends_at: datetime
) -> AssignmentEnding | None:
    """The assignment if it is still active and still ends at ``ends_at`` (the reminder
    sends nothing for a date moved or cleared meanwhile, or an assignment already over)."""
    assignment = session.get(MemberAssignment, assignment_id)
    if assignment is None or assignment.ended_at is not None or assignment.ends_at != ends_at:
        return None
    member = session.get(User, assignment.user_id)
    bc = session.get(BusinessCenter, assignment.bc_id)
    shop = require_shop(session, assignment.shop_id)
    assert member is not None and bc is not None and assignment.id is not None
    admins = []
    for address in bc_admin_emails(session, bc.id):
        admin = find_user(session, address)
        admins.append((admin.name if admin and admin.name else address, address))
    return AssignmentEnding(
        assignment_id=assignment.id,
        member_email=member.email,
        member_name=member.name or member.email,
        bc_id=bc.id,
        bc_name=bc.name,
        shop_name=shop.name,
        shop_code=shop.code,
        permission=assignment.permission,
        admins=admins,
        language=member.preferred_language,
        country=bc.country,
        timezone=bc.timezone,
    )


def grant_end_dates(engine: Engine, grant_ids: list[int]) -> dict[int, datetime]:
    """The end date of each of these grants that has one (partner management's list)."""
    if not grant_ids:
        return {}
    with read_session(engine) as session:
        rows = session.exec(
            select(ShopGrant.id, ShopGrant.ends_at).where(
                col(ShopGrant.id).in_(grant_ids), col(ShopGrant.ends_at).is_not(None)
            )
        ).all()
    return {int(i): e for i, e in rows if i is not None and e is not None}
