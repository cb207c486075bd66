"""What the mail activities read before they write e-mails (R7, R8, R14, R16, R17, R19).

Each function is one read on the caller's session and returns plain rows and dataclasses,
so the activities in activities/mailer.py and activities/partners.py only render and
deliver. The invitation e-mails read store.invitations.invitation_details, as the
invitation page does.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import bindparam
from sqlmodel import Session, select

from models.enums import Permission, Relationship
from models.tables import AccessRemoval, AccessRequest, BusinessCenter, Shop, ShopGrant, User
from store.people import bc_admin_emails, find_user, team_members


@dataclass(frozen=True)
class Recipient:
    email: str
    name: str
    # R28: the language they saved, if any (their e-mails else follow the BC's country).
    language: str | None = None


def admin_recipients(session: Session, bc_id: int) -> list[Recipient]:
    """The BC's admins, by e-mail address, with the name each is greeted by."""
    recipients = []
    for address in bc_admin_emails(session, bc_id):
        user = find_user(session, address)
        recipients.append(
            Recipient(
                email=address,
                name=user.name if user else address,
                language=user.preferred_language if user else None,
            )
        )
    return recipients


# --- requests (R7, R8, R14) -------------------------------------------------------------


@dataclass(frozen=True)
class RequestContext:
    """What every e-mail about a request shows: the request, its BC, shop and requester."""

    request: AccessRequest
    bc: BusinessCenter
    shop: Shop
    requester: User


# Built once with bound parameters: the mail activities run per request (docs/performance.md).
_REQUEST_CONTEXT = (
    select(AccessRequest, BusinessCenter, Shop, User)
    .join(BusinessCenter, BusinessCenter.id == AccessRequest.bc_id)  # type: ignore[arg-type]
    .join(Shop, Shop.id == AccessRequest.shop_id)  # type: ignore[arg-type]
    .join(User, User.id == AccessRequest.requested_by_user_id)  # type: ignore[arg-type]
    .where(AccessRequest.id == bindparam("request_id"))
)


def request_context(session: Session, request_id: str) -> RequestContext:
    """The request's context; a ValueError (bad data, not retried) if there is none: the
    workflow that mails about a request admitted it first."""
    row = session.exec(_REQUEST_CONTEXT, params={"request_id": request_id}).first()
    if row is None:
        raise ValueError(f"unknown request {request_id}")
    return RequestContext(*row)


def team_member(session: Session, shop_id: int, *, member_id: int) -> User | None:
    """The shop's team member who asked for a personal link (R7/R13), by member id; None
    if they are not (or no longer) on the team."""
    for user, _member in team_members(session, shop_id):
        if user.id == member_id:
            return user
    return None


@dataclass(frozen=True)
class Approval:
    """The grant an approval wrote (R14) and who approved it, if a person did."""

    relationship: Relationship
    permission: Permission
    approved_by: str | None


_APPROVAL = (
    select(ShopGrant.relationship, ShopGrant.permission, User.email)
    .join(AccessRequest, AccessRequest.id == ShopGrant.source_request_id)  # type: ignore[arg-type]
    .outerjoin(User, User.id == AccessRequest.decided_by_user_id)  # type: ignore[arg-type]
    .where(ShopGrant.source_request_id == bindparam("request_id"))
)


def approval_of(session: Session, request_id: str) -> Approval | None:
    """The grant the request's approval wrote, or None if it wrote none."""
    row = session.exec(_APPROVAL, params={"request_id": request_id}).first()
    if row is None:
        return None
    relationship, permission, approved_by = row
    return Approval(Relationship(relationship), Permission(permission), approved_by)


# --- removals (R19) ------------------------------------------------------------------------


@dataclass(frozen=True)
class LostAccess:
    """A BC that lost the shop in a removal, and its admins to tell."""

    bc: BusinessCenter
    direct: bool  # the removed partner itself, not a partner downstream of it
    recipients: list[Recipient]


@dataclass(frozen=True)
class RemovalContext:
    removal: AccessRemoval
    shop: Shop
    removed_by: User
    lost: list[LostAccess]


def removal_context(session: Session, removal_id: str) -> RemovalContext | None:
    """Who a removal's notices go to and what they say; None if there is no such removal."""
    removal = session.get(AccessRemoval, removal_id)
    if removal is None:
        return None
    shop = session.get(Shop, removal.shop_id)
    remover = session.get(User, removal.requested_by_user_id)
    assert shop is not None and remover is not None  # foreign keys
    lost = []
    for bc_id in json.loads(removal.lost_bc_ids):
        bc = session.get(BusinessCenter, bc_id)
        assert bc is not None
        lost.append(
            LostAccess(
                bc=bc,
                direct=bc_id == removal.partner_bc_id,
                recipients=admin_recipients(session, bc_id),
            )
        )
    return RemovalContext(removal=removal, shop=shop, removed_by=remover, lost=lost)
