"""R19 from the seller's partner management page: "Remove access" opens a preview (what
stops, who downstream) that changes nothing; confirming runs the same workflow as the CLI;
a second click or a forged form changes nothing more. Over HTTP, then in headless
chromium like the approval pages."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from client.access_requests import RequestService
from client.partners import PartnerService
from models.enums import Permission
from models.partner_enums import CampaignStatus
from models.settings import Settings
from tests.conftest import AGENCY, ANA, LEE, OLI, S1_SHOP, SUBAGENCY
from tests.partners_support import (
    AGENCY_ADS,
    SUB_ADS,
    approved_partner,
    snapshot,
)
from tests.web import conftest as web


async def _story(service: RequestService, client: Any, demo: Engine, queue: str) -> str:
    """Agency One holds S1 (approved by Oli), shared it with the Sub-agency; both run a
    campaign. Returns the agency's request id (Oli's personal link signs him in)."""
    request_id = await approved_partner(
        service, bc_id=AGENCY, shop_code=S1_SHOP, admin=ANA, seller=OLI
    )
    partners = PartnerService(client, demo, queue, timeout=20)
    shared = await partners.share_shop(
        bc_id=AGENCY,
        shop_code=S1_SHOP,
        partner_bc_id=SUBAGENCY,
        permission=Permission.AD_PROMOTION,
        by=ANA,
    )
    await partners.accept_invitation(shared.invitation_id or "", by=LEE)
    partners.create_campaign(ad_account_id=AGENCY_ADS, shop_code=S1_SHOP, name="A", by=ANA)
    partners.create_campaign(ad_account_id=SUB_ADS, shop_code=S1_SHOP, name="S", by=LEE)
    return request_id


async def _sign_in(http: httpx.AsyncClient, settings: Settings, request_id: str) -> None:
    link = web.personal_path(settings, request_id, OLI)
    html = (await http.get(link)).text
    done = await http.post(link + "/signin", data={"csrf": web.csrf_in(html, "signin")})
    assert done.status_code == 303


async def test_r19_seller_previews_then_removes_from_partner_management(
    http: httpx.AsyncClient, service: RequestService, settings: Settings, demo: Engine
) -> None:
    request_id = await _story(service, service.client, demo, settings.task_queue)
    await _sign_in(http, settings, request_id)
    listing = (await http.get("/partners")).text
    remove = listing.split('href="/partners/GBLINKED01/grants/')[1].split('"')[0]
    preview_path = f"/partners/{S1_SHOP}/grants/{remove}"

    before = snapshot(demo)
    preview = await http.get(preview_path)
    assert preview.status_code == 200 and snapshot(demo) == before  # GET changes nothing
    assert "data-total-campaigns>2<" in preview.text
    assert f'data-downstream="{SUBAGENCY}"' in preview.text and "Sub-agency" in preview.text

    forged = await http.post(preview_path, data={"csrf": "forged"})
    assert forged.status_code == 403 and snapshot(demo) == before

    csrf = web.csrf_in(preview.text, "remove")
    done = await http.post(preview_path, data={"csrf": csrf})
    assert done.status_code == 200 and "<h1>Access removed</h1>" in done.text
    partners = PartnerService(None, demo, settings.task_queue)
    assert partners.shops(AGENCY) == [] and partners.shops(SUBAGENCY) == []
    again = await http.post(preview_path, data={"csrf": csrf})
    assert "already removed" in again.text
    after = (await http.get("/partners")).text
    assert 'data-status="revoked"' in after  # R15: the history says so
    assert f'href="/partners/GBLINKED01/grants/{remove}' not in after


async def test_r19_only_the_shops_team_sees_the_preview(
    http: httpx.AsyncClient, service: RequestService, settings: Settings, demo: Engine
) -> None:
    assert (await http.get(f"/partners/{S1_SHOP}/grants/1/remove")).status_code == 401


@pytest.mark.browser
async def test_r19_remove_access_in_the_browser(
    live_server: Any, page: Any, service: RequestService, settings: Settings, demo: Engine
) -> None:
    request_id = await _story(service, service.client, demo, settings.task_queue)
    await page.goto(live_server.url + web.personal_path(settings, request_id, OLI))
    await page.get_by_role("button", name="Manage partners").click()
    await page.get_by_role("link", name="Remove access of Agency One").click()
    await page.get_by_role("heading", name="Remove Agency One's access").wait_for()
    await web.screenshot(page, "r19-remove-access-preview")
    await page.get_by_role("button", name="Remove access").click()
    await page.get_by_role("heading", name="Access removed").wait_for()
    await web.screenshot(page, "r19-access-removed")
    partners = PartnerService(service.client, demo, settings.task_queue)
    assert partners.shops(AGENCY) == [] and partners.shops(SUBAGENCY) == []
    import asyncio

    for _ in range(100):  # campaigns stop in the background, within moments
        if {c.status for c in partners.campaigns(shop_code=S1_SHOP)} == {CampaignStatus.STOPPED}:
            break
        await asyncio.sleep(0.05)
    assert {c.status for c in partners.campaigns(shop_code=S1_SHOP)} == {CampaignStatus.STOPPED}
