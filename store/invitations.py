"""The lifecycle every invitation shares (R16, R17): accept, decline, cancel.

Member invitations are answered by the invited e-mail address; add-partner invitations by
an admin of the invited BC; either kind is cancelled by an admin of the inviting BC.
Each answer is idempotent: the same answer by the same person again returns the
invitation unchanged.

A shop offered on an add-partner invitation may carry an end date (R23): checked when
offered as for a share with a partner, and given to the grant when the invitation is
accepted, unless it can no longer be (passed, or later than the sharer's own end by then):
that shop is then skipped, like one the sharer no longer holds (docs/decisions.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import bindparam
from sqlmodel import Session, col, select

from models.enums import Permission
from models.errors import ErrorCode, Refusal
from models.partner_enums import AdAccountPermission, InvitationKind, InvitationStatus
from models.tables import (
    AdAccount,
    BusinessCenter,
    Invitation,
    InvitationAdAccount,
    InvitationShop,
    Shop,
    ShopGrant,
    User,
    utcnow,
)
from store import audit, end_dates, sharing
from store import partner_refusals as refusals
from store.members import accept_member_invitation
from store.people import find_user, normalise_email, require_bc, require_bc_admin


def require_invitation(session: Session, invitation_id: str, *, lock: bool = False) -> Invitation:
    query = select(Invitation).where(Invitation.id == invitation_id)
    if lock:
        query = query.with_for_update()
    invitation = session.exec(query).first()
    if invitation is None:
        raise Refusal(ErrorCode.UNKNOWN_INVITATION, invitation_id=invitation_id)
    return invitation


def _invitee(session: Session, invitation: Invitation, by: str) -> User:
    """Who may answer: the invited address (member) or an invited BC admin (partner)."""
    if invitation.kind is InvitationKind.MEMBER:
        address = normalise_email(by)
        if address != invitation.email:
            raise refusals.not_the_invitee(invitation)
        user = find_user(session, address)
        if user is None:  # a new person: accepting creates their user
            user = User(email=address, name=address.split("@")[0])
            session.add(user)
            session.flush()
            audit.record(
                session,
                actor=address,
                entity="user",
                entity_id=user.id or 0,
                action="created",
                email=address,
                via_invitation=invitation.id,
            )
        return user
    assert invitation.partner_bc_id is not None
    partner = require_bc(session, invitation.partner_bc_id)
    return require_bc_admin(session, partner, by)


def _same_answer(invitation: Invitation, status: InvitationStatus, user: User | None) -> bool:
    return (
        invitation.status is status
        and user is not None
        and invitation.decided_by_user_id == user.id
    )


def accept_invitation(
    session: Session, *, invitation_id: str, by: str, now: datetime | None = None
) -> tuple[Invitation, list[ShopGrant]]:
    """Accept: the member joins (R16), or the partner gets the offered shops (R17)."""
    now = now or utcnow()
    invitation = require_invitation(session, invitation_id, lock=True)
    if invitation.status is InvitationStatus.ACCEPTED and _same_answer(
        invitation, InvitationStatus.ACCEPTED, find_user(session, by)
    ):
        return invitation, _granted(session, invitation)
    if invitation.status is not InvitationStatus.PENDING:
        raise refusals.invitation_not_pending(invitation)
    user = _invitee(session, invitation, by)
    granted: list[ShopGrant] = []
    if invitation.kind is InvitationKind.MEMBER:
        accept_member_invitation(session, invitation=invitation, user=user, now=now)
    else:
        granted = _accept_partner(session, invitation, user, now)
    _decide(session, invitation, InvitationStatus.ACCEPTED, user, now)
    return invitation, granted


def offer_partner_shop(
    session: Session,
    *,
    invitation_id: str,
    bc_id: int,
    partner_bc_id: int,
    shop_id: int,
    permission: Permission,
    by: str,
    workflow_id: str,
    ends_at: datetime | None = None,
    now: datetime | None = None,
) -> Invitation:
    """R17 (store.sharing.offer_partner_shop) with R23's end date, checked in the same
    transaction as for a share with a partner: not past, never later than the sharer's own
    end date. A refused date leaves no offer (and no invitation, on a first offer)."""
    now = now or utcnow()
    invitation = sharing.offer_partner_shop(
        session,
        invitation_id=invitation_id,
        bc_id=bc_id,
        partner_bc_id=partner_bc_id,
        shop_id=shop_id,
        permission=permission,
        by=by,
        workflow_id=workflow_id,
        now=now,
        ends_at=ends_at,
    )
    if ends_at is not None:
        end_dates.require_future(ends_at, now)
        shop = sharing.require_shop(session, shop_id)
        end_dates.check_not_later_than_grantor(
            session, grantor_bc_id=bc_id, shop=shop, ends_at=ends_at
        )
    return invitation


def _accept_partner(
    session: Session, invitation: Invitation, user: User, now: datetime
) -> list[ShopGrant]:
    """R17 with R23: the offered shops are shared; a share offered with an end date gets
    it (audited as for a partner share), or is skipped if the date can no longer be given."""
    ends = {
        item.shop_id: item.ends_at
        for item in sharing.offered_items(session, invitation.id)
        if item.ends_at is not None
    }
    lapsed = {
        shop_id: why
        for shop_id, ends_at in ends.items()
        if (why := _end_refused(session, invitation.bc_id, shop_id, ends_at, now))
    }
    granted = sharing.accept_partner_invitation(
        session, invitation=invitation, user=user, now=now, lapsed=lapsed
    )
    for grant in granted:
        if grant.shop_id in ends:
            end_dates.set_end(session, grant, ends[grant.shop_id], actor=user.email, now=now)
    session.flush()
    return granted


def _end_refused(
    session: Session, bc_id: int, shop_id: int, ends_at: datetime, now: datetime
) -> str | None:
    """Why an offered end date can no longer be given (its refusal code), or None."""
    try:
        end_dates.require_future(ends_at, now)
        end_dates.check_not_later_than_grantor(
            session,
            grantor_bc_id=bc_id,
            shop=sharing.require_shop(session, shop_id),
            ends_at=ends_at,
        )
    except Refusal as refused:
        return refused.code
    return None


def decline_invitation(
    session: Session, *, invitation_id: str, by: str, now: datetime | None = None
) -> Invitation:
    invitation = require_invitation(session, invitation_id, lock=True)
    if _same_answer(invitation, InvitationStatus.DECLINED, find_user(session, by)):
        return invitation
    if invitation.status is not InvitationStatus.PENDING:
        raise refusals.invitation_not_pending(invitation)
    user = _invitee(session, invitation, by)
    _decide(session, invitation, InvitationStatus.DECLINED, user, now or utcnow())
    return invitation


def cancel_invitation(
    session: Session, *, invitation_id: str, by: str, now: datetime | None = None
) -> Invitation:
    """An admin of the inviting BC withdraws a pending invitation (no end_dates otherwise)."""
    invitation = require_invitation(session, invitation_id, lock=True)
    bc = require_bc(session, invitation.bc_id)
    admin = require_bc_admin(session, bc, by)
    if _same_answer(invitation, InvitationStatus.CANCELLED, admin):
        return invitation
    if invitation.status is not InvitationStatus.PENDING:
        raise refusals.invitation_not_pending(invitation)
    _decide(session, invitation, InvitationStatus.CANCELLED, admin, now or utcnow())
    return invitation


def _decide(
    session: Session,
    invitation: Invitation,
    status: InvitationStatus,
    user: User,
    now: datetime,
) -> None:
    invitation.status = status
    invitation.decided_at = now
    invitation.decided_by_user_id = user.id
    session.add(invitation)
    audit.record(
        session,
        actor=user.email,
        entity="invitation",
        entity_id=invitation.id,
        action=status.value,
        at=now,
        kind=invitation.kind.value,
    )
    session.flush()


def _granted(session: Session, invitation: Invitation) -> list[ShopGrant]:
    prefix = f"invitation:{invitation.id}:shop-"
    return [
        g
        for g in session.exec(
            select(ShopGrant).where(ShopGrant.granted_by_bc_id == invitation.bc_id)
        ).all()
        if (g.source_share_key or "").startswith(prefix)
    ]


def offered_shop_ids(session: Session, invitation_id: str) -> list[int]:
    return sorted(
        session.exec(
            select(InvitationShop.shop_id).where(InvitationShop.invitation_id == invitation_id)
        ).all()
    )


# --- what an invitation offers, as its page and its e-mails show it -----------------------


class OfferedAdAccount(NamedTuple):
    """An ad account a member invitation gives (R16)."""

    name: str
    id: int
    permission: AdAccountPermission


class OfferedShop(NamedTuple):
    """A shop an add-partner invitation carries (R17), and when the share ends (R23)."""

    name: str
    code: str
    permission: Permission
    ends_at: datetime | None = None


@dataclass(frozen=True)
class InvitationDetails:
    """An invitation with everything a person reads about it: who invites (``bc`` and
    ``invited_by``), whom (``invitation.email`` or ``partner``) and what it gives. The
    invitation page (web) and the invitation e-mails (activities.partners) both show this,
    so they cannot disagree."""

    invitation: Invitation
    bc: BusinessCenter
    invited_by: User
    partner: BusinessCenter | None
    ad_accounts: list[OfferedAdAccount]
    shops: list[OfferedShop]


_OFFERED_AD_ACCOUNTS = (
    select(AdAccount.name, AdAccount.id, InvitationAdAccount.permission)
    .join(AdAccount, AdAccount.id == InvitationAdAccount.ad_account_id)  # type: ignore[arg-type]
    .where(InvitationAdAccount.invitation_id == bindparam("invitation_id"))
    .order_by(col(AdAccount.id))
)
_OFFERED_SHOPS = (
    select(Shop.name, Shop.code, InvitationShop.permission, InvitationShop.ends_at)
    .join(Shop, Shop.id == InvitationShop.shop_id)  # type: ignore[arg-type]
    .where(InvitationShop.invitation_id == bindparam("invitation_id"))
    .order_by(Shop.code)
)


def find_invitation_details(session: Session, invitation_id: str) -> InvitationDetails | None:
    """The invitation's details, or None if there is no such invitation."""
    invitation = session.get(Invitation, invitation_id)
    if invitation is None:
        return None
    bc = session.get(BusinessCenter, invitation.bc_id)
    invited_by = session.get(User, invitation.invited_by_user_id)
    # Foreign keys: an invitation without its BC or inviter is a broken store.
    assert bc is not None and invited_by is not None
    partner = None
    if invitation.partner_bc_id is not None:
        partner = session.get(BusinessCenter, invitation.partner_bc_id)
        assert partner is not None
    params = {"invitation_id": invitation.id}
    return InvitationDetails(
        invitation=invitation,
        bc=bc,
        invited_by=invited_by,
        partner=partner,
        ad_accounts=[
            OfferedAdAccount(name, id_, AdAccountPermission(permission))
            for name, id_, permission in session.exec(_OFFERED_AD_ACCOUNTS, params=params)
        ],
        shops=[
            OfferedShop(name, code, Permission(permission), ends_at)
            for name, code, permission, ends_at in session.exec(_OFFERED_SHOPS, params=params)
        ],
    )


def invitation_details(session: Session, invitation_id: str) -> InvitationDetails:
    """The invitation's details; refused with ``unknown_invitation`` if there is none."""
    details = find_invitation_details(session, invitation_id)
    if details is None:
        raise Refusal(ErrorCode.UNKNOWN_INVITATION, invitation_id=invitation_id)
    return details
