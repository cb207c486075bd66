"""The seller's pages in headless chromium, each at desktop and phone sizes, with
screenshots in test-artifacts/screenshots/ (``polish-<what>-<size>.png``):

- R19's removal preview agrees with its numbers and leaves out zero lines;
- an S2 refusal (R12) is in view and has focus on a 390x844 phone;
- an S4 seller (R12) in partner management is told what to do instead of "Review and
  approve";
- the approved page says what approval gives once, the expired page (R11) not at all, the
  owner row says why it cannot be removed; the home page is titled "Shop Access";
- the history (R15, R21) shows when and by whom access was removed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import Engine
from temporalio.client import Client

from client.access_requests import RequestService
from client.partners import PartnerService
from models.enums import RequestMethod
from models.settings import Settings
from tests.conftest import AGENCY, ANA, KIM, NIA, OLI, S1_SHOP, S2_SHOP, S4_SHOP
from tests.partners_support import AGENCY_ADS, approved_partner
from tests.web.conftest import SCREENSHOTS, LiveServer, personal_path, screenshot, submit
from tests.web.test_browser import grants

pytestmark = pytest.mark.browser

SIZES: dict[str, dict[str, Any]] = {
    "desktop": {"viewport": {"width": 1280, "height": 800}},
    "phone": {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True},
}


@dataclass
class Tab:
    page: Any
    size: str

    @property
    def height(self) -> int:
        return int(SIZES[self.size]["viewport"]["height"])

    async def shot(self, name: str, *, full_page: bool = True) -> None:
        if full_page:
            await screenshot(self.page, f"polish-{name}-{self.size}")
            return
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        await self.page.screenshot(path=str(SCREENSHOTS / f"polish-{name}-{self.size}.png"))


@pytest_asyncio.fixture(loop_scope="session", params=list(SIZES))
async def tab(request: pytest.FixtureRequest, browser: Any) -> AsyncIterator[Tab]:
    context = await browser.new_context(**SIZES[request.param])
    page = await context.new_page()
    page.set_default_timeout(15_000)
    try:
        yield Tab(page, request.param)
    finally:
        await context.close()


async def _in_view(tab: Tab, selector: str) -> bool:
    box = await tab.page.locator(selector).bounding_box()
    assert box is not None, f"{selector} is not laid out"
    return bool(box["y"] >= 0 and box["y"] + box["height"] <= tab.height)


async def test_r12_s2_refusal_is_in_view_and_focused(
    live_server: LiveServer, tab: Tab, service: RequestService, settings: Settings,
    demo: Engine,
) -> None:  # fmt: skip
    sub = await submit(service, S2_SHOP)
    page = tab.page
    await page.goto(live_server.url + personal_path(settings, sub.request_id, NIA))
    await page.get_by_label("Business Center name", exact=True).fill("Nia BC")
    await page.get_by_label("Timezone", exact=True).fill("Mars/Olympus_Mons")
    await page.get_by_role("button", name="Create and approve").click()
    alert = page.locator("#form-error")
    await alert.wait_for()
    assert "Not approved yet" in await alert.inner_text()
    assert await page.evaluate("document.activeElement && document.activeElement.id") == (
        "form-error"
    )
    assert await _in_view(tab, "#form-error"), "the refusal is below the fold"
    await tab.shot("s2-refused", full_page=False)  # what the seller sees without scrolling
    assert grants(demo, sub.request_id) == 0
    # The corrected answer goes through from the same form.
    await page.get_by_label("Timezone", exact=True).fill("Asia/Singapore")
    await page.get_by_role("button", name="Create and approve").click()
    await page.get_by_role("heading", name="Approved", exact=True).wait_for()
    assert grants(demo, sub.request_id) == 1


async def test_r12_s4_seller_in_partner_management_is_told_what_to_do(
    live_server: LiveServer, tab: Tab, service: RequestService, settings: Settings,
    demo: Engine,
) -> None:  # fmt: skip
    sub = await submit(service, S4_SHOP)
    page = tab.page
    await page.goto(live_server.url + personal_path(settings, sub.request_id, KIM))
    await page.get_by_role("button", name="Manage partners").click()
    await page.get_by_role("heading", name="Partner management").wait_for()
    row = page.locator(f'tr[data-request="{sub.request_id}"]')
    assert await row.get_by_role("link", name="Review and approve").count() == 0
    note = row.locator("[data-cannot-approve]")
    text = await note.inner_text()
    assert "To approve, you need admin access" in text and "bo@brand-member.com" in text
    assert await note.is_visible()
    await tab.shot("s4-partners")
    assert grants(demo, sub.request_id) == 0


async def test_r11_r14_outcomes_say_it_once_and_the_owner_row_says_why(
    live_server: LiveServer, tab: Tab, service: RequestService, settings: Settings,
    demo: Engine,
) -> None:  # fmt: skip
    partner = await submit(service, S1_SHOP)
    owner = await submit(service, S1_SHOP, method=RequestMethod.ADD_MY_SHOP)
    page = tab.page
    await page.goto(live_server.url + personal_path(settings, owner.request_id, OLI))
    await page.get_by_role("button", name="Approve", exact=True).click()
    await page.get_by_role("heading", name="Approved", exact=True).wait_for()
    body = await page.locator("main").inner_text()
    assert body.count("becomes your shop's owner Business Center") == 1
    await tab.shot("approved")

    await page.goto(live_server.url + personal_path(settings, partner.request_id, OLI))
    await page.get_by_role("heading", name="This request has expired").wait_for()
    body = await page.locator("main").inner_text()
    assert "What approval gives" not in body and "becomes a partner" not in body
    await tab.shot("expired")

    await page.get_by_role("button", name="Manage partners").click()
    owner_row = page.locator("[data-owner-note]")
    assert "cannot be removed here" in await owner_row.inner_text()
    assert await owner_row.is_visible()
    await tab.shot("owner-row")

    await page.goto(live_server.url + "/")
    assert await page.title() == "Shop Access"


async def test_r19_preview_grammar_and_removal_in_the_history(
    live_server: LiveServer, tab: Tab, service: RequestService, settings: Settings,
    demo: Engine, client: Client,
) -> None:  # fmt: skip
    request_id = await approved_partner(
        service, bc_id=AGENCY, shop_code=S1_SHOP, admin=ANA, seller=OLI
    )
    partners = PartnerService(client, demo, settings.task_queue, timeout=20)
    partners.create_campaign(ad_account_id=AGENCY_ADS, shop_code=S1_SHOP, name="A", by=ANA)
    page = tab.page
    await page.goto(live_server.url + personal_path(settings, request_id, OLI))
    await page.get_by_role("button", name="Manage partners").click()
    await page.get_by_role("link", name="Remove access of Agency One").click()
    effects = await page.locator(".removal-effects").inner_text()
    assert "1 delivering campaign using your shop stops." in effects
    assert "member permission" not in effects and "0 " not in effects
    await tab.shot("removal-preview")
    await page.get_by_role("button", name="Remove access").click()
    await page.get_by_role("heading", name="Access removed").wait_for()
    await page.get_by_role("link", name="Back to partner management").click()
    row = page.locator(f'tr[data-request="{request_id}"]')
    history = await row.locator("ol.history").inner_text()
    assert f"access removed by {OLI}" in " ".join(history.split())
    assert await row.locator('li[data-action="revoked"]').is_visible()
    await tab.shot("history-after-removal")
    # The request's own link tells the same: removed, when and by whom.
    await page.goto(live_server.url + personal_path(settings, request_id, OLI))
    ended = await page.locator("[data-ended]").inner_text()
    assert "Access removed" in ended and OLI in ended


async def test_r7_copied_link_refusal_is_in_view_and_focused(
    live_server: LiveServer, tab: Tab, service: RequestService
) -> None:
    sub = await submit(service, S2_SHOP)
    page = tab.page
    await page.goto(sub.approval_url)
    # The browser's own check lets "nia@shop" through; the page asks for a full address.
    await page.get_by_label("Your e-mail address").fill("nia@shop")
    await page.get_by_role("button", name="E-mail me my link").click()
    await page.locator("#form-error").wait_for()
    assert await page.evaluate("document.activeElement && document.activeElement.id") == (
        "form-error"
    )
    assert await _in_view(tab, "#form-error"), "the refusal is below the fold"
    await tab.shot("copy-link-refused", full_page=False)
