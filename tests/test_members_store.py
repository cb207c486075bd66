"""R16 in the store, on SQLite and PostgreSQL: assigning members a permission on a shop,
member invitations and their answers. Every refusal: its code, its message, no change."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine
from sqlmodel import select

from models.enums import MemberRole, Permission
from models.errors import ErrorCode
from models.partner_enums import AdAccountPermission, InvitationStatus
from models.partner_messages import AdAccountGrant
from models.tables import AdAccountMember, BCMember, MemberAssignment, User
from store import invitations, members
from store.db import read_session, write_session
from tests.conftest import AGENCY, ANA, LEE, OLI, S1_SHOP, S2_SHOP, SAM, load_demo
from tests.partners_support import (
    AGENCY_ADS,
    NEW_MEMBER,
    SUB_ADS,
    grant_in_store,
    load_extra,
    refused_without_change,
    shop_id_of,
)


@pytest.fixture()
def store(store_engine: Engine) -> Engine:
    load_demo(store_engine)
    load_extra(store_engine)
    grant_in_store(store_engine, bc_id=AGENCY, shop_code=S1_SHOP, admin=ANA, seller=OLI)
    return store_engine


def _assign(
    engine: Engine, member: str, permission: Permission, by: str = ANA, shop: str = S1_SHOP
) -> MemberAssignment:
    with write_session(engine) as session:
        return members.assign_member(
            session,
            bc_id=AGENCY,
            shop_id=shop_id_of(engine, shop),
            member_email=member,
            permission=permission,
            by=by,
        )


def _invite(
    session,
    invitation_id: str = "inv_1",
    email: str = NEW_MEMBER,
    by: str = ANA,
    accounts: list[AdAccountGrant] | None = None,
):
    return members.create_member_invitation(
        session,
        invitation_id=invitation_id,
        bc_id=AGENCY,
        email=email,
        role=MemberRole.STANDARD,
        ad_accounts=accounts or [],
        by=by,
        workflow_id="wf",
    )


# --- assigning --------------------------------------------------------------------------


def test_r16_admin_assigns_a_member_and_reassigning_keeps_history(store: Engine) -> None:
    first = _assign(store, SAM, Permission.AD_PROMOTION)
    again = _assign(store, SAM, Permission.AD_PROMOTION)
    assert again.id == first.id  # idempotent
    with read_session(store) as session:
        rows = session.exec(select(MemberAssignment)).all()
    assert [(r.permission, r.ended_at) for r in rows] == [(Permission.AD_PROMOTION, None)]


def test_r16_a_standard_member_cannot_assign(store: Engine) -> None:
    refused_without_change(
        store,
        lambda s: members.assign_member(
            s,
            bc_id=AGENCY,
            shop_id=shop_id_of(store, S1_SHOP),
            member_email=SAM,
            permission=Permission.AD_PROMOTION,
            by=SAM,
        ),
        ErrorCode.NOT_BC_ADMIN,
        "ask an admin",
    )


def test_r16_assigning_on_a_shop_the_bc_does_not_hold_is_refused(store: Engine) -> None:
    refused_without_change(
        store,
        lambda s: members.assign_member(
            s,
            bc_id=AGENCY,
            shop_id=shop_id_of(store, S2_SHOP),
            member_email=SAM,
            permission=Permission.AD_PROMOTION,
            by=ANA,
        ),
        ErrorCode.SHOP_NOT_HELD,
        "has no access to shop SGNEWBC002",
    )


@pytest.mark.parametrize("who", [NEW_MEMBER, LEE])
def test_r16_assigning_a_non_member_says_invite_first(store: Engine, who: str) -> None:
    refused_without_change(
        store,
        lambda s: members.assign_member(
            s,
            bc_id=AGENCY,
            shop_id=shop_id_of(store, S1_SHOP),
            member_email=who,
            permission=Permission.AD_PROMOTION,
            by=ANA,
        ),
        ErrorCode.NOT_A_MEMBER,
        "invite them first (invite-member)",
    )


def test_r16_a_member_never_gets_more_than_the_bc_holds(store: Engine) -> None:
    refused_without_change(
        store,
        lambda s: members.assign_member(
            s,
            bc_id=AGENCY,
            shop_id=shop_id_of(store, S1_SHOP),
            member_email=SAM,
            permission=Permission.MANAGER,
            by=ANA,
        ),
        ErrorCode.PERMISSION_DENIED,
        "holds ad_promotion permission",
        "manager is higher",
    )


# --- inviting ---------------------------------------------------------------------------


def test_r16_accepted_invitation_makes_a_member_with_ad_accounts(store: Engine) -> None:
    grant = AdAccountGrant(ad_account_id=AGENCY_ADS, permission=AdAccountPermission.OPERATOR)
    with write_session(store) as session:
        _invite(session, accounts=[grant])
    with write_session(store) as session:
        invitation, _ = invitations.accept_invitation(
            session, invitation_id="inv_1", by=NEW_MEMBER.upper()
        )
        assert invitation.status is InvitationStatus.ACCEPTED
    with write_session(store) as session:  # the same answer again changes nothing
        invitations.accept_invitation(session, invitation_id="inv_1", by=NEW_MEMBER)
    with read_session(store) as session:
        user = session.exec(select(User).where(User.email == NEW_MEMBER)).one()
        member = session.get(BCMember, (AGENCY, user.id))
        account = session.get(AdAccountMember, (AGENCY_ADS, user.id))
    assert member is not None and member.role is MemberRole.STANDARD
    assert account is not None and account.permission is AdAccountPermission.OPERATOR
    assert _assign(store, NEW_MEMBER, Permission.AD_PROMOTION).ended_at is None


def test_r16_only_an_admin_invites(store: Engine) -> None:
    refused_without_change(
        store, lambda s: _invite(s, by=SAM), ErrorCode.NOT_BC_ADMIN, "standard member"
    )


def test_r16_inviting_an_existing_member_is_refused(store: Engine) -> None:
    refused_without_change(
        store,
        lambda s: _invite(s, email=SAM),
        ErrorCode.ALREADY_A_MEMBER,
        "already a member of Business Center",
    )


def test_r16_a_second_pending_invitation_for_one_address_is_refused(store: Engine) -> None:
    with write_session(store) as session:
        _invite(session)
    refused_without_change(
        store,
        lambda s: _invite(s, invitation_id="inv_2"),
        ErrorCode.INVITATION_ALREADY_PENDING,
        "inv_1",
    )


def test_r16_ad_accounts_must_belong_to_the_inviting_bc(store: Engine) -> None:
    other = AdAccountGrant(ad_account_id=SUB_ADS, permission=AdAccountPermission.ADMIN)
    refused_without_change(
        store, lambda s: _invite(s, accounts=[other]), ErrorCode.UNKNOWN_AD_ACCOUNT, str(SUB_ADS)
    )


@pytest.mark.parametrize(
    "address",
    # An address with a CR/LF would write its own headers into the invitation.
    ["not-an-address", "new@brand.com\r\nBcc: evil@attacker.example", "new @brand.com"],
)
def test_r16_a_malformed_address_is_refused(store: Engine, address: str) -> None:
    refused_without_change(
        store,
        lambda s: _invite(s, email=address),
        ErrorCode.INVALID_INPUT,
        "is not an e-mail address",
    )


# --- answering --------------------------------------------------------------------------


def test_r16_only_the_invited_address_may_answer(store: Engine) -> None:
    with write_session(store) as session:
        _invite(session)
    refused_without_change(
        store,
        lambda s: invitations.accept_invitation(s, invitation_id="inv_1", by=SAM),
        ErrorCode.PERMISSION_DENIED,
        "sent to another e-mail address",
    )


def test_r16_an_answered_invitation_cannot_be_answered_again(store: Engine) -> None:
    with write_session(store) as session:
        _invite(session)
    with write_session(store) as session:
        invitations.decline_invitation(session, invitation_id="inv_1", by=NEW_MEMBER)
    refused_without_change(
        store,
        lambda s: invitations.accept_invitation(s, invitation_id="inv_1", by=NEW_MEMBER),
        ErrorCode.INVITATION_NOT_PENDING,
        "is declined",
    )


def test_r16_only_an_inviting_admin_cancels(store: Engine) -> None:
    with write_session(store) as session:
        _invite(session)
    refused_without_change(
        store,
        lambda s: invitations.cancel_invitation(s, invitation_id="inv_1", by=SAM),
        ErrorCode.NOT_BC_ADMIN,
        "standard member",
    )
    with write_session(store) as session:
        assert (
            invitations.cancel_invitation(session, invitation_id="inv_1", by=ANA).status
            is InvitationStatus.CANCELLED
        )


def test_r16_an_unknown_invitation_is_refused(store: Engine) -> None:
    refused_without_change(
        store,
        lambda s: invitations.accept_invitation(s, invitation_id="inv_nope", by=ANA),
        ErrorCode.UNKNOWN_INVITATION,
        "inv_nope",
    )
