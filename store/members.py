"""BC members on shops (R16): assigning a member a permission on a shop the BC holds, and
member invitations (several e-mails at once, a role, ad accounts with their permission).
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from models.enums import MemberRole, Permission
from models.errors import ErrorCode, Refusal
from models.fields import require_email
from models.partner_enums import AdAccountPermission, InvitationKind
from models.partner_messages import AdAccountGrant, AssignmentView
from models.tables import (
    AdAccount,
    AdAccountMember,
    BCMember,
    BusinessCenter,
    Invitation,
    InvitationAdAccount,
    MemberAssignment,
    Shop,
    User,
    utcnow,
)
from store import audit
from store import partner_refusals as refusals
from store.people import find_user, normalise_email, require_bc, require_bc_admin
from store.sharing import check_not_above, require_held, require_shop


def active_assignment(
    session: Session, *, bc_id: int, shop_id: int, user_id: int
) -> MemberAssignment | None:
    return session.exec(
        select(MemberAssignment).where(
            MemberAssignment.bc_id == bc_id,
            MemberAssignment.shop_id == shop_id,
            MemberAssignment.user_id == user_id,
            col(MemberAssignment.ended_at).is_(None),
        )
    ).first()


def assign_member(
    session: Session,
    *,
    bc_id: int,
    shop_id: int,
    member_email: str,
    permission: Permission,
    by: str,
    now: datetime | None = None,
) -> MemberAssignment:
    """R16: an admin gives a member ``manager`` or ``ad_promotion`` on a shop the BC holds.

    Idempotent: assigning the same permission again returns the assignment unchanged;
    a different permission replaces it (the old row ends, so history keeps both).
    """
    now = now or utcnow()
    bc = require_bc(session, bc_id)
    admin = require_bc_admin(session, bc, by)
    shop = require_shop(session, shop_id)
    level = require_held(session, bc, shop, lock=True)
    member = find_user(session, member_email)
    if member is None or member.id is None or session.get(BCMember, (bc.id, member.id)) is None:
        raise refusals.not_a_member_to_assign(normalise_email(member_email), bc)
    check_not_above(level, permission, to="members", bc=bc, shop=shop)
    current = active_assignment(session, bc_id=bc.id, shop_id=shop_id, user_id=member.id)
    if current is not None and current.permission is permission:
        return current
    if current is not None:
        current.ended_at = now
        session.add(current)
        session.flush()
    assert admin.id is not None
    assignment = MemberAssignment(
        bc_id=bc.id,
        shop_id=shop_id,
        user_id=member.id,
        permission=permission,
        assigned_by_user_id=admin.id,
        created_at=now,
    )
    session.add(assignment)
    audit.record(
        session,
        actor=admin.email,
        entity="member_assignment",
        entity_id=f"bc-{bc.id}:shop-{shop_id}:user-{member.id}",
        action="reassigned" if current else "assigned",
        at=now,
        member=member.email,
        shop_code=shop.code,
        permission=permission.value,
    )
    session.flush()
    return assignment


def assignment_view(session: Session, assignment: MemberAssignment) -> AssignmentView:
    shop = session.get(Shop, assignment.shop_id)
    user = session.get(User, assignment.user_id)
    assert shop is not None and user is not None
    return AssignmentView(
        bc_id=assignment.bc_id,
        shop_code=shop.code,
        member=user.email,
        permission=assignment.permission,
        since=assignment.created_at,
        ends_at=assignment.ends_at,
    )


def create_member_invitation(
    session: Session,
    *,
    invitation_id: str,
    bc_id: int,
    email: str,
    role: MemberRole,
    ad_accounts: list[AdAccountGrant],
    by: str,
    workflow_id: str,
    now: datetime | None = None,
) -> Invitation:
    """R16: invite one e-mail address to join the BC; idempotent on the invitation id."""
    existing = session.get(Invitation, invitation_id)
    if existing is not None:
        return existing
    now = now or utcnow()
    bc = require_bc(session, bc_id, lock=True)
    admin = require_bc_admin(session, bc, by)
    # The address goes into e-mail headers: the same check as reference data.
    address = require_email("email", email)
    _check_invitee(session, bc, address)
    _check_ad_accounts(session, bc, ad_accounts)
    assert admin.id is not None
    invitation = Invitation(
        id=invitation_id,
        kind=InvitationKind.MEMBER,
        bc_id=bc.id,
        invited_by_user_id=admin.id,
        email=address,
        role=role,
        created_at=now,
        workflow_id=workflow_id,
    )
    session.add(invitation)
    session.flush()
    for grant in ad_accounts:
        session.add(
            InvitationAdAccount(
                invitation_id=invitation_id,
                ad_account_id=grant.ad_account_id,
                permission=grant.permission,
            )
        )
    audit.record(
        session,
        actor=admin.email,
        entity="invitation",
        entity_id=invitation_id,
        action="member_invited",
        at=now,
        bc_id=bc.id,
        email=address,
        role=role.value,
        ad_accounts={str(g.ad_account_id): g.permission.value for g in ad_accounts},
    )
    session.flush()
    return invitation


def _check_invitee(session: Session, bc: BusinessCenter, address: str) -> None:
    """R16: not a member already, and no invitation to the address still pending."""
    invitee = find_user(session, address)
    if invitee is not None and session.get(BCMember, (bc.id, invitee.id)) is not None:
        raise refusals.already_a_member(address, bc)
    pending = session.exec(
        select(Invitation).where(
            Invitation.bc_id == bc.id,
            Invitation.email == address,
            Invitation.kind == InvitationKind.MEMBER,
            Invitation.status == "pending",
        )
    ).first()
    if pending is not None:
        raise refusals.invitation_already_pending(address, bc, pending.id)


def _check_ad_accounts(
    session: Session, bc: BusinessCenter, ad_accounts: list[AdAccountGrant]
) -> None:
    """R16: each ad account the invitation gives is the BC's own, and listed once."""
    seen: set[int] = set()
    for grant in ad_accounts:
        account = session.get(AdAccount, grant.ad_account_id)
        if account is None or account.bc_id != bc.id:
            raise refusals.ad_account_not_of_bc(grant.ad_account_id, bc)
        if grant.ad_account_id in seen:
            raise Refusal(
                ErrorCode.INVALID_INPUT,
                reason="ad_account_listed_twice",
                ad_account_id=grant.ad_account_id,
            )
        seen.add(grant.ad_account_id)


def accept_member_invitation(
    session: Session, *, invitation: Invitation, user: User, now: datetime
) -> None:
    """R16: the invitee joins the BC with the role and ad accounts of the invitation."""
    assert invitation.role is not None and user.id is not None
    if session.get(BCMember, (invitation.bc_id, user.id)) is None:
        session.add(BCMember(bc_id=invitation.bc_id, user_id=user.id, role=invitation.role))
    for item in session.exec(
        select(InvitationAdAccount).where(InvitationAdAccount.invitation_id == invitation.id)
    ).all():
        row = session.get(AdAccountMember, (item.ad_account_id, user.id))
        if row is None:
            session.add(
                AdAccountMember(
                    ad_account_id=item.ad_account_id,
                    user_id=user.id,
                    permission=item.permission,
                    created_at=now,
                )
            )
        else:
            row.permission = item.permission
            session.add(row)


def ad_account_permission(
    session: Session, ad_account_id: int, user_id: int
) -> AdAccountPermission | None:
    row = session.get(AdAccountMember, (ad_account_id, user_id))
    return row.permission if row else None
