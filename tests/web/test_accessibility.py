"""R29 in headless Debian chromium: every seller page and state meets WCAG 2.2 AA as
axe-core checks it (levels A and AA: tags wcag2a, wcag2aa, wcag21a, wcag21aa, wcag22aa),
at 1280x800 and at 390x844, with nothing wider than the screen (at 320 px too, where WCAG
1.4.10 measures reflow), in every shipped language (R28): contrast is measured on each
language's own text, and Thai and Chinese, written without spaces between words, must wrap
inside 390 px. Each page is screenshotted in each language at both sizes
(test-artifacts/screenshots/a11y-<lang>-<page>-<size>.png).

The full matrix (every page and state x 6 languages x 2 sizes) runs under ``--deep`` (or
DEEP_TESTS=1); a plain run checks every page and state in English and Thai, and the four
approval pages (S1-S4) in the other languages (docs/testing.md, "Languages in the browser
tests").

The pages are reached as a seller reaches them (links, buttons, forms); the states are the
four scenarios (R12), refusals, the personal-link request (R7), the outcomes (approved,
expired, declined, withdrawn, removed), partner management with its history (R15), the
removal preview (R19), invitations (R16, R17) and the error pages. The keyboard walk is in
test_accessibility_keyboard.py.
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from axe_playwright_python.async_playwright import Axe
from axe_playwright_python.base import AxeResults
from sqlalchemy import Engine
from temporalio.client import Client

from client.access_requests import RequestService
from client.partners import PartnerService
from models import i18n
from models.enums import MemberRole, Permission, RequestMethod
from models.partner_enums import AdAccountPermission
from models.partner_messages import AdAccountGrant
from models.settings import Settings
from tests.conftest import (
    AGENCY,
    ANA,
    KIM,
    LEE,
    NIA,
    OLI,
    RAJ,
    S1_SHOP,
    S2_SHOP,
    S3_SHOP,
    S4_SHOP,
    SUBAGENCY,
)
from tests.partners_support import (
    AGENCY_ADS,
    NEW_MEMBER,
    approved_partner,
)
from tests.web.conftest import LiveServer, personal_path, screenshot, submit
from tests.web.test_invitations_web import emailed_invitation

pytestmark = pytest.mark.browser

# WCAG 2.0, 2.1 and 2.2 at levels A and AA (axe-core has no separate wcag22a tag: its 2.2 A
# criteria are tagged with the older levels).
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
# resultTypes trims the passing nodes (not the rules) from the answer: it stays small.
AXE_OPTIONS = {"runOnly": {"type": "tag", "values": AXE_TAGS}, "resultTypes": ["violations"]}
SIZES = {"desktop": (1280, 800), "phone": (390, 844)}
RULES_THAT_MUST_RUN = {
    "color-contrast", "label", "button-name", "link-name", "document-title", "html-has-lang",
    "target-size", "aria-allowed-attr",
}  # fmt: skip

# Wider than the screen at 390 px: the elements whose right edge passes the viewport's
# (WCAG 1.4.10 Reflow). An element inside a scrolling box is not counted.
OVERFLOWING = """() => {
  const width = document.documentElement.clientWidth;
  const out = [];
  for (const el of document.body.querySelectorAll('*')) {
    const box = el.getBoundingClientRect();
    if (box.width === 0 || box.right <= width + 0.5) continue;
    if (el.closest('.visually-hidden')) continue;
    const classes = typeof el.className === 'string' ? el.className.split(' ').join('.') : '';
    out.push(el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + (classes ? '.' + classes : '')
             + ' right=' + Math.round(box.right));
  }
  const page = document.documentElement.scrollWidth;
  if (page > width) out.push('page scrollWidth=' + page);
  return out;
}"""


LANGUAGES = list(i18n.KNOWN)
# What a plain run checks beyond the approval pages (which run in every language).
EVERY_RUN = ("en", "th")


def deep_run(request: pytest.FixtureRequest) -> bool:
    """``--deep`` (tests/conftest.py), else DEEP_TESTS=1: the whole language matrix."""
    try:
        return bool(request.config.getoption("--deep"))
    except ValueError:  # the option is not registered: only the environment says
        return os.environ.get("DEEP_TESTS") == "1"


class Words:
    """What a control or heading is called on a page in ``lang``: the catalogue's words,
    the values filled in, markup dropped (an accessible name is the text, visually hidden
    parts included), so the tour finds its way in every language as a seller would."""

    def __init__(self, lang: str) -> None:
        self.lang = lang

    def __call__(self, message: str, **values: str) -> str:
        text = (
            i18n.gettext(self.lang, message) % values
            if values
            else i18n.gettext(self.lang, message)
        )
        return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", text)).strip()


async def speak(context: Any, url: str, lang: str) -> None:
    """The visitor picked ``lang`` on the switcher: the cookie it leaves (R28)."""
    from web.locale import LANGUAGE_COOKIE

    await context.add_cookies([{"name": LANGUAGE_COOKIE, "value": lang, "url": url}])


class Audit:
    """Checks one tab's current page at both sizes and remembers what failed, so that one
    run reports every page's problems at once."""

    def __init__(self, page: Any, lang: str = i18n.DEFAULT) -> None:
        self.page = page
        self.lang = lang
        self.axe = Axe()
        self.failures: dict[str, str] = {}
        self.checked: list[str] = []
        self.rules_run: set[str] = set()

    async def check(self, name: str) -> None:
        await self.page.wait_for_load_state()
        shown = await self.page.evaluate("document.documentElement.lang")
        if shown != i18n.tag(self.lang):
            self.failures[f"{name}: in {shown!r}"] = f"expected the page in {self.lang}"
        name = f"{self.lang}-{name}"
        for size, (width, height) in SIZES.items():
            await self.page.set_viewport_size({"width": width, "height": height})
            results: AxeResults = await self.axe.run(self.page, options=AXE_OPTIONS)
            self.rules_run |= {
                rule["id"]
                for kind in ("violations", "passes", "incomplete")
                for rule in results.response[kind]
            }
            if results.violations_count:
                self.failures[f"{name} at {size}"] = results.generate_report()
            overflowing = await self.page.evaluate(OVERFLOWING)
            if overflowing:
                self.failures[f"{name} at {size}: wider than the screen"] = "\n".join(
                    overflowing[:10]
                )
            await screenshot(self.page, f"a11y-{name}-{size}")
        # WCAG 1.4.10 measures reflow at 320 px (1280 px zoomed to 400 %): narrower still.
        await self.page.set_viewport_size({"width": 320, "height": 640})
        overflowing = await self.page.evaluate(OVERFLOWING)
        if overflowing:
            self.failures[f"{name} at 320 px: wider than the screen"] = "\n".join(overflowing[:10])
        await self.page.set_viewport_size({"width": SIZES["desktop"][0], "height": 800})
        self.checked.append(name.removeprefix(f"{self.lang}-"))

    def assert_clean(self, expected: list[str], must_run: set[str] = RULES_THAT_MUST_RUN) -> None:
        assert self.checked == expected, "a page of the tour was not reached"
        # The premise: axe really checked what R29 is about on these pages.
        missing = must_run - self.rules_run
        assert not missing, f"axe did not run {sorted(missing)}"
        report = "\n\n".join(f"== {where}\n{what}" for where, what in self.failures.items())
        assert not self.failures, report


@pytest.fixture(params=LANGUAGES)
def lang(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture()
def words(lang: str) -> Words:
    return Words(lang)


@pytest_asyncio.fixture(loop_scope="session")
async def tab(browser: Any, live_server: LiveServer, lang: str) -> AsyncIterator[Any]:
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    await speak(context, live_server.url, lang)
    page = await context.new_page()
    page.set_default_timeout(15_000)
    try:
        yield page
    finally:
        await context.close()


async def test_r29_the_four_approval_pages_pass_axe_in_every_language(
    live_server: LiveServer, tab: Any, service: RequestService, settings: Settings,
    lang: str, request: pytest.FixtureRequest,
) -> None:  # fmt: skip
    """What a plain run checks in the languages the whole tour leaves to --deep: the page
    each scenario's seller first sees (R12 S1-S4), at both sizes."""
    if lang in EVERY_RUN or deep_run(request):
        pytest.skip(f"{lang}: the whole tour below checks these pages")
    audit = Audit(tab, lang)
    url = live_server.url
    for name, shop, seller in (
        ("s1-approve", S1_SHOP, OLI), ("s2-approve", S2_SHOP, NIA),
        ("s3-approve", S3_SHOP, RAJ), ("s4-needs-admin", S4_SHOP, KIM),
    ):  # fmt: skip
        sub = await submit(service, shop)
        await tab.goto(url + personal_path(settings, sub.request_id, seller))
        await audit.check(name)
    audit.assert_clean(["s1-approve", "s2-approve", "s3-approve", "s4-needs-admin"])


@pytest.mark.slow
async def test_r29_approval_pages_and_their_states_pass_axe_at_both_sizes(
    live_server: LiveServer, tab: Any, service: RequestService, settings: Settings,
    lang: str, words: Words, request: pytest.FixtureRequest,
) -> None:  # fmt: skip
    if lang not in EVERY_RUN and not deep_run(request):
        pytest.skip(f"{lang}: the four approval pages above; the whole tour under --deep")
    audit = Audit(tab, lang)
    url = live_server.url

    # S1, and the race (R11): the owner request wins, the partner request has expired.
    partner = await submit(service, S1_SHOP)
    owner = await submit(service, S1_SHOP, method=RequestMethod.ADD_MY_SHOP)
    await tab.goto(url + personal_path(settings, partner.request_id, OLI))
    await audit.check("s1-approve")
    await tab.goto(url + personal_path(settings, owner.request_id, OLI))
    await tab.get_by_role("button", name=words("Approve"), exact=True).click()
    await tab.get_by_role("heading", name=words("Approved"), exact=True).wait_for()
    await audit.check("approved")
    await tab.goto(url + personal_path(settings, partner.request_id, OLI))
    await tab.get_by_role("heading", name=words("This request has expired")).wait_for()
    await audit.check("expired")

    # S2: the form, a refusal (an unknown timezone), then approved with a new BC.
    s2 = await submit(service, S2_SHOP)
    await tab.goto(url + personal_path(settings, s2.request_id, NIA))
    await audit.check("s2-approve")
    await tab.get_by_label(words("Business Center name"), exact=True).fill("Nia BC")
    await tab.get_by_label(words("Timezone"), exact=True).fill("Mars/Olympus_Mons")
    await tab.get_by_role("button", name=words("Create and approve")).click()
    await tab.locator("#form-error").wait_for()
    await audit.check("s2-refused")

    # S3, then withdrawn by the requester (R9's policy).
    s3 = await submit(service, S3_SHOP)
    await tab.goto(url + personal_path(settings, s3.request_id, RAJ))
    await audit.check("s3-approve")
    await service.cancel(s3.request_id, by=ANA)
    await tab.reload()
    await tab.get_by_role("heading", name=words("This request was withdrawn")).wait_for()
    await audit.check("withdrawn")

    # S4, a refused decline (a reason too long), then declined (R22).
    s4 = await submit(service, S4_SHOP)
    await tab.goto(url + personal_path(settings, s4.request_id, KIM))
    await audit.check("s4-needs-admin")
    reason = tab.get_by_label(words("Reason (optional)"))
    await reason.evaluate("(el, text) => { el.removeAttribute('maxlength'); el.value = text; }",
                          "x" * 501)  # fmt: skip
    await tab.get_by_role("button", name=words("Decline"), exact=True).click()
    await tab.locator("#decline-error").wait_for()
    await audit.check("decline-refused")
    await tab.get_by_label(words("Reason (optional)")).fill("Not now")
    await tab.get_by_role("button", name=words("Decline"), exact=True).click()
    await tab.get_by_role("heading", name=words("You declined this request")).wait_for()
    await audit.check("declined")

    # The copied link (R7): the request, a refused address, then "check your e-mail".
    copied = await submit(service, S2_SHOP, bc_id=SUBAGENCY, by=LEE)
    await tab.goto(copied.approval_url)
    await audit.check("copy-link")
    await tab.get_by_label(words("Your e-mail address")).fill("nia@shop")
    await tab.get_by_role("button", name=words("E-mail me my link")).click()
    await tab.locator("#form-error").wait_for()
    await audit.check("copy-link-refused")
    await tab.get_by_label(words("Your e-mail address")).fill(NIA)
    await tab.get_by_role("button", name=words("E-mail me my link")).click()
    await tab.get_by_role("heading", name=words("Check your e-mail")).wait_for()
    await audit.check("personal-link-sent")

    # Error pages: a tampered link, a form that cannot be checked, no such page.
    link = personal_path(settings, copied.request_id, NIA)
    await tab.goto(url + link[:-4] + ("AAAA" if not link.endswith("AAAA") else "BBBB"))
    await tab.get_by_role("heading", name=words("This link is not valid")).wait_for()
    await audit.check("error-link")
    await tab.goto(url + link)
    await tab.locator('form[action$="/decline"] input[name="csrf"]').evaluate(
        "el => { el.value = 'forged'; }"
    )
    await tab.get_by_role("button", name=words("Decline"), exact=True).click()
    await tab.get_by_role("heading", name=words("This form could not be checked")).wait_for()
    await audit.check("error-form")
    await tab.goto(url + "/no-such-page")
    await audit.check("error-404")

    audit.assert_clean([
        "s1-approve", "approved", "expired", "s2-approve", "s2-refused", "s3-approve",
        "withdrawn", "s4-needs-admin", "decline-refused", "declined", "copy-link",
        "copy-link-refused", "personal-link-sent", "error-link", "error-form", "error-404",
    ])  # fmt: skip


@pytest.mark.slow
async def test_r29_partner_management_and_removal_pass_axe_at_both_sizes(
    live_server: LiveServer, tab: Any, service: RequestService, settings: Settings,
    demo: Engine, client: Client, lang: str, words: Words, request: pytest.FixtureRequest,
) -> None:  # fmt: skip
    if lang not in EVERY_RUN and not deep_run(request):
        pytest.skip(f"{lang} beyond the approval pages runs under --deep (docs/testing.md)")
    audit = Audit(tab, lang)
    url = live_server.url
    await tab.goto(url + "/")
    await audit.check("home")
    await tab.goto(url + "/partners")
    await audit.check("signed-in-needed")
    # The switcher on its own page, as an e-mail's language link opens it (R28).
    await tab.goto(url + "/language")
    await audit.check("language")

    request_id = await approved_partner(
        service, bc_id=AGENCY, shop_code=S1_SHOP, admin=ANA, seller=OLI
    )
    partners = PartnerService(client, demo, settings.task_queue, timeout=20)
    partners.create_campaign(ad_account_id=AGENCY_ADS, shop_code=S1_SHOP, name="A", by=ANA)
    declined = await submit(service, S1_SHOP, bc_id=SUBAGENCY, by=LEE)
    await service.decline(declined.request_id, by=OLI, reason="Not now")
    await submit(service, S1_SHOP, bc_id=SUBAGENCY, by=LEE)  # pending again (R22)

    await tab.goto(url + personal_path(settings, request_id, OLI))
    await tab.get_by_role("button", name=words("Manage partners")).click()
    await tab.get_by_role("heading", name=words("Partner management")).wait_for()
    await audit.check("partners")

    # An end date left empty is refused (R23), then one is set.
    holder = tab.locator(".access-until")
    await holder.get_by_role("button", name=words("Set end date")).click()
    await tab.get_by_role("heading", name=words("The end date was not changed")).wait_for()
    await audit.check("until-refused")
    await tab.goto(url + "/partners")
    await holder.get_by_label(
        words("End date of %(bc_name)s's access", bc_name=words("Agency One"))
    ).fill("2099-12-31")
    await holder.get_by_role("button", name=words("Set end date")).click()
    await tab.get_by_role("button", name=words("Change end date")).wait_for()
    await audit.check("partners-with-end-date")

    # Its accessible name joins a visually hidden part, spaced as each language writes it.
    await tab.locator(f'a[href^="/partners/{S1_SHOP}/grants/"][href$="/remove"]').click()
    await audit.check("removal-preview")
    await tab.get_by_role("button", name=words("Remove access")).click()
    await tab.get_by_role("heading", name=words("Access removed")).wait_for()
    await audit.check("removed")
    await tab.goto(url + personal_path(settings, request_id, OLI))
    await tab.get_by_role("heading", name=words("Access from this request was removed")).wait_for()
    await audit.check("revoked")
    await tab.goto(url + "/")
    await audit.check("home-signed-in")
    await tab.goto(url + "/partners")
    await tab.get_by_role("button", name=words("Sign out")).click()
    await tab.get_by_role("heading", name=words("Signed out")).wait_for()
    await audit.check("signed-out")

    # An S4 seller's partner management: whom to ask instead of "Review and approve".
    s4 = await submit(service, S4_SHOP)
    await tab.goto(url + personal_path(settings, s4.request_id, KIM))
    await tab.get_by_role("button", name=words("Manage partners")).click()
    await tab.get_by_role("heading", name=words("Partner management")).wait_for()
    await audit.check("partners-s4")

    audit.assert_clean([
        "home", "signed-in-needed", "language", "partners", "until-refused",
        "partners-with-end-date", "removal-preview", "removed", "revoked", "home-signed-in",
        "signed-out", "partners-s4",
    ])  # fmt: skip


async def test_r29_invitation_pages_pass_axe_at_both_sizes(
    live_server: LiveServer, tab: Any, service: RequestService, settings: Settings,
    demo: Engine, client: Client, lang: str, words: Words, request: pytest.FixtureRequest,
) -> None:  # fmt: skip
    if lang not in EVERY_RUN and not deep_run(request):
        pytest.skip(f"{lang} beyond the approval pages runs under --deep (docs/testing.md)")
    audit = Audit(tab, lang)
    partners = PartnerService(client, demo, settings.task_queue, timeout=20)
    grant = AdAccountGrant(ad_account_id=AGENCY_ADS, permission=AdAccountPermission.OPERATOR)
    await partners.invite_members(
        bc_id=AGENCY, emails=[NEW_MEMBER], role=MemberRole.STANDARD, by=ANA, ad_accounts=[grant]
    )
    await tab.goto(await emailed_invitation(settings, NEW_MEMBER))
    await audit.check("member-invitation")
    await tab.get_by_role("button", name=words("Accept invitation")).click()
    await tab.get_by_role("heading", name=words("Invitation accepted")).wait_for()
    await audit.check("member-invitation-accepted")

    await approved_partner(service, bc_id=AGENCY, shop_code=S1_SHOP, admin=ANA, seller=OLI)
    await partners.share_shop(
        bc_id=AGENCY, shop_code=S1_SHOP, partner_bc_id=SUBAGENCY,
        permission=Permission.AD_PROMOTION, by=ANA,
    )  # fmt: skip
    await tab.goto(await emailed_invitation(settings, LEE))
    await audit.check("partner-invitation")
    await tab.get_by_role("button", name=words("Decline")).click()
    await tab.get_by_role("heading", name=words("Invitation declined")).wait_for()
    await audit.check("partner-invitation-declined")

    (withdrawn,) = await partners.invite_members(
        bc_id=AGENCY, emails=["later@agency-one.com"], role=MemberRole.ADMIN, by=ANA,
        ad_accounts=[],
    )  # fmt: skip
    link = await emailed_invitation(settings, "later@agency-one.com")
    await partners.cancel_invitation(withdrawn.invitation_id, by=ANA)
    await tab.goto(link)
    await tab.get_by_role(
        "heading", name=words("%(bc_name)s withdrew this invitation", bc_name=words("Agency One"))
    ).wait_for()
    await audit.check("invitation-withdrawn")

    no_text_field = RULES_THAT_MUST_RUN - {"label"}  # invitations are answered by buttons
    audit.assert_clean([
        "member-invitation", "member-invitation-accepted", "partner-invitation",
        "partner-invitation-declined", "invitation-withdrawn",
    ], must_run=no_text_field)  # fmt: skip
