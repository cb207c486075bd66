"""R19's page activity on its own (temporalio ActivityEnvironment): it heartbeats its
cursor after each committed batch, and a retry resumes after the heartbeated cursor
instead of rescanning from the page's start."""

from __future__ import annotations

import dataclasses

from sqlalchemy import Engine
from sqlmodel import col, select
from temporalio.testing import ActivityEnvironment

from activities.campaigns import CampaignActivities
from models.partner_enums import CampaignStatus
from models.partner_messages import StopCampaignPage
from models.tables import Campaign
from store.campaigns import bulk_insert_delivering
from store.db import read_session, write_session
from store.people import find_user
from tests.conftest import AGENCY, ANA, OLI, S1_SHOP
from tests.partners_support import AGENCY_ADS, grant_in_store, shop_id_of


def _seed(engine: Engine, count: int) -> list[int]:
    grant_in_store(engine, bc_id=AGENCY, shop_code=S1_SHOP, admin=ANA, seller=OLI)
    with write_session(engine) as session:
        user = find_user(session, ANA)
        assert user is not None and user.id is not None
        bulk_insert_delivering(
            session,
            ad_account_id=AGENCY_ADS,
            shop_id=shop_id_of(engine, S1_SHOP),
            created_by_user_id=user.id,
            count=count,
        )
    with read_session(engine) as session:
        return [
            c
            for c in session.exec(select(Campaign.id).order_by(col(Campaign.id))).all()
            if c is not None
        ]


def _page(engine: Engine, *, page_size: int, batch_size: int) -> StopCampaignPage:
    return StopCampaignPage(
        removal_id="rm_t",
        shop_id=shop_id_of(engine, S1_SHOP),
        bc_ids=[AGENCY],
        after_id=0,
        page_size=page_size,
        batch_size=batch_size,
    )


def test_r19_page_heartbeats_its_cursor_after_each_batch(demo: Engine) -> None:
    ids = _seed(demo, 10)
    env = ActivityEnvironment()
    beats: list[int] = []
    env.on_heartbeat = lambda *details: beats.append(int(details[0]))
    out = env.run(CampaignActivities(demo).stop_page, _page(demo, page_size=6, batch_size=3))
    assert (out.stopped, out.last_id, out.done) == (6, ids[5], False)
    assert beats == [ids[2], ids[5]]


def test_r19_a_retried_page_resumes_after_the_heartbeated_cursor(demo: Engine) -> None:
    ids = _seed(demo, 10)
    env = ActivityEnvironment()
    # As if a previous attempt committed through the 4th campaign, then its worker died.
    env.info = dataclasses.replace(env.info, heartbeat_details=[ids[3]])
    out = env.run(CampaignActivities(demo).stop_page, _page(demo, page_size=100, batch_size=4))
    assert (out.stopped, out.last_id, out.done) == (6, ids[-1], True)
    with read_session(demo) as session:
        statuses = [c.status for c in session.exec(select(Campaign).order_by(col(Campaign.id)))]
    # The first four were not rescanned (a real first attempt had stopped them).
    assert statuses == [CampaignStatus.DELIVERING] * 4 + [CampaignStatus.STOPPED] * 6
