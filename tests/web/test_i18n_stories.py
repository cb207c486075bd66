"""R28 end to end in headless Debian chromium, as sellers in Thailand and Vietnam meet it:
S2 declined by a seller reading Vietnamese and approved by one reading Thai, S1 approved
from a Thai browser, and a choice made on the switcher that sticks. Every page on the way
is in the reader's language, and every e-mail that follows is in its recipient's (their
saved choice, else their shop's market or their BC's country), never the sender's.
Screenshots: test-artifacts/screenshots/i18n-<story>-<step>.png.
"""

from __future__ import annotations

from email.message import EmailMessage
from typing import Any

import pytest
from sqlalchemy import Engine

from client.access_requests import RequestService
from models import i18n
from models.settings import Settings
from store.people import remember_language
from tests.conftest import (
    AGENCY,
    ANA,
    LEE,
    NIA,
    OLI,
    S1_SHOP,
    S2_SHOP,
    SUBAGENCY,
    outbox_messages,
    wait_until,
)
from tests.web.conftest import LiveServer, personal_path, screenshot, submit
from tests.web.test_accessibility import Words

pytestmark = pytest.mark.browser

S1_NAME, S2_NAME = "Linked Brand Store (S1)", "New Seller Store (S2)"
AGENCY_NAME, SUBAGENCY_NAME = "Agency One", "Sub-agency"
APPROVED = "Approved: %(bc_name)s now has access to %(shop_name)s"
DECLINED = "Declined: %(shop_name)s did not give %(bc_name)s access"
ASKS = "%(bc_name)s asks for access to your TikTok Shop %(shop_name)s"
PERSONAL_LINK = "Your personal link to answer %(bc_name)s's request"


def sent(settings: Settings) -> set[str]:
    """The keys of the e-mails in the outbox so far (its files are not in sending order)."""
    return {str(m["X-Shop-Access-Key"]) for m in outbox_messages(settings)}


def new_mail(settings: Settings, seen: set[str]) -> list[EmailMessage]:
    return [m for m in outbox_messages(settings) if str(m["X-Shop-Access-Key"]) not in seen]


async def mail_to(settings: Settings, seen: set[str], to: str) -> list[EmailMessage]:
    """The e-mails to ``to`` written since ``seen``, once there is one (sent by an activity
    after the page answered: waited for, not assumed)."""

    def arrived() -> list[EmailMessage]:
        return [m for m in new_mail(settings, seen) if m["To"] == to]

    return await wait_until(arrived, what=f"an e-mail to {to}")


def assert_in_language(message: EmailMessage, lang: str, subject: str, **values: str) -> None:
    """The e-mail is in ``lang``: labelled so, and its subject is the catalogue's sentence."""
    assert message["Content-Language"] == i18n.tag(lang), (message["To"], lang)
    assert str(message["Subject"]) == i18n.gettext(lang, subject) % values
    html = message.get_body(preferencelist=("html",))
    assert html is not None and f'<html lang="{i18n.tag(lang)}">' in html.get_content()


async def in_language(tab: Any, lang: str) -> None:
    assert await tab.evaluate("document.documentElement.lang") == i18n.tag(lang)


async def test_r28_s2_declined_in_vietnamese_and_approved_in_thai_emails_in_each_recipients(
    live_server: LiveServer, browser: Any, service: RequestService, settings: Settings,
    demo: Engine,
) -> None:  # fmt: skip
    # Ana (Agency One, Singapore) saved Thai; Lee (Sub-agency, Malaysia) saved nothing.
    remember_language(demo, ANA, "th")
    expected = {ANA: "th", LEE: "ms"}

    # Nia reads Vietnamese and declines Agency One's request to her S2 shop.
    declined = await submit(service, S2_SHOP, bc_id=AGENCY, by=ANA)
    seen = sent(settings)
    vi, words = await browser.new_context(locale="vi-VN"), Words("vi")
    try:
        tab = await vi.new_page()
        tab.set_default_timeout(15_000)
        await tab.goto(live_server.url + personal_path(settings, declined.request_id, NIA))
        await in_language(tab, "vi")
        await tab.get_by_label(words("Reason (optional)")).fill("Chưa phải lúc này")
        await tab.get_by_role("button", name=words("Decline"), exact=True).click()
        await tab.get_by_role("heading", name=words("You declined this request")).wait_for()
        await in_language(tab, "vi")
        await screenshot(tab, "i18n-s2-declined-vi")
    finally:
        await vi.close()
    await mail_to(settings, seen, ANA)
    mail = new_mail(settings, seen)
    assert [m["To"] for m in mail] == [ANA], "the requester is told, nobody else"
    assert_in_language(mail[0], "th", DECLINED, shop_name=S2_NAME, bc_name=AGENCY_NAME)
    text = mail[0].get_body(preferencelist=("plain",))
    assert text is not None and "Chưa phải lúc này" in text.get_content()

    # Nia reads Thai and approves Sub-agency's request, naming a new BC (S2).
    approved = await submit(service, S2_SHOP, bc_id=SUBAGENCY, by=LEE)
    seen = sent(settings)
    th, words = await browser.new_context(locale="th-TH"), Words("th")
    try:
        tab = await th.new_page()
        tab.set_default_timeout(15_000)
        await tab.goto(live_server.url + personal_path(settings, approved.request_id, NIA))
        await in_language(tab, "th")
        await tab.get_by_label(words("Business Center name"), exact=True).fill("ร้านของเนีย")
        zone = tab.get_by_label(words("Timezone"), exact=True)
        await zone.fill("Asia/Singapore")
        await zone.press("Tab")  # closes the timezone suggestions, which take the next click
        await screenshot(tab, "i18n-s2-approve-th")
        await tab.get_by_role("button", name=words("Create and approve")).click()
        done = tab.get_by_role("heading", name=words("Approved"), exact=True)
        await done.or_(tab.locator("#form-error")).wait_for()
        assert await done.count(), await tab.locator("#form-error").inner_text()
        await in_language(tab, "th")
        await screenshot(tab, "i18n-s2-approved-th")
    finally:
        await th.close()
    await mail_to(settings, seen, LEE)
    mail = new_mail(settings, seen)
    assert {m["To"] for m in mail} <= set(expected), [m["To"] for m in mail]
    for message in mail:
        assert message["Content-Language"] == i18n.tag(expected[message["To"]])
    (to_lee,) = [m for m in mail if m["To"] == LEE]
    assert_in_language(to_lee, "ms", APPROVED, bc_name=SUBAGENCY_NAME, shop_name=S2_NAME)


async def test_r28_thai_browser_approves_s1_and_a_switched_language_sticks(
    live_server: LiveServer, browser: Any, service: RequestService, settings: Settings,
    demo: Engine,
) -> None:  # fmt: skip
    """The issue's "done when": a seller whose browser asks for Thai approves S1 in Thai; the
    personal-link e-mail and the requester's notification arrive in each recipient's
    language; the language switched on the page sticks for the next visit and e-mail."""
    sub = await submit(service, S1_SHOP, bc_id=SUBAGENCY, by=LEE)
    th, words = await browser.new_context(locale="th-TH"), Words("th")
    try:
        tab = await th.new_page()
        tab.set_default_timeout(15_000)
        # The copied link (R7): Oli asks for his personal link from a Thai page.
        await tab.goto(sub.approval_url)
        await in_language(tab, "th")
        seen = sent(settings)
        await tab.get_by_label(words("Your e-mail address")).fill(OLI)
        await tab.get_by_role("button", name=words("E-mail me my link")).click()
        await tab.get_by_role("heading", name=words("Check your e-mail")).wait_for()
        await in_language(tab, "th")
        # An e-mail has no browser: Oli saved nothing, so his shop's market (GB) speaks.
        (link_mail,) = await mail_to(settings, seen, OLI)
        assert link_mail["Content-Language"] == "en"

        # Oli picks Thai on the switcher (saved on him: the page is his personal link).
        await tab.goto(live_server.url + personal_path(settings, sub.request_id, OLI))
        await tab.get_by_label(words("Language"), exact=True).select_option("th")
        await tab.get_by_role("button", name=words("Change language")).click()
        await tab.get_by_role("button", name=words("Approve"), exact=True).wait_for()
        await in_language(tab, "th")
        await screenshot(tab, "i18n-s1-approve-th")
        seen = sent(settings)
        await tab.get_by_role("button", name=words("Approve"), exact=True).click()
        await tab.get_by_role("heading", name=words("Approved"), exact=True).wait_for()
        await in_language(tab, "th")
        await screenshot(tab, "i18n-s1-approved-th")
    finally:
        await th.close()
    # The requester's notification: Lee saved nothing, his BC is in Malaysia.
    (to_lee,) = await mail_to(settings, seen, LEE)
    assert_in_language(to_lee, "ms", APPROVED, bc_name=SUBAGENCY_NAME, shop_name=S1_NAME)

    # The next visit, on another device whose browser asks for English: still Thai.
    english = await browser.new_context(locale="en-GB")
    try:
        tab = await english.new_page()
        tab.set_default_timeout(15_000)
        await tab.goto(live_server.url + personal_path(settings, sub.request_id, OLI))
        await in_language(tab, "th")
    finally:
        await english.close()
    # The next e-mail to Oli: Agency One asks for his shop, and he reads it in Thai.
    seen = sent(settings)
    await submit(service, S1_SHOP, bc_id=AGENCY, by=ANA)
    (asks,) = await mail_to(settings, seen, OLI)
    assert_in_language(asks, "th", ASKS, bc_name=AGENCY_NAME, shop_name=S1_NAME)
    assert str(asks["Subject"]) != ASKS % {"bc_name": AGENCY_NAME, "shop_name": S1_NAME}


async def test_r29_a_thai_reader_approves_s1_and_declines_by_keyboard_alone(
    live_server: LiveServer, browser: Any, service: RequestService, settings: Settings,
) -> None:  # fmt: skip
    """The keyboard walk in Thai (R28 x R29): the skip link, the Approve button and the
    decline form are reached with Tab and used with Enter, every stop ringed and on screen,
    whatever the words' lengths."""
    from tests.web.test_accessibility_keyboard import Walker

    words = Words("th")
    context = await browser.new_context(viewport={"width": 1280, "height": 800}, locale="th-TH")
    try:
        walker = Walker(await context.new_page())
        walker.page.set_default_timeout(15_000)
        for action in ("approve", "decline"):
            sub = await submit(service, S1_SHOP, bc_id=SUBAGENCY if action == "decline" else AGENCY,
                               by=LEE if action == "decline" else ANA)  # fmt: skip
            await walker.page.goto(live_server.url + personal_path(settings, sub.request_id, OLI))
            walker.stops = []
            skip = await walker.press("Tab")
            assert skip.name == words("Skip to content"), skip
            await walker.page.keyboard.press("Enter")
            if action == "approve":
                await walker.tab_to(words("Approve"))
                await walker.page.keyboard.press("Enter")
                await walker.page.get_by_role(
                    "heading", name=words("Approved"), exact=True
                ).wait_for()
            else:
                await walker.tab_to(words("Reason (optional)").split(" ")[0])
                await walker.page.keyboard.type("ยังไม่ใช่ตอนนี้")
                await walker.tab_to(words("Decline"))
                await walker.page.keyboard.press("Enter")
                await walker.page.get_by_role(
                    "heading", name=words("You declined this request")
                ).wait_for()
            await in_language(walker.page, "th")
            await screenshot(walker.page, f"i18n-keyboard-th-{action}")
    finally:
        await context.close()
