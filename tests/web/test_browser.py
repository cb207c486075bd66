"""End to end in headless Debian chromium: the seller opens the link from the outbox
e-mail and completes each scenario (R12 S1-S4), sees the race (R11), a tampered link
(R13) and a double submit. Screenshots go to test-artifacts/screenshots/."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import select

from client.access_requests import RequestService
from models.enums import RequestMethod
from models.settings import Settings
from models.tables import ShopGrant
from store.db import read_session
from tests.conftest import (
    KIM,
    LEE,
    NIA,
    OLI,
    RAJ,
    RAJ_BC,
    S1_SHOP,
    S2_SHOP,
    S3_SHOP,
    S4_SHOP,
    SUBAGENCY,
    outbox_messages,
)
from tests.web.conftest import LiveServer, screenshot, submit

pytestmark = pytest.mark.browser


def emailed_link(settings: Settings, request_id: str, to: str) -> str:
    """The approval link in the e-mail the seller received, as they would click it."""
    for message in outbox_messages(settings):
        body = message.get_body(preferencelist=("plain",)).get_content()
        if message["To"] == to and request_id in message.get("X-Shop-Access-Key", ""):
            return next(line.strip() for line in body.splitlines() if "/approve/" in line)
    raise AssertionError(f"no e-mail to {to} for {request_id}")


def grants(engine: Engine, request_id: str) -> int:
    with read_session(engine) as session:
        return len(session.exec(
            select(ShopGrant).where(ShopGrant.source_request_id == request_id)
        ).all())  # fmt: skip


async def test_r12_s1_seller_approves_from_the_email_with_one_click(
    live_server: LiveServer, page: Any, service: RequestService, settings: Settings,
    demo: Engine,
) -> None:  # fmt: skip
    sub = await submit(service, S1_SHOP)
    await page.goto(emailed_link(settings, sub.request_id, OLI))
    await page.get_by_role("heading", name="Approve with one click").wait_for()
    await screenshot(page, "s1-approve")
    await page.get_by_role("button", name="Approve", exact=True).click()
    await page.get_by_role("heading", name="Approved", exact=True).wait_for()
    assert "Agency One becomes a partner of your shop" in await page.content()
    await screenshot(page, "s1-approved")
    assert grants(demo, sub.request_id) == 1

    waiting = await submit(service, S1_SHOP, bc_id=SUBAGENCY, by=LEE)
    await page.get_by_role("button", name="Manage partners").click()
    await page.get_by_role("heading", name="Partner management").wait_for()
    html = await page.content()
    assert sub.request_id in html and waiting.request_id in html
    await screenshot(page, "partners")


async def test_r12_s2_seller_names_a_new_bc_and_picks_a_timezone_on_a_phone(
    live_server: LiveServer, browser: Any, service: RequestService, settings: Settings,
    demo: Engine,
) -> None:  # fmt: skip
    sub = await submit(service, S2_SHOP)
    phone = await browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    try:
        tab = await phone.new_page()
        await tab.goto(emailed_link(settings, sub.request_id, NIA))
        await tab.get_by_label("Business Center name", exact=True).fill("Nia's Shop BC")
        await tab.get_by_label("Timezone", exact=True).fill("Asia/Singapore")
        await screenshot(tab, "s2-create-bc-phone")
        await tab.get_by_role("button", name="Create and approve").click()
        await tab.get_by_role("heading", name="Approved", exact=True).wait_for()
        assert "Nia&#39;s Shop BC" in await tab.content() or "Nia's Shop BC" in await tab.content()
        await screenshot(tab, "s2-approved-phone")
    finally:
        await phone.close()
    assert grants(demo, sub.request_id) == 1


async def test_r12_s3_seller_picks_their_bc_with_the_keyboard(
    live_server: LiveServer, page: Any, service: RequestService, settings: Settings,
    demo: Engine,
) -> None:  # fmt: skip
    sub = await submit(service, S3_SHOP)
    await page.goto(emailed_link(settings, sub.request_id, RAJ))
    await page.get_by_label("Your Business Center", exact=True).select_option(str(RAJ_BC))
    await screenshot(page, "s3-choose-bc")
    await page.get_by_label("Your Business Center", exact=True).focus()
    await page.keyboard.press("Tab")  # to the Approve button
    await page.keyboard.press("Enter")
    await page.get_by_role("heading", name="Approved", exact=True).wait_for()
    assert "is now the Business Center linked to your shop" in await page.content()
    assert grants(demo, sub.request_id) == 1


async def test_r12_s4_seller_is_told_to_ask_their_bc_admin(
    live_server: LiveServer, page: Any, service: RequestService, settings: Settings,
    demo: Engine,
) -> None:  # fmt: skip
    sub = await submit(service, S4_SHOP)
    await page.goto(emailed_link(settings, sub.request_id, KIM))
    await page.get_by_role("heading", name="You need admin access to approve").wait_for()
    assert await page.get_by_role("button", name="Approve").count() == 0
    assert "bo@brand-member.com" in await page.content()
    await screenshot(page, "s4-needs-admin")
    assert grants(demo, sub.request_id) == 0


async def test_r11_race_seen_from_the_browser(
    live_server: LiveServer, browser: Any, service: RequestService, settings: Settings,
    demo: Engine,
) -> None:  # fmt: skip
    partner = await submit(service, S1_SHOP, method=RequestMethod.REQUEST_ACCESS)
    owner = await submit(service, S1_SHOP, method=RequestMethod.ADD_MY_SHOP)
    context = await browser.new_context(viewport={"width": 1000, "height": 800})
    try:
        first, second = await context.new_page(), await context.new_page()
        await first.goto(emailed_link(settings, partner.request_id, OLI))
        await second.goto(emailed_link(settings, owner.request_id, OLI))
        await second.get_by_role("button", name="Approve", exact=True).click()
        await second.get_by_role("heading", name="Approved", exact=True).wait_for()
        await first.get_by_role("button", name="Approve", exact=True).click()
        await first.get_by_role("heading", name="This request has expired").wait_for()
        text = await first.content()
        assert "“Add my TikTok Shop”" in text and owner.request_id in text
        await screenshot(first, "race-expired")
    finally:
        await context.close()
    assert grants(demo, partner.request_id) == 0 and grants(demo, owner.request_id) == 1


async def test_r13_tampered_link_shows_a_clear_page(
    live_server: LiveServer, page: Any, service: RequestService, settings: Settings,
    demo: Engine,
) -> None:  # fmt: skip
    sub = await submit(service, S1_SHOP)
    link = emailed_link(settings, sub.request_id, OLI)
    response = await page.goto(link[:-4] + ("AAAA" if not link.endswith("AAAA") else "BBBB"))
    assert response is not None and response.status == 400
    await page.get_by_role("heading", name="This link is not valid").wait_for()
    await screenshot(page, "tampered-link")
    assert grants(demo, sub.request_id) == 0


async def test_double_submit_in_the_browser_approves_once(
    live_server: LiveServer, page: Any, service: RequestService, settings: Settings,
    demo: Engine,
) -> None:  # fmt: skip
    sub = await submit(service, S1_SHOP)
    await page.goto(emailed_link(settings, sub.request_id, OLI))
    await page.get_by_role("button", name="Approve", exact=True).dblclick()
    await page.locator('[data-status="approved"]').wait_for()
    # Back to the form and submit again, as an impatient seller might.
    await page.go_back()
    await page.wait_for_load_state()
    if await page.get_by_role("button", name="Approve", exact=True).count():
        await page.get_by_role("button", name="Approve", exact=True).click()
    await page.locator('[data-status="approved"]').wait_for()
    await screenshot(page, "double-submit")
    assert grants(demo, sub.request_id) == 1


async def test_copied_link_asks_for_a_personal_link(
    live_server: LiveServer, page: Any, service: RequestService, settings: Settings
) -> None:
    sub = await submit(service, S1_SHOP)
    await page.goto(sub.approval_url)
    await page.get_by_label("Your e-mail address").fill(OLI)
    await screenshot(page, "copy-link")
    await page.get_by_role("button", name="E-mail me my link").click()
    await page.get_by_role("heading", name="Check your e-mail").wait_for()
    await screenshot(page, "personal-link-sent")
