"""R18 in the store, on SQLite and PostgreSQL: who may create a Product Sales campaign with
a shop as source; and R19's batch stop, which stops each campaign exactly once."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from models.enums import MemberRole, Permission
from models.errors import ErrorCode
from models.partner_enums import AdAccountPermission, CampaignStatus
from models.partner_messages import AdAccountGrant
from store import campaigns, invitations, members
from store.db import read_session, write_session
from tests.conftest import AGENCY, ANA, LEE, OLI, S1_SHOP, S2_SHOP, SAM, load_demo
from tests.partners_support import (
    AGENCY_ADS,
    NEW_MEMBER,
    OTHER_ADMIN,
    OTHER_ADS,
    OTHER_AGENCY,
    grant_in_store,
    load_extra,
    refused_without_change,
    shop_id_of,
    stop_events_per_campaign,
)


@pytest.fixture()
def store(store_engine: Engine) -> Engine:
    load_demo(store_engine)
    load_extra(store_engine)
    grant_in_store(store_engine, bc_id=AGENCY, shop_code=S1_SHOP, admin=ANA, seller=OLI)
    return store_engine


def _create(
    session,
    engine: Engine,
    *,
    by: str,
    account: int = AGENCY_ADS,
    shop: str = S1_SHOP,
    name: str = "Summer sale",
):
    return campaigns.create_campaign(
        session, ad_account_id=account, shop_id=shop_id_of(engine, shop), name=name, by=by
    )


def _member(engine: Engine, permission: AdAccountPermission, *, assign: bool) -> None:
    with write_session(engine) as session:
        members.create_member_invitation(
            session,
            invitation_id="inv_m",
            bc_id=AGENCY,
            email=NEW_MEMBER,
            role=MemberRole.STANDARD,
            ad_accounts=[AdAccountGrant(ad_account_id=AGENCY_ADS, permission=permission)],
            by=ANA,
            workflow_id="wf",
        )
    with write_session(engine) as session:
        invitations.accept_invitation(session, invitation_id="inv_m", by=NEW_MEMBER)
    if assign:
        with write_session(engine) as session:
            members.assign_member(
                session,
                bc_id=AGENCY,
                shop_id=shop_id_of(engine, S1_SHOP),
                member_email=NEW_MEMBER,
                permission=Permission.AD_PROMOTION,
                by=ANA,
            )


def test_r18_an_admin_of_the_holding_bc_creates_a_delivering_campaign(store: Engine) -> None:
    with write_session(store) as session:
        campaign = _create(session, store, by=ANA)
    assert campaign.status is CampaignStatus.DELIVERING and campaign.bc_id == AGENCY
    with read_session(store) as session:
        [view] = campaigns.list_campaigns(session, bc_id=AGENCY)
        assert campaigns.list_campaigns(session, shop_id=shop_id_of(store, S1_SHOP)) == [view]
    assert (view.name, view.shop_code, view.created_by) == ("Summer sale", S1_SHOP, ANA)


def test_r18_an_assigned_operator_creates_a_campaign(store: Engine) -> None:
    _member(store, AdAccountPermission.OPERATOR, assign=True)
    with write_session(store) as session:
        assert _create(session, store, by=NEW_MEMBER).created_by_user_id is not None


def test_r18_a_member_without_a_shop_permission_is_refused(store: Engine) -> None:
    refused_without_change(
        store,
        lambda s: _create(s, store, by=SAM),
        ErrorCode.PERMISSION_DENIED,
        "holds no permission on shop",
        "assign-member",
    )


def test_r18_an_analyst_cannot_create_campaigns(store: Engine) -> None:
    _member(store, AdAccountPermission.ANALYST, assign=True)
    refused_without_change(
        store,
        lambda s: _create(s, store, by=NEW_MEMBER),
        ErrorCode.PERMISSION_DENIED,
        "admin or operator permission",
    )


def test_r18_someone_outside_the_ad_accounts_bc_is_refused(store: Engine) -> None:
    refused_without_change(
        store,
        lambda s: _create(s, store, by=LEE),
        ErrorCode.NOT_A_MEMBER,
        "is not a member of Business Center",
    )


def test_r18_a_bc_that_does_not_hold_the_shop_is_refused(store: Engine) -> None:
    refused_without_change(
        store,
        lambda s: _create(s, store, by=ANA, shop=S2_SHOP),
        ErrorCode.SHOP_NOT_HELD,
        "has no access to shop SGNEWBC002",
    )
    refused_without_change(
        store,
        lambda s: _create(s, store, by=OTHER_ADMIN, account=OTHER_ADS),
        ErrorCode.SHOP_NOT_HELD,
        "Other Agency",
    )


def test_r18_unknown_ad_account_and_empty_name_are_refused(store: Engine) -> None:
    refused_without_change(
        store,
        lambda s: _create(s, store, by=ANA, account=42),
        ErrorCode.UNKNOWN_AD_ACCOUNT,
        "no ad account 42",
    )
    refused_without_change(
        store,
        lambda s: _create(s, store, by=ANA, name="  "),
        ErrorCode.INVALID_INPUT,
        "campaign's name must not be empty",
    )
    refused_without_change(  # names never carry control characters
        store,
        lambda s: _create(s, store, by=ANA, name="Spring\nsale"),
        ErrorCode.INVALID_INPUT,
        "control characters (found U+000A)",
    )


def test_r19_stop_batch_stops_each_campaign_once_and_only_the_given_bcs(store: Engine) -> None:
    grant_in_store(store, bc_id=OTHER_AGENCY, shop_code=S1_SHOP, admin=OTHER_ADMIN, seller=OLI)
    shop_id = shop_id_of(store, S1_SHOP)
    with write_session(store) as session:
        for i in range(5):
            _create(session, store, by=ANA, name=f"A{i}")
        _create(session, store, by=OTHER_ADMIN, account=OTHER_ADS, name="Other")
    cursor, stopped = 0, []
    while True:
        with write_session(store) as session:
            ids, last = campaigns.stop_batch(
                session,
                removal_id="rm_x",
                shop_id=shop_id,
                bc_ids=[AGENCY],
                after_id=cursor,
                limit=2,
            )
        if last is None:
            break
        stopped += ids
        cursor = last
    with write_session(store) as session:  # a repeat from the start stops nothing more
        assert campaigns.stop_batch(
            session, removal_id="rm_x", shop_id=shop_id, bc_ids=[AGENCY], after_id=0, limit=100
        ) == ([], None)
    assert len(stopped) == 5 and set(stop_events_per_campaign(store).values()) == {1}
    with read_session(store) as session:
        other = campaigns.list_campaigns(session, bc_id=OTHER_AGENCY)
    assert [c.status for c in other] == [CampaignStatus.DELIVERING]
