"""R19 + R20: a removal whose worker PROCESS is SIGKILLed halfway through 2,000 campaigns
finishes after a new worker starts, with every campaign stopped exactly once (one stop
event each in the audit log) and another partner's campaigns still delivering."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import func, select
from temporalio.testing import WorkflowEnvironment

from client.partners import PartnerService
from models.partner_enums import CampaignStatus
from models.settings import Settings
from models.tables import AccessRemoval, Campaign
from store.campaigns import bulk_insert_delivering
from store.db import read_session, write_session
from store.people import find_user
from tests.conftest import AGENCY, ANA, OLI, S1_SHOP, WAIT_SECONDS, start_worker_process, wait_until
from tests.partners_support import (
    AGENCY_ADS,
    OTHER_ADMIN,
    OTHER_ADS,
    OTHER_AGENCY,
    campaign_counts,
    grant_in_store,
    load_extra,
    shop_id_of,
    stop_events_per_campaign,
)

ROOT = Path(__file__).resolve().parent.parent
CAMPAIGNS = 2000

pytestmark = pytest.mark.slow


def _stopped(engine: Engine) -> int:
    with read_session(engine) as session:
        return int(
            session.exec(
                select(func.count())
                .select_from(Campaign)
                .where(Campaign.bc_id == AGENCY, Campaign.status == CampaignStatus.STOPPED)
            ).one()
        )


def _seed(engine: Engine) -> None:
    load_extra(engine)
    grant_in_store(engine, bc_id=AGENCY, shop_code=S1_SHOP, admin=ANA, seller=OLI)
    grant_in_store(engine, bc_id=OTHER_AGENCY, shop_code=S1_SHOP, admin=OTHER_ADMIN, seller=OLI)
    shop_id = shop_id_of(engine, S1_SHOP)
    with write_session(engine) as session:
        ana, max_ = find_user(session, ANA), find_user(session, OTHER_ADMIN)
        assert ana and ana.id and max_ and max_.id
        bulk_insert_delivering(
            session,
            ad_account_id=AGENCY_ADS,
            shop_id=shop_id,
            created_by_user_id=ana.id,
            count=CAMPAIGNS,
        )
        bulk_insert_delivering(
            session, ad_account_id=OTHER_ADS, shop_id=shop_id, created_by_user_id=max_.id, count=50
        )


async def test_r20_removal_survives_a_killed_worker_and_stops_each_campaign_once(
    temporal_env: WorkflowEnvironment, demo: Engine, settings: Settings, tmp_path: Path
) -> None:
    _seed(demo)
    address = temporal_env.client.service_client.config.target_host
    log = tmp_path / "worker.log"
    first = await start_worker_process(settings, address, log)
    second = None
    try:
        # The first answer waits for the worker process to start: seconds of CPU, many more
        # on a loaded machine.
        partners = PartnerService(
            temporal_env.client, demo, settings.task_queue, timeout=2 * WAIT_SECONDS
        )
        # Small paced batches so the kill lands mid-way (80 transactions of 25).
        _ended, workflow_id = await partners.remove_access(
            shop_code=S1_SHOP,
            partner_bc_id=AGENCY,
            by=OLI,
            page_size=500,
            batch_size=25,
            pause_ms=25,
        )
        await wait_until(
            lambda: _stopped(demo) >= CAMPAIGNS // 4,
            timeout=2 * WAIT_SECONDS,
            interval=0.01,
            what="a quarter of the campaigns stopped",
        )
        first.send_signal(signal.SIGKILL)
        await first.wait()
        at_kill = _stopped(demo)
        assert CAMPAIGNS // 4 <= at_kill < CAMPAIGNS, at_kill

        second = await start_worker_process(settings, address, log)
        async with asyncio.timeout(3 * WAIT_SECONDS):
            result = await partners.removal_result(workflow_id)
    finally:
        for proc in (first, second):
            if proc is not None and proc.returncode is None:
                proc.kill()
                await proc.wait()

    assert (result.status, result.campaigns_stopped) == ("completed", CAMPAIGNS)
    events = stop_events_per_campaign(demo)
    assert len(events) == CAMPAIGNS and set(events.values()) == {1}, log.read_text()[-2000:]
    assert campaign_counts(demo, AGENCY) == {"delivering": 0, "stopped": CAMPAIGNS}
    assert campaign_counts(demo, OTHER_AGENCY) == {"delivering": 50, "stopped": 0}
    with read_session(demo) as session:
        record = session.exec(select(AccessRemoval)).one()
    assert (record.status.value, record.campaigns_stopped) == ("completed", CAMPAIGNS)
