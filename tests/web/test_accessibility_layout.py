"""R29 layout in headless Debian chromium: the form controls share one look and size (the
end-date fields too, beside the styled ones); a reader's own text spacing loses nothing
(WCAG 1.4.12); and Thai and Simplified Chinese text (R28's languages, with no spaces
between words) wraps inside a 390 px screen without anything running off it. Beside the
real translations (test_accessibility.py's tour), this test replaces every text of a page
with sample text half again as long as the English, the worst case a translation could
be, and marks the page's language;
screenshots: test-artifacts/screenshots/a11y-<lang>-<page>.png.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from client.access_requests import RequestService
from models.settings import Settings
from tests.conftest import AGENCY, ANA, LEE, NIA, OLI, RAJ, S1_SHOP, S2_SHOP, S3_SHOP, SUBAGENCY
from tests.partners_support import approved_partner
from tests.web.conftest import LiveServer, personal_path, screenshot, submit
from tests.web.test_accessibility import OVERFLOWING

pytestmark = pytest.mark.browser

# How each visible form control is drawn: what "one look and size" compares.
CONTROLS = """() => [...document.querySelectorAll(
    'input:not([type=hidden]), select, textarea, .btn:not(.btn-link)')]
  .filter(el => el.offsetParent !== null)
  .map(el => {
    const s = getComputedStyle(el);
    const box = el.getBoundingClientRect();
    return {
      what: el.id || el.name || el.innerText.trim(),
      field: !el.classList.contains('btn'),
      height: Math.round(box.height), top: Math.round(box.top + window.scrollY),
      form: el.form ? [...document.forms].indexOf(el.form) : -1,
      look: [s.borderTopWidth, s.borderTopStyle, s.borderTopColor, s.borderTopLeftRadius,
             s.fontSize, s.fontFamily, s.paddingLeft, s.backgroundColor].join(' | '),
    };
  })"""

THAI = "การขอสิทธิ์เข้าถึงร้านค้าของคุณได้รับการอนุมัติแล้วโดยผู้ดูแลศูนย์ธุรกิจ"
CHINESE = "您的店铺访问请求已由商务中心管理员批准合作伙伴现在可以投放商品销售广告系列"

# Every text of the page becomes sample text half again as long (translations run longer
# than English), the labels drawn from data-label and placeholders too.
TRANSLATE = """([lang, sample]) => {
  document.documentElement.lang = lang;
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const nodes = [];
  while (walker.nextNode()) nodes.push(walker.currentNode);
  for (const node of nodes) {
    const text = node.nodeValue.trim();
    if (!text || node.parentElement.closest('option, datalist')) continue;
    const length = Math.ceil(text.length * 1.5);
    node.nodeValue = sample.repeat(Math.ceil(length / sample.length)).slice(0, length);
  }
  const labelled = document.querySelectorAll('[data-label]');
  for (const el of labelled) el.dataset.label = sample.slice(0, 14);
  for (const el of document.querySelectorAll('[placeholder]')) el.placeholder = sample;
  return nodes.length;
}"""


@pytest_asyncio.fixture(loop_scope="session")
async def tab(browser: Any) -> AsyncIterator[Any]:
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    page = await context.new_page()
    page.set_default_timeout(15_000)
    try:
        yield page
    finally:
        await context.close()


async def test_r29_form_controls_share_one_look_and_size(
    live_server: LiveServer, tab: Any, service: RequestService, settings: Settings
) -> None:
    request_id = await approved_partner(
        service, bc_id=AGENCY, shop_code=S1_SHOP, admin=ANA, seller=OLI
    )
    s2 = await submit(service, S2_SHOP)
    s3 = await submit(service, S3_SHOP)
    url = live_server.url
    pages = {
        "s2-approve": personal_path(settings, s2.request_id, NIA),  # text, list and date
        "s3-approve": personal_path(settings, s3.request_id, RAJ),  # a drop-down and date
    }
    fields: list[dict[str, Any]] = []
    for name, path in pages.items():
        await tab.goto(url + path)
        fields += [dict(c, page=name) for c in await tab.evaluate(CONTROLS) if c["field"]]
    await tab.goto(url + personal_path(settings, request_id, OLI))
    await tab.get_by_role("button", name="Manage partners").click()
    await tab.get_by_role("heading", name="Partner management").wait_for()
    partners = [dict(c, page="partners") for c in await tab.evaluate(CONTROLS)]
    fields += [c for c in partners if c["field"]]

    kinds = {c["what"] for c in fields}
    assert {"new_bc_name", "timezone", "bc_id", "until", "reason"} <= kinds, kinds
    assert any(c["page"] == "partners" for c in fields), "no end-date field on partners"
    looks = {(c["look"], c["height"]) for c in fields}
    assert len(looks) == 1, "fields differ:\n" + "\n".join(
        f"{c['page']} {c['what']}: {c['height']}px {c['look']}" for c in fields
    )
    # Partner management's end-date row: the date field and its button, one height, one line.
    (row,) = {c["form"] for c in partners if c["what"].startswith("until")}
    in_row = [c for c in partners if c["form"] == row]
    assert len(in_row) == 2 and len({(c["height"], c["top"]) for c in in_row}) == 1, in_row
    await screenshot(tab, "a11y-controls-partners")


@pytest.mark.parametrize("lang, sample", [("th", THAI), ("zh-Hans", CHINESE)])
async def test_r29_thai_and_chinese_text_wraps_on_a_phone(
    live_server: LiveServer, browser: Any, service: RequestService, settings: Settings,
    lang: str, sample: str,
) -> None:  # fmt: skip
    request_id = await approved_partner(
        service, bc_id=AGENCY, shop_code=S1_SHOP, admin=ANA, seller=OLI
    )
    pending = await submit(service, S1_SHOP, bc_id=SUBAGENCY, by=LEE)
    s2 = await submit(service, S2_SHOP)
    context = await browser.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
    )
    try:
        phone = await context.new_page()
        phone.set_default_timeout(15_000)
        url = live_server.url
        pages: dict[str, str | None] = {
            "s2-approve": url + personal_path(settings, s2.request_id, NIA),
            "s1-approve": url + personal_path(settings, pending.request_id, OLI),
            "partners": None,  # signed in from the request page above
            "removal-preview": None,
        }
        problems: dict[str, list[str]] = {}
        for name, address in pages.items():
            if name == "partners":
                await phone.goto(url + personal_path(settings, request_id, OLI))
                await phone.get_by_role("button", name="Manage partners").click()
                await phone.get_by_role("heading", name="Partner management").wait_for()
                remove = phone.get_by_role("link", name="Remove access of Agency One")
                pages["removal-preview"] = url + (await remove.get_attribute("href"))
            else:
                await phone.goto(address)
            replaced = await phone.evaluate(TRANSLATE, [lang, sample])
            assert replaced > 20, f"{name}: only {replaced} texts replaced"
            # The language's own faces come first in the font stack.
            family = await phone.evaluate("getComputedStyle(document.body).fontFamily")
            assert family.startswith('"Noto Sans Thai"' if lang == "th" else '"PingFang SC"')
            overflowing = await phone.evaluate(OVERFLOWING)
            if overflowing:
                problems[name] = overflowing
            await screenshot(phone, f"a11y-{lang}-{name}")
    finally:
        await context.close()
    assert not problems, problems


# WCAG 1.4.12 Text Spacing: the reader's own spacing (line height 1.5, paragraphs 2 em
# apart, letters 0.12 em, words 0.16 em) must lose no content.
TEXT_SPACING = """* { line-height: 1.5 !important; letter-spacing: 0.12em !important;
  word-spacing: 0.16em !important; }
p { margin-bottom: 2em !important; }"""

# Boxes that cut their content off: overflow other than visible and content larger.
CLIPPED = """() => [...document.body.querySelectorAll('*')]
  .filter(el => !el.closest('.visually-hidden'))
  .filter(el => {
    const s = getComputedStyle(el);
    if (s.overflowX === 'visible' && s.overflowY === 'visible') return false;
    if (['INPUT', 'SELECT', 'TEXTAREA'].includes(el.tagName)) return false;
    return el.scrollHeight > el.clientHeight + 1 || el.scrollWidth > el.clientWidth + 1;
  })
  .map(el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : ''))"""


async def test_r29_the_readers_text_spacing_loses_nothing(
    live_server: LiveServer, browser: Any, service: RequestService, settings: Settings
) -> None:
    request_id = await approved_partner(
        service, bc_id=AGENCY, shop_code=S1_SHOP, admin=ANA, seller=OLI
    )
    await submit(service, S1_SHOP, bc_id=SUBAGENCY, by=LEE)
    s2 = await submit(service, S2_SHOP)
    # The reader's style sheet comes in as an inline <style>, which the pages' CSP refuses.
    context = await browser.new_context(viewport={"width": 390, "height": 844}, bypass_csp=True)
    problems: dict[str, list[str]] = {}
    try:
        tab = await context.new_page()
        tab.set_default_timeout(15_000)
        url = live_server.url
        await tab.goto(url + personal_path(settings, request_id, OLI))
        await tab.get_by_role("button", name="Manage partners").click()
        await tab.get_by_role("heading", name="Partner management").wait_for()
        pages = {
            "partners": url + "/partners",
            "s2-approve": url + personal_path(settings, s2.request_id, NIA),
        }
        for name, address in pages.items():
            await tab.goto(address)
            for width, height in ((390, 844), (1280, 800)):
                await tab.set_viewport_size({"width": width, "height": height})
                await tab.add_style_tag(content=TEXT_SPACING)
                spacing = "getComputedStyle(document.querySelector('h1')).wordSpacing"
                assert await tab.evaluate(spacing) != "0px", "the reader's spacing is not applied"
                lost = await tab.evaluate(OVERFLOWING) + await tab.evaluate(CLIPPED)
                if lost:
                    problems[f"{name} at {width}"] = lost
            await screenshot(tab, f"a11y-text-spacing-{name}")
    finally:
        await context.close()
    assert not problems, problems
