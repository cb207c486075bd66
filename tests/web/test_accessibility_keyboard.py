"""R29 by keyboard alone, in headless Debian chromium at 1280x800: S1, S2 (through a
refusal), S3 and a decline (through a refusal), then partner management's removal (R19),
an end date set and cleared (R23), sign-out, a personal-link ask (R7) and an invitation
accepted (R17), moving with Tab and Shift+Tab and acting with Enter and Space only (text
is typed into fields, nothing is clicked). At every stop the focus is on a control,
visibly ringed and on screen, and the stops follow the page's reading order; a refusal
takes the focus, so it is announced.
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
from models.enums import Permission
from models.settings import Settings
from tests.conftest import AGENCY, ANA, LEE, NIA, OLI, RAJ, S1_SHOP, S2_SHOP, S3_SHOP, SUBAGENCY
from tests.partners_support import approved_partner
from tests.web.conftest import LiveServer, personal_path, screenshot, submit
from tests.web.test_browser import grants
from tests.web.test_invitations_web import emailed_invitation

pytestmark = pytest.mark.browser

# What has the focus, where it is on the page and how its ring is drawn.
FOCUSED = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const box = el.getBoundingClientRect();
  const style = getComputedStyle(el);
  const all = [...document.querySelectorAll('*')];
  return {
    key: el.id || (el.tagName.toLowerCase() + '#' + all.indexOf(el)),
    tag: el.tagName.toLowerCase(),
    name: (el.getAttribute('aria-label') || (el.labels?.length ? el.labels[0].innerText : '')
           || el.innerText || el.value || el.id || '').trim(),
    order: all.indexOf(el),
    top: box.top + window.scrollY, bottom: box.bottom + window.scrollY,
    left: box.left, right: box.right,
    // Within a pixel: scrolling a focused control into view leaves sub-pixel edges where
    // line heights are fractional (Thai's 1.7), a fraction past the viewport's edge.
    inView: box.top >= -1 && box.bottom <= window.innerHeight + 1 && box.left >= -1
            && box.right <= window.innerWidth + 1,
    ring: style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2,
    role: el.getAttribute('role') || '',
  };
}"""


@dataclass
class Stop:
    key: str
    tag: str
    name: str
    order: int
    top: float
    bottom: float
    left: float
    right: float
    inView: bool  # named as the page's script returns it
    ring: bool
    role: str


class Walker:
    """Moves the focus with Tab and Shift+Tab and checks every stop it makes."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.stops: list[Stop] = []

    async def focused(self) -> Stop:
        found = await self.page.evaluate(FOCUSED)
        assert found is not None, "the focus was lost to the page's body"
        return Stop(**found)

    async def press(self, key: str) -> Stop:
        await self.page.keyboard.press(key)
        stop = await self.focused()
        assert stop.ring, f"{stop.tag} {stop.name!r} has the focus but no visible ring"
        assert stop.inView, f"{stop.tag} {stop.name!r} has the focus but is off screen"
        if key == "Tab" and self.stops:
            before = self.stops[-1]
            # A date field is one element with a stop per part (day, month, year).
            assert stop.order >= before.order, f"Tab went back from {before} to {stop}"
            same_row = stop.top < before.bottom and stop.bottom > before.top
            assert stop.top >= before.top - 1 or (same_row and stop.left >= before.left), (
                f"Tab moved up the page from {before.name!r} to {stop.name!r}"
            )
        self.stops.append(stop)
        return stop

    async def tab_to(self, name: str, *, limit: int = 30) -> Stop:
        """Tab until a control whose accessible text starts with ``name`` has the focus
        (no Tab if it has it already)."""
        if self.stops and self.stops[-1].name.startswith(name):
            return self.stops[-1]
        for _ in range(limit):
            stop = await self.press("Tab")
            if stop.name.startswith(name):
                return stop
        raise AssertionError(f"{name!r} was not reached with Tab: {[s.name for s in self.stops]}")

    async def start(self, url: str) -> None:
        """Open a page; the first Tab is the skip link, and Enter on it moves on to the
        page's content, past the header."""
        await self.page.goto(url.split("#")[0])  # a fragment alone would not reload it
        self.stops = []
        skip = await self.press("Tab")
        assert skip.name == "Skip to content", skip
        await self.page.keyboard.press("Enter")
        first = await self.press("Tab")
        header_bottom = await self.page.locator("header").evaluate(
            "el => el.getBoundingClientRect().bottom + window.scrollY"
        )
        assert first.top >= header_bottom, f"after the skip link, {first.name!r} is in the header"


@pytest_asyncio.fixture(loop_scope="session")
async def walker(browser: Any) -> AsyncIterator[Walker]:
    # en-US: a date field's parts come in the order month, day, year.
    context = await browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-US")
    page = await context.new_page()
    page.set_default_timeout(15_000)
    try:
        yield Walker(page)
    finally:
        await context.close()


async def test_r29_s1_approved_by_keyboard(
    live_server: LiveServer, walker: Walker, service: RequestService, settings: Settings,
    demo: Engine,
) -> None:  # fmt: skip
    sub = await submit(service, S1_SHOP)
    await walker.start(live_server.url + personal_path(settings, sub.request_id, OLI))
    await walker.tab_to("Approve")
    # Shift+Tab goes back to the end-date field before Approve, Tab returns.
    back = await walker.press("Shift+Tab")
    assert back.key == "until", back
    await walker.tab_to("Approve")
    await screenshot(walker.page, "a11y-keyboard-s1-approve-focused")
    await walker.page.keyboard.press("Enter")
    await walker.page.get_by_role("heading", name="Approved", exact=True).wait_for()
    assert grants(demo, sub.request_id) == 1


def distinct(keys: list[str]) -> list[str]:
    """The controls in the order met, a date field's parts counted once."""
    return [k for i, k in enumerate(keys) if i == 0 or keys[i - 1] != k]


async def test_r29_shift_tab_retraces_the_whole_page_in_reverse(
    live_server: LiveServer, walker: Walker, service: RequestService, settings: Settings
) -> None:
    sub = await submit(service, S1_SHOP)
    await walker.start(live_server.url + personal_path(settings, sub.request_id, OLI))
    await walker.tab_to("Manage partners")  # the page's last control
    forward = distinct([s.key for s in walker.stops[1:]])  # after the skip link
    assert len(forward) >= 5, forward  # end date, Approve, reason, Decline, Manage partners
    backward = [walker.stops[-1]]
    for _ in range(30):
        backward.append(await walker.press("Shift+Tab"))
        if backward[-1].key == forward[0]:  # back at the content's first control
            break
    assert distinct([s.key for s in backward]) == forward[::-1]
    # Before the content, the header: the language switcher (R28), the brand, the skip link.
    header: list[str] = []
    for _ in range(10):
        stop = await walker.press("Shift+Tab")
        if stop.key == forward[0]:  # the other parts of a date field
            continue
        header.append(stop.name)
        if stop.name == "Skip to content":
            break
    assert header[-2:] == ["Shop Access", "Skip to content"], header
    assert len(header) == 4, header  # Change language, Language, Shop Access, Skip


async def test_r29_s2_refusal_takes_the_focus_and_is_corrected_by_keyboard(
    live_server: LiveServer, walker: Walker, service: RequestService, settings: Settings,
    demo: Engine,
) -> None:  # fmt: skip
    sub = await submit(service, S2_SHOP)
    page = walker.page
    await walker.start(live_server.url + personal_path(settings, sub.request_id, NIA))
    assert walker.stops[-1].key == "new_bc_name", "the first field is not the first stop"
    await page.keyboard.type("Nia BC")
    assert (await walker.press("Tab")).key == "timezone"
    await page.keyboard.type("Mars/Olympus_Mons")
    await walker.tab_to("Create and approve")
    await page.keyboard.press("Enter")
    await page.locator("#form-error").wait_for()

    # The refusal is announced: it is an alert and it has the focus, on screen.
    error = await walker.focused()
    assert error.key == "form-error" and error.role == "alert" and error.inView, error
    assert error.ring, "the refusal has the focus but no ring"
    assert "Not approved yet" in error.name
    assert grants(demo, sub.request_id) == 0
    await screenshot(page, "a11y-keyboard-s2-refused")
    # From the refusal, Tab goes on to the form it is about.
    walker.stops = [error]
    assert (await walker.press("Tab")).key == "new_bc_name"
    assert (await walker.press("Tab")).key == "timezone"
    await page.keyboard.press("ControlOrMeta+A")  # select the typed answer, to retype it
    await page.keyboard.type("Asia/Singapore")
    await walker.tab_to("Create and approve")
    await page.keyboard.press("Space")
    await page.get_by_role("heading", name="Approved", exact=True).wait_for()
    assert grants(demo, sub.request_id) == 1


async def test_r29_s3_approved_by_keyboard(
    live_server: LiveServer, walker: Walker, service: RequestService, settings: Settings,
    demo: Engine,
) -> None:  # fmt: skip
    sub = await submit(service, S3_SHOP)
    await walker.start(live_server.url + personal_path(settings, sub.request_id, RAJ))
    assert walker.stops[-1].key == "bc_id", "the BC list is not the first stop"
    # Raj administers one BC: it is chosen already; Tab passes the end date to Approve.
    assert (await walker.press("Tab")).key == "until"
    await walker.tab_to("Approve")
    await walker.page.keyboard.press("Space")
    await walker.page.get_by_role("heading", name="Approved", exact=True).wait_for()
    assert "is now the Business Center linked to your shop" in await walker.page.content()
    assert grants(demo, sub.request_id) == 1


async def test_r29_decline_by_keyboard_and_its_refusal_takes_the_focus(
    live_server: LiveServer, walker: Walker, service: RequestService, settings: Settings,
    demo: Engine,
) -> None:  # fmt: skip
    sub = await submit(service, S1_SHOP)
    page = walker.page
    await walker.start(live_server.url + personal_path(settings, sub.request_id, OLI))
    assert (await walker.tab_to("Reason")).key == "reason"
    # Longer than the field allows, so the service refuses it (R22: a reason has a limit).
    await page.locator("#reason").evaluate("el => el.removeAttribute('maxlength')")
    await page.keyboard.type("x" * 501)
    await walker.tab_to("Decline")
    await page.keyboard.press("Enter")
    await page.locator("#decline-error").wait_for()
    error = await walker.focused()
    assert error.key == "decline-error" and error.role == "alert" and error.inView, error
    assert error.ring, "the refusal has the focus but no ring"
    assert "Not declined" in error.name
    await screenshot(page, "a11y-keyboard-decline-refused")

    walker.stops = [error]
    reason = await walker.press("Tab")
    assert reason.key == "reason"
    assert await page.locator("#reason").get_attribute("aria-invalid") == "true"
    await page.keyboard.press("ControlOrMeta+A")
    await page.keyboard.type("Not now")
    await walker.tab_to("Decline")
    await page.keyboard.press("Space")
    await page.get_by_role("heading", name="You declined this request").wait_for()
    assert "Not now" in await page.content()
    assert grants(demo, sub.request_id) == 0


async def test_r29_partner_removed_by_keyboard(
    live_server: LiveServer, walker: Walker, service: RequestService, settings: Settings,
    demo: Engine,
) -> None:  # fmt: skip
    request_id = await approved_partner(
        service, bc_id=AGENCY, shop_code=S1_SHOP, admin=ANA, seller=OLI
    )
    page = walker.page
    await walker.start(live_server.url + personal_path(settings, request_id, OLI))
    await walker.tab_to("Manage partners")
    await page.keyboard.press("Enter")
    await page.get_by_role("heading", name="Partner management").wait_for()
    await walker.start(page.url)
    await walker.tab_to("Remove access")
    await page.keyboard.press("Enter")
    await page.get_by_role("heading", name="Remove Agency One's access").wait_for()
    await walker.start(page.url)
    await walker.tab_to("Remove access")
    await screenshot(page, "a11y-keyboard-remove-focused")
    await page.keyboard.press("Space")
    await page.get_by_role("heading", name="Access removed").wait_for()
    assert await page.locator('[data-status="removed"]').count() == 1


async def test_r29_end_date_sign_out_personal_link_and_invitation_by_keyboard(
    live_server: LiveServer, walker: Walker, service: RequestService, settings: Settings,
    demo: Engine, client: Client,
) -> None:  # fmt: skip
    """The other actions of R29's "every action": set and clear a partner's end date (R23),
    sign out, ask for a personal link from a copied link (R7), accept an invitation (R17)."""
    request_id = await approved_partner(
        service, bc_id=AGENCY, shop_code=S1_SHOP, admin=ANA, seller=OLI
    )
    page = walker.page
    await walker.start(live_server.url + personal_path(settings, request_id, OLI))
    await walker.tab_to("Manage partners")
    await page.keyboard.press("Enter")
    await page.get_by_role("heading", name="Partner management").wait_for()

    await walker.start(page.url)
    field = await walker.tab_to("End date of Agency One")
    assert field.tag == "input"
    await page.keyboard.type("12312099")  # month, day, year: the date field's parts in turn
    await walker.tab_to("Set end date")
    await page.keyboard.press("Enter")
    await page.get_by_text("Access ends 1 Jan 2100").wait_for()  # through 31 Dec (R23)
    await walker.start(page.url)
    await walker.tab_to("Clear")
    await page.keyboard.press("Space")
    await page.get_by_text("No end date").wait_for()
    await walker.start(page.url)
    await walker.tab_to("Sign out")
    await page.keyboard.press("Enter")
    await page.get_by_role("heading", name="Signed out").wait_for()

    copied = await submit(service, S2_SHOP)
    await walker.start(copied.approval_url)
    assert walker.stops[-1].key == "email", "the e-mail field is not the first stop"
    await page.keyboard.type(NIA)
    await walker.tab_to("E-mail me my link")
    await page.keyboard.press("Enter")
    await page.get_by_role("heading", name="Check your e-mail").wait_for()

    partners = PartnerService(client, demo, settings.task_queue, timeout=20)
    await partners.share_shop(
        bc_id=AGENCY, shop_code=S1_SHOP, partner_bc_id=SUBAGENCY,
        permission=Permission.AD_PROMOTION, by=ANA,
    )  # fmt: skip
    await walker.start(await emailed_invitation(settings, LEE))
    await walker.tab_to("Accept invitation")
    await page.keyboard.press("Space")
    await page.get_by_role("heading", name="Invitation accepted").wait_for()
    assert [s.shop_code for s in partners.shops(SUBAGENCY)] == [S1_SHOP]
