"""The partner side's long-lived workflows through continue-as-new (R17, R19, R20).

A dev server that suggests continue-as-new after a dozen events: a shop shared with the
same partner BC moves the open add-partner invitation to a new run, carrying the shops
offered so far, and accepting it then grants each shop once, each offer mailed once; a
removal moves to new runs between pages of campaign stops, carrying its cursor, and stops
each campaign once.
"""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import Engine, func
from sqlmodel import select
from temporalio.client import WorkflowExecutionStatus

from client.access_requests import RequestService
from client.partners import PartnerService
from models.enums import Permission, RequestMethod
from models.messages import ApproveRequest
from models.names import partner_invitation_workflow_id
from models.partner_enums import InvitationStatus
from models.partner_messages import InvitationResult
from models.settings import Settings
from models.tables import ShopGrant
from store.db import read_session
from tests.conftest import (
    AGENCY,
    ANA,
    LEE,
    NIA,
    OLI,
    S1_SHOP,
    S2_SHOP,
    SUBAGENCY,
    WAIT_SECONDS,
    can_suggesting_worker,
    closed_runs,
    outbox_messages,
    wait_until,
)
from tests.partners_support import approved_partner, load_extra


def partner_grants(engine: Engine) -> int:
    with read_session(engine) as session:
        return int(
            session.exec(
                select(func.count())
                .select_from(ShopGrant)
                .where(ShopGrant.bc_id == SUBAGENCY, ShopGrant.revoked_at.is_(None))  # type: ignore[union-attr]
            ).one()
        )


async def test_r17_partner_invitation_survives_continue_as_new_and_grants_once(
    demo: Engine, settings: Settings
) -> None:
    load_extra(demo)
    workflow_id = partner_invitation_workflow_id(AGENCY, SUBAGENCY)
    async with can_suggesting_worker(settings, demo) as client:
        requests = RequestService(client, demo, settings.task_queue, timeout=WAIT_SECONDS)
        partners = PartnerService(client, demo, settings.task_queue, timeout=WAIT_SECONDS)
        # The agency holds two shops (R14), then shares both with its sub-agency.
        await approved_partner(requests, bc_id=AGENCY, shop_code=S1_SHOP, admin=ANA, seller=OLI)
        sub = await requests.submit(
            method=RequestMethod.REQUEST_ACCESS, bc_id=AGENCY, shop_code=S2_SHOP, by=ANA
        )
        await requests.approve(
            sub.request_id,
            ApproveRequest(by=NIA, new_bc_name="Nia's BC", timezone="Asia/Singapore"),
        )
        first = await partners.share_shop(
            bc_id=AGENCY, shop_code=S1_SHOP, partner_bc_id=SUBAGENCY,
            permission=Permission.AD_PROMOTION, by=ANA,
        )  # fmt: skip
        second = await partners.share_shop(
            bc_id=AGENCY, shop_code=S2_SHOP, partner_bc_id=SUBAGENCY,
            permission=Permission.AD_PROMOTION, by=ANA,
        )  # fmt: skip
        assert first.invitation_id == second.invitation_id
        assert partner_grants(demo) == 0  # offered, not granted, until accepted

        # The invitation moves to a new run while it waits (after its e-mails go out):
        # accept only then, or a fast accept would race the move and prove nothing.
        async def continued_as_new() -> bool:
            runs = [w async for w in client.list_workflows(f"WorkflowId = '{workflow_id}'")]
            return any(r.status is WorkflowExecutionStatus.CONTINUED_AS_NEW for r in runs)

        await wait_until(continued_as_new, interval=0.2, what="the invitation continued as new")
        answer = await partners.accept_invitation(first.invitation_id or "", by=LEE)
        assert answer.status is InvitationStatus.ACCEPTED
        assert len(answer.granted_shop_ids) == 2
        handle = client.get_workflow_handle(workflow_id, result_type=InvitationResult)
        async with asyncio.timeout(WAIT_SECONDS):
            assert (await handle.result()).status == "accepted"
        runs = await closed_runs(client, workflow_id)
    statuses = [r.status for r in runs]
    assert statuses.count(WorkflowExecutionStatus.CONTINUED_AS_NEW) >= 1, statuses
    assert statuses.count(WorkflowExecutionStatus.COMPLETED) == 1, statuses
    # Nothing done twice across runs: two shops granted, one invitation e-mail per shop.
    assert partner_grants(demo) == 2
    # Found by their keys: Sub-agency's admin reads Malay (its BC is in MY, R28).
    invites = [
        m for m in outbox_messages(settings)
        if ":shop-" in str(m["X-Shop-Access-Key"]) and str(m["To"]) == LEE
    ]  # fmt: skip
    assert len(invites) == 2


@pytest.mark.slow
async def test_r19_removal_pages_through_continue_as_new_and_stops_each_campaign_once(
    demo: Engine, settings: Settings
) -> None:
    """R19 + R20: a removal of 600 campaigns in pages of 50 moves to new runs between
    pages; the cursor carries over, so every campaign is stopped exactly once."""
    from store.campaigns import bulk_insert_delivering
    from store.db import write_session
    from store.people import find_user
    from tests.partners_support import (
        AGENCY_ADS,
        campaign_counts,
        grant_in_store,
        shop_id_of,
        stop_events_per_campaign,
    )

    campaigns = 600
    load_extra(demo)
    grant_in_store(demo, bc_id=AGENCY, shop_code=S1_SHOP, admin=ANA, seller=OLI)
    with write_session(demo) as session:
        ana = find_user(session, ANA)
        assert ana is not None and ana.id is not None
        bulk_insert_delivering(
            session, ad_account_id=AGENCY_ADS, shop_id=shop_id_of(demo, S1_SHOP),
            created_by_user_id=ana.id, count=campaigns,
        )  # fmt: skip
    async with can_suggesting_worker(settings, demo) as client:
        partners = PartnerService(client, demo, settings.task_queue, timeout=WAIT_SECONDS)
        _ended, workflow_id = await partners.remove_access(
            shop_code=S1_SHOP, partner_bc_id=AGENCY, by=OLI, page_size=50, batch_size=25
        )
        async with asyncio.timeout(2 * WAIT_SECONDS):  # 12 pages, 12 runs
            result = await partners.removal_result(workflow_id)
        runs = await closed_runs(client, workflow_id)
    statuses = [r.status for r in runs]
    assert statuses.count(WorkflowExecutionStatus.CONTINUED_AS_NEW) >= 2, statuses
    assert statuses.count(WorkflowExecutionStatus.COMPLETED) == 1, statuses
    assert (result.status, result.campaigns_stopped) == ("completed", campaigns)
    events = stop_events_per_campaign(demo)
    assert len(events) == campaigns and set(events.values()) == {1}
    assert campaign_counts(demo, AGENCY) == {"delivering": 0, "stopped": campaigns}
