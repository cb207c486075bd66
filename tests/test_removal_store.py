"""R19 in the store, on SQLite and PostgreSQL: who may remove a partner, the preview, and
the one transaction that ends the grant with its onward shares (two levels deep), member
assignments and the request's status, leaving every other partner untouched."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import Engine
from sqlmodel import col, select

from models.enums import Permission, Relationship, RequestMethod, RequestStatus
from models.errors import ErrorCode
from models.tables import AccessRequest, MemberAssignment, ShopGrant
from store import campaigns, invitations, members, removal, sharing
from store.db import read_session, write_session
from tests.conftest import AGENCY, ANA, LEE, OLI, S1_SHOP, SAM, SUBAGENCY, load_demo
from tests.partners_support import (
    AGENCY_ADS,
    OTHER_ADMIN,
    OTHER_ADS,
    OTHER_AGENCY,
    SUB_ADS,
    SUB_SUB,
    SUB_SUB_ADMIN,
    SUB_SUB_ADS,
    grant_in_store,
    load_extra,
    refused_without_change,
    shop_id_of,
)


def _share(engine: Engine, sharer: int, admin: str, partner: int, partner_admin: str) -> None:
    inv = f"inv_{sharer % 1000}_{partner % 1000}"
    with write_session(engine) as session:
        sharing.offer_partner_shop(
            session,
            invitation_id=inv,
            bc_id=sharer,
            partner_bc_id=partner,
            shop_id=shop_id_of(engine, S1_SHOP),
            permission=Permission.AD_PROMOTION,
            by=admin,
            workflow_id="wf",
        )
    with write_session(engine) as session:
        invitations.accept_invitation(session, invitation_id=inv, by=partner_admin)


def _campaign(engine: Engine, account: int, by: str) -> None:
    with write_session(engine) as session:
        campaigns.create_campaign(
            session, ad_account_id=account, shop_id=shop_id_of(engine, S1_SHOP), name="Sale", by=by
        )


@pytest.fixture()
def store(store_engine: Engine) -> Engine:
    """AGENCY holds S1 and shared it with SUBAGENCY, which shared it with SUB_SUB; OTHER
    holds S1 too. Each has a delivering campaign; AGENCY and OTHER assigned a member."""
    e = store_engine
    load_demo(e)
    load_extra(e)
    grant_in_store(e, bc_id=AGENCY, shop_code=S1_SHOP, admin=ANA, seller=OLI)
    grant_in_store(e, bc_id=OTHER_AGENCY, shop_code=S1_SHOP, admin=OTHER_ADMIN, seller=OLI)
    _share(e, AGENCY, ANA, SUBAGENCY, LEE)
    _share(e, SUBAGENCY, LEE, SUB_SUB, SUB_SUB_ADMIN)
    for account, by in [
        (AGENCY_ADS, ANA),
        (SUB_ADS, LEE),
        (SUB_SUB_ADS, SUB_SUB_ADMIN),
        (OTHER_ADS, OTHER_ADMIN),
    ]:
        _campaign(e, account, by)
    with write_session(e) as session:
        members.assign_member(
            session,
            bc_id=AGENCY,
            shop_id=shop_id_of(e, S1_SHOP),
            member_email=SAM,
            permission=Permission.AD_PROMOTION,
            by=ANA,
        )
    return e


def _end(session, engine: Engine, partner: int = AGENCY, by: str = OLI, rid: str = "rm_1"):
    return removal.end_grants(
        session,
        removal_id=rid,
        shop_id=shop_id_of(engine, S1_SHOP),
        partner_bc_id=partner,
        by=by,
        workflow_id="wf",
    )


def test_r19_preview_lists_what_stops_two_levels_down(store: Engine) -> None:
    with read_session(store) as session:
        preview = removal.preview_removal(
            session, shop_id=shop_id_of(store, S1_SHOP), partner_bc_id=AGENCY, by=OLI
        )
    assert (preview.delivering_campaigns, preview.total_delivering_campaigns) == (1, 3)
    assert preview.member_assignments == 1
    assert [(d.bc_id, d.shared_by_bc_id, d.depth, d.keeps_access) for d in preview.downstream] == [
        (SUBAGENCY, AGENCY, 1, False),
        (SUB_SUB, SUBAGENCY, 2, False),
    ]


def test_r19_removal_cascades_two_levels_and_leaves_other_partners(store: Engine) -> None:
    with write_session(store) as session:
        ended = _end(session, store)
    assert sorted(ended.lost_bc_ids) == sorted([AGENCY, SUBAGENCY, SUB_SUB])
    assert len(ended.ended_grant_ids) == 3 and ended.assignments_ended == 1
    with read_session(store) as session:
        for bc in (AGENCY, SUBAGENCY, SUB_SUB):
            assert sharing.shops_for_bc(session, bc) == []
        assert [s.shop_code for s in sharing.shops_for_bc(session, OTHER_AGENCY)] == [S1_SHOP]
        requests = session.exec(select(AccessRequest).order_by(col(AccessRequest.bc_id))).all()
        assert {r.bc_id: r.status for r in requests} == {
            AGENCY: RequestStatus.REVOKED,
            OTHER_AGENCY: RequestStatus.APPROVED,
        }
        assert all(a.ended_at for a in session.exec(select(MemberAssignment)).all())
    with write_session(store) as session:  # the same removal again returns the same record
        again = _end(session, store)
    assert (again.ended_grant_ids, again.lost_bc_ids) == (ended.ended_grant_ids, ended.lost_bc_ids)


def test_r19_a_bc_that_holds_the_shop_another_way_keeps_it(store: Engine) -> None:
    # The sub-agency adds the shop as its own ("Add my TikTok Shop") while holding the share.
    grant_in_store(
        store,
        bc_id=SUBAGENCY,
        shop_code=S1_SHOP,
        admin=LEE,
        seller=OLI,
        method=RequestMethod.ADD_MY_SHOP,
    )
    # Becoming owner ended the share it held from the agency (docs/decisions.md: "Add my
    # shop" by a partner is an upgrade), so the sub-agency is no longer downstream of it.
    with read_session(store) as session:
        preview = removal.preview_removal(
            session, shop_id=shop_id_of(store, S1_SHOP), partner_bc_id=AGENCY, by=OLI
        )
        held = session.exec(
            select(ShopGrant.relationship).where(
                ShopGrant.bc_id == SUBAGENCY, col(ShopGrant.revoked_at).is_(None)
            )
        ).all()
    assert preview.downstream == [] and list(held) == [Relationship.OWNER]
    with write_session(store) as session:
        ended = _end(session, store)
    assert ended.lost_bc_ids == [AGENCY]
    with read_session(store) as session:
        assert {s.via for s in sharing.shops_for_bc(session, SUBAGENCY)} == {"request"}
        assert [s.shop_code for s in sharing.shops_for_bc(session, SUB_SUB)] == [S1_SHOP]


@pytest.mark.parametrize("who", [ANA, LEE, "stranger@example.com"])
def test_r19_only_the_seller_or_the_owner_bc_removes(store: Engine, who: str) -> None:
    refused_without_change(
        store, lambda s: _end(s, store, by=who), ErrorCode.PERMISSION_DENIED, "only the shop's team"
    )
    with pytest.raises(Exception) as caught, read_session(store) as session:
        removal.preview_removal(
            session, shop_id=shop_id_of(store, S1_SHOP), partner_bc_id=AGENCY, by=who
        )
    assert getattr(caught.value, "code", None) == ErrorCode.PERMISSION_DENIED


def test_r19_removing_a_bc_that_is_not_a_partner_is_refused(store: Engine) -> None:
    with write_session(store) as session:
        _end(session, store)
    # Once removed, a second removal (a new id) finds nothing to remove.
    refused_without_change(
        store,
        lambda s: _end(s, store, rid="rm_2"),
        ErrorCode.NOT_A_PARTNER,
        "there is no access to remove",
    )
    refused_without_change(
        store,
        lambda s: _end(s, store, partner=123, rid="rm_3"),
        ErrorCode.UNKNOWN_BC,
        "123 does not exist",
    )


def test_r19_finish_counts_campaigns_stopped(store: Engine) -> None:
    with write_session(store) as session:
        ended = _end(session, store)
    with write_session(store) as session:
        campaigns.stop_batch(
            session,
            removal_id="rm_1",
            shop_id=shop_id_of(store, S1_SHOP),
            bc_ids=ended.lost_bc_ids,
            after_id=0,
            limit=100,
        )
    with write_session(store) as session:
        record = removal.finish_removal(session, removal_id="rm_1")
        assert record.campaigns_stopped == 3 and json.loads(record.lost_bc_ids)
    with read_session(store) as session:
        grants = session.exec(select(ShopGrant).where(ShopGrant.bc_id == OTHER_AGENCY)).all()
    assert [g.revoked_at for g in grants] == [None]
