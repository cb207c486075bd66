"""R17 in the store, on SQLite and PostgreSQL: sharing a shop with a partner BC, the
add-partner invitation that carries it to a BC that is not yet a partner, and the
permission policy (owner > manager > ad_promotion). Every refusal: code, message, no change.
"""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from models.enums import Permission, Relationship, RequestMethod
from models.errors import ErrorCode
from store import invitations, removal, sharing
from store.db import read_session, write_session
from tests.conftest import AGENCY, ANA, LEE, OLI, S1_SHOP, S2_SHOP, SAM, SUBAGENCY, load_demo
from tests.partners_support import (
    OTHER_ADMIN,
    OTHER_AGENCY,
    SUB_SUB,
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


def _offer(
    session,
    engine: Engine,
    *,
    partner: int = SUBAGENCY,
    shop: str = S1_SHOP,
    permission: Permission = Permission.AD_PROMOTION,
    by: str = ANA,
    invitation_id: str = "inv_p",
):
    return sharing.offer_partner_shop(
        session,
        invitation_id=invitation_id,
        bc_id=AGENCY,
        partner_bc_id=partner,
        shop_id=shop_id_of(engine, shop),
        permission=permission,
        by=by,
        workflow_id="wf",
    )


def _accept(engine: Engine, invitation_id: str = "inv_p", by: str = LEE):
    with write_session(engine) as session:
        invitation, granted = invitations.accept_invitation(
            session, invitation_id=invitation_id, by=by
        )
        return invitation, [g.bc_id for g in granted]


def test_r17_invitation_carries_the_shop_until_the_partner_accepts(store: Engine) -> None:
    with write_session(store) as session:
        _offer(session, store)
    with write_session(store) as session:  # offering again changes nothing
        _offer(session, store)
    with read_session(store) as session:
        assert sharing.shops_for_bc(session, SUBAGENCY) == []
    _, granted = _accept(store)
    assert granted == [SUBAGENCY]
    with read_session(store) as session:
        [held] = sharing.shops_for_bc(session, SUBAGENCY)
        assert sharing.is_partner(session, AGENCY, SUBAGENCY)
    assert (held.shop_code, held.relationship, held.permission, held.via) == (
        S1_SHOP,
        Relationship.PARTNER,
        Permission.AD_PROMOTION,
        "share",
    )


def test_r17_an_existing_partner_gets_the_share_at_once(store: Engine) -> None:
    with write_session(store) as session:
        _offer(session, store)
    _accept(store)
    # Revoke the share, then share again directly: SUBAGENCY is a partner now.
    with write_session(store) as session:
        removal.end_grants(
            session,
            removal_id="rm_1",
            shop_id=shop_id_of(store, S1_SHOP),
            partner_bc_id=SUBAGENCY,
            by=OLI,
            workflow_id="wf",
        )
    with write_session(store) as session:
        grant = sharing.share_shop(
            session,
            share_key="share_1",
            bc_id=AGENCY,
            shop_id=shop_id_of(store, S1_SHOP),
            partner_bc_id=SUBAGENCY,
            permission=Permission.AD_PROMOTION,
            by=ANA,
        )
    with write_session(store) as session:  # idempotent on the share key
        again = sharing.share_shop(
            session,
            share_key="share_1",
            bc_id=AGENCY,
            shop_id=shop_id_of(store, S1_SHOP),
            partner_bc_id=SUBAGENCY,
            permission=Permission.AD_PROMOTION,
            by=ANA,
        )
    assert again.id == grant.id and grant.granted_by_bc_id == AGENCY


def test_r17_an_owner_bc_shares_manager(store_engine: Engine) -> None:
    load_demo(store_engine)
    grant_in_store(
        store_engine,
        bc_id=AGENCY,
        shop_code=S1_SHOP,
        admin=ANA,
        seller=OLI,
        method=RequestMethod.ADD_MY_SHOP,
    )
    with write_session(store_engine) as session:
        _offer(session, store_engine, permission=Permission.MANAGER)
    _accept(store_engine)
    with read_session(store_engine) as session:
        [held] = sharing.shops_for_bc(session, SUBAGENCY)
    assert held.permission is Permission.MANAGER


def test_r17_only_an_admin_shares(store: Engine) -> None:
    refused_without_change(
        store, lambda s: _offer(s, store, by=SAM), ErrorCode.NOT_BC_ADMIN, "standard member"
    )


def test_r17_sharing_a_shop_not_held_is_refused(store: Engine) -> None:
    refused_without_change(
        store,
        lambda s: _offer(s, store, shop=S2_SHOP),
        ErrorCode.SHOP_NOT_HELD,
        "has no access to shop SGNEWBC002",
    )


def test_r17_sharing_above_your_own_permission_is_refused(store: Engine) -> None:
    refused_without_change(
        store,
        lambda s: _offer(s, store, permission=Permission.MANAGER),
        ErrorCode.PERMISSION_DENIED,
        "holds ad_promotion",
        "manager is higher",
    )


def test_r17_sharing_with_yourself_is_refused(store: Engine) -> None:
    refused_without_change(
        store,
        lambda s: _offer(s, store, partner=AGENCY),
        ErrorCode.INVALID_INPUT,
        "cannot share with itself",
    )


def test_r17_sharing_with_an_unknown_bc_is_refused(store: Engine) -> None:
    refused_without_change(
        store,
        lambda s: _offer(s, store, partner=123456789),
        ErrorCode.UNKNOWN_BC,
        "123456789 does not exist",
    )


def test_r17_sharing_with_a_bc_that_holds_the_shop_is_refused(store: Engine) -> None:
    grant_in_store(store, bc_id=OTHER_AGENCY, shop_code=S1_SHOP, admin=OTHER_ADMIN, seller=OLI)
    refused_without_change(
        store,
        lambda s: _offer(s, store, partner=OTHER_AGENCY),
        ErrorCode.ALREADY_HAS_ACCESS,
        "already has access to shop",
    )


def test_r17_direct_share_needs_a_partner(store: Engine) -> None:
    refused_without_change(
        store,
        lambda s: sharing.share_shop(
            s,
            share_key="k",
            bc_id=AGENCY,
            shop_id=shop_id_of(store, S1_SHOP),
            partner_bc_id=SUB_SUB,
            permission=Permission.AD_PROMOTION,
            by=ANA,
        ),
        ErrorCode.NOT_A_PARTNER,
        "is not yet a partner",
    )


def test_r17_only_an_admin_of_the_invited_bc_accepts(store: Engine) -> None:
    with write_session(store) as session:
        _offer(session, store)
    refused_without_change(
        store,
        lambda s: invitations.accept_invitation(s, invitation_id="inv_p", by=ANA),
        ErrorCode.NOT_BC_ADMIN,
        "is not a member of Business Center",
    )


def test_r17_an_answered_invitation_takes_no_more_shops(store: Engine) -> None:
    with write_session(store) as session:
        _offer(session, store)
    with write_session(store) as session:
        invitations.decline_invitation(session, invitation_id="inv_p", by=LEE)
    refused_without_change(
        store, lambda s: _offer(s, store), ErrorCode.INVITATION_NOT_PENDING, "is declined"
    )


def test_r17_acceptance_skips_a_shop_the_inviter_lost_meanwhile(store: Engine) -> None:
    with write_session(store) as session:
        _offer(session, store)
    with write_session(store) as session:
        removal.end_grants(
            session,
            removal_id="rm_1",
            shop_id=shop_id_of(store, S1_SHOP),
            partner_bc_id=AGENCY,
            by=OLI,
            workflow_id="wf",
        )
    invitation, granted = _accept(store)
    assert granted == [] and invitation.status.value == "accepted"
    with read_session(store) as session:
        assert sharing.shops_for_bc(session, SUBAGENCY) == []
