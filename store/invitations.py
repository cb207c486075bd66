"""The lifecycle every invitation shares (R16, R17): accept, decline, cancel.

Member invitations are answered by the invited e-mail address; add-partner invitations by
an admin of the invited BC; either kind is cancelled by an admin of the inviting BC.
Each answer is idempotent: the same answer by the same person again returns the
invitation unchanged.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, select

from models.errors import ErrorCode, Refusal
from models.partner_enums import InvitationKind, InvitationStatus
from models.tables import Invitation, InvitationShop, ShopGrant, User, utcnow
from store import audit
from store.members import accept_member_invitation
from store.people import find_user, normalise_email, require_bc, require_bc_admin
from store.sharing import accept_partner_invitation, invitation_not_pending


def require_invitation(session: Session, invitation_id: str, *, lock: bool = False) -> Invitation:
    query = select(Invitation).where(Invitation.id == invitation_id)
    if lock:
        query = query.with_for_update()
    invitation = session.exec(query).first()
    if invitation is None:
        raise Refusal(ErrorCode.UNKNOWN_INVITATION, f"There is no invitation {invitation_id}.")
    return invitation


def _invitee(session: Session, invitation: Invitation, by: str) -> User:
    """Who may answer: the invited address (member) or an invited BC admin (partner)."""
    if invitation.kind is InvitationKind.MEMBER:
        address = normalise_email(by)
        if address != invitation.email:
            raise Refusal(
                ErrorCode.PERMISSION_DENIED,
                f"Invitation {invitation.id} was sent to another e-mail address; only its "
                "recipient can answer it.",
            )
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
        raise invitation_not_pending(invitation)
    user = _invitee(session, invitation, by)
    granted: list[ShopGrant] = []
    if invitation.kind is InvitationKind.MEMBER:
        accept_member_invitation(session, invitation=invitation, user=user, now=now)
    else:
        granted = accept_partner_invitation(session, invitation=invitation, user=user, now=now)
    _decide(session, invitation, InvitationStatus.ACCEPTED, user, now)
    return invitation, granted


def decline_invitation(
    session: Session, *, invitation_id: str, by: str, now: datetime | None = None
) -> Invitation:
    invitation = require_invitation(session, invitation_id, lock=True)
    if _same_answer(invitation, InvitationStatus.DECLINED, find_user(session, by)):
        return invitation
    if invitation.status is not InvitationStatus.PENDING:
        raise invitation_not_pending(invitation)
    user = _invitee(session, invitation, by)
    _decide(session, invitation, InvitationStatus.DECLINED, user, now or utcnow())
    return invitation


def cancel_invitation(
    session: Session, *, invitation_id: str, by: str, now: datetime | None = None
) -> Invitation:
    """An admin of the inviting BC withdraws a pending invitation (no expiry otherwise)."""
    invitation = require_invitation(session, invitation_id, lock=True)
    bc = require_bc(session, invitation.bc_id)
    admin = require_bc_admin(session, bc, by)
    if _same_answer(invitation, InvitationStatus.CANCELLED, admin):
        return invitation
    if invitation.status is not InvitationStatus.PENDING:
        raise invitation_not_pending(invitation)
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
