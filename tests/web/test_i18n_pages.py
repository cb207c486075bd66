"""R28 on the seller pages: every page in the pseudo-locale shows no English that skipped
the catalogue; the language is negotiated in R28's order (saved choice, then the cookie,
then Accept-Language, then the shop's market, then English); each page says its language
(<html lang>, Content-Language) and varies on Accept-Language; the switcher saves a choice
on the person the page is for, and refuses an unknown language changing nothing."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import Engine
from sqlmodel import select
from temporalio.client import Client

from client.access_requests import RequestService
from client.partners import PartnerService
from models import i18n
from models.enums import MemberRole, Permission
from models.partner_enums import AdAccountPermission
from models.partner_messages import AdAccountGrant
from models.settings import Settings
from models.tables import User
from store.db import read_session
from tests.conftest import (
    AGENCY,
    ANA,
    DEMO,
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
)  # fmt: skip
from tests.partners_support import (
    AGENCY_ADS,
    NEW_MEMBER,
    approved_partner,
)
from tests.pseudo_locale import bare_english, pseudo_locale, visible_text
from tests.web.conftest import copy_path, csrf_in, personal_path, submit
from tests.web.test_invitations_web import _path, emailed_invitation
from tests.web.test_partners import sign_in
from tests.web.test_removal_web import _sign_in, _story
from web.locale import LANGUAGE_COOKIE

# A moment as the pseudo-locale formats it (English CLDR data): data, not wording.
MOMENT = re.compile(r"\d{1,2} [A-Z][a-z]{2,3} \d{4}, \d{2}:\d{2} (?:UTC|(?:[A-Z][a-z]+ )+Time)")


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


# The demo store's names, codes and addresses, and the languages named in their own words.
DATA = [*_strings(json.loads(DEMO.read_text())), *i18n.KNOWN.values()]


def _language(engine: Engine, email: str) -> str | None:
    with read_session(engine) as session:
        user = session.exec(select(User).where(User.email == email)).one()
        return user.preferred_language


def _bare(html: str, *extra: str) -> list[str]:
    return bare_english(MOMENT.sub(" ", visible_text(html)), [*DATA, *extra])


@pytest_asyncio.fixture(loop_scope="session")
async def close_partners(client: Client, demo: Engine, worker: Any) -> AsyncIterator[None]:
    yield


@pytest.fixture()
def xa() -> Iterator[str]:
    with pseudo_locale() as locale:
        yield locale


async def test_r28_every_page_is_all_catalogue_in_the_pseudo_locale(
    http: httpx.AsyncClient, service: RequestService, settings: Settings, xa: str
) -> None:
    http.cookies.set(LANGUAGE_COOKIE, xa)
    s1 = await submit(service, S1_SHOP)
    s2 = await submit(service, S2_SHOP)
    s3 = await submit(service, S3_SHOP)
    s4 = await submit(service, S4_SHOP)
    ids = [s.request_id for s in (s1, s2, s3, s4)]
    pages = {
        "home": "/",
        "language": "/language",
        "not found": "/no-such-page",
        "S1 approval": personal_path(settings, s1.request_id, OLI),
        "S2 approval": personal_path(settings, s2.request_id, NIA),
        "S3 approval": personal_path(settings, s3.request_id, RAJ),
        "S4 approval": personal_path(settings, s4.request_id, KIM),
        "copied link": copy_path(settings, s1.request_id),
        "bad link": "/approve/not-a-token",
    }
    for name, path in pages.items():
        answer = await http.get(path)
        assert f'<html lang="{i18n.tag(xa)}">' in answer.text, name
        assert "⟦" in answer.text, f"{name}: nothing was translated"
        assert _bare(answer.text, *ids) == [], f"{name} has untranslated words"
    # The approved outcome, and partner management once signed in.
    link = personal_path(settings, s1.request_id, OLI)
    done = await http.post(link, data={"csrf": csrf_in((await http.get(link)).text)})
    outcome = await http.get(done.headers.get("location", link))
    assert _bare(outcome.text, *ids) == [], "the approved page has untranslated words"
    await sign_in(http, settings, s3.request_id, RAJ)
    partners = await http.get("/partners")
    assert partners.status_code == 200
    assert _bare(partners.text, *ids) == [], "partner management has untranslated words"


async def test_r28_page_language_follows_saved_choice_then_browser_then_market(
    http: httpx.AsyncClient, service: RequestService, settings: Settings, demo: Engine
) -> None:
    sub = await submit(service, S4_SHOP)  # Kim's shop is in Thailand
    link = personal_path(settings, sub.request_id, KIM)

    market = await http.get(link)
    assert '<html lang="th">' in market.text
    assert market.headers["content-language"] == "th"
    assert "accept-language" in market.headers["vary"].lower()

    browser = await http.get(link, headers={"Accept-Language": "fr;q=0.9, vi;q=0.8, en;q=0.5"})
    assert browser.headers["content-language"] == "vi"

    # Kim picks Bahasa Melayu on the page: saved on Kim, kept in a cookie, back to the page.
    chosen = await http.post("/language", data={"language": "ms", "next": link})
    assert chosen.status_code == 303 and chosen.headers["location"] == link
    assert f"{LANGUAGE_COOKIE}=ms" in chosen.headers["set-cookie"]
    assert _language(demo, KIM) == "ms"

    # The saved choice beats the browser, even without the cookie (another device).
    http.cookies.clear()
    again = await http.get(link, headers={"Accept-Language": "vi"})
    assert again.headers["content-language"] == "ms"
    assert '<option value="ms" lang="ms" selected>' in again.text


async def test_r28_unknown_language_is_refused_and_nothing_changes(
    http: httpx.AsyncClient, service: RequestService, settings: Settings, demo: Engine
) -> None:
    sub = await submit(service, S4_SHOP)
    link = personal_path(settings, sub.request_id, KIM)
    before = _language(demo, KIM)
    refused = await http.post("/language", data={"language": "xx", "next": link})
    assert refused.status_code == 400
    assert "Unknown language" in refused.text
    assert "set-cookie" not in refused.headers
    assert _language(demo, KIM) == before


async def test_r28_switcher_goes_back_only_to_this_site(
    http: httpx.AsyncClient, demo: Engine
) -> None:
    for outside in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        answer = await http.post("/language", data={"language": "th", "next": outside})
        assert answer.status_code == 303 and answer.headers["location"] == "/"
    # An anonymous visitor's choice is a cookie only: nobody's saved language changes.
    assert _language(demo, KIM) is None


@pytest.mark.usefixtures("close_partners")
async def test_r28_invitation_pages_are_all_catalogue_in_the_pseudo_locale(
    http: httpx.AsyncClient, service: RequestService, settings: Settings, demo: Engine, xa: str
) -> None:
    partners = PartnerService(service.client, demo, settings.task_queue, timeout=20)
    await partners.invite_members(
        bc_id=AGENCY, emails=[NEW_MEMBER], role=MemberRole.STANDARD, by=ANA,
        ad_accounts=[
            AdAccountGrant(ad_account_id=AGENCY_ADS, permission=AdAccountPermission.OPERATOR)
        ],
    )  # fmt: skip
    await approved_partner(service, bc_id=AGENCY, shop_code=S1_SHOP, admin=ANA, seller=OLI)
    await partners.share_shop(
        bc_id=AGENCY, shop_code=S1_SHOP, partner_bc_id=SUBAGENCY,
        permission=Permission.AD_PROMOTION, by=ANA,
    )  # fmt: skip
    http.cookies.set(LANGUAGE_COOKIE, xa)
    for to in (NEW_MEMBER, LEE):
        path = _path(await emailed_invitation(settings, to))
        shown = await http.get(path)
        assert shown.status_code == 200 and "⟦" in shown.text
        assert _bare(shown.text, NEW_MEMBER) == [], f"the invitation to {to} has bare English"
        done = await http.post(path + "/decline", data={"csrf": csrf_in(shown.text, "decline")})
        assert _bare(done.text, NEW_MEMBER) == [], f"the declined page ({to}) has bare English"


@pytest.mark.usefixtures("close_partners")
async def test_r28_partner_management_and_removal_are_all_catalogue_in_the_pseudo_locale(
    http: httpx.AsyncClient, service: RequestService, settings: Settings, demo: Engine, xa: str
) -> None:
    """R15 with partners and their end dates, R19's preview (downstream, campaigns) and the
    removed page, R23's end-date form, all in the pseudo-locale."""
    request_id = await _story(service, service.client, demo, settings.task_queue)
    http.cookies.set(LANGUAGE_COOKIE, xa)
    await _sign_in(http, settings, request_id)
    listing = await http.get("/partners")
    assert _bare(listing.text, request_id) == [], "partner management has bare English"
    remove = listing.text.split(f'href="/partners/{S1_SHOP}/grants/')[1].split('"')[0]
    preview_path = f"/partners/{S1_SHOP}/grants/{remove}"
    preview = await http.get(preview_path)
    assert preview.status_code == 200 and "data-total-campaigns>" in preview.text
    assert _bare(preview.text) == [], "the removal preview has bare English"
    done = await http.post(preview_path, data={"csrf": csrf_in(preview.text, "remove")})
    assert done.status_code == 200
    assert _bare(done.text) == [], "the removed page has bare English"


async def test_r28_times_in_the_shops_bc_timezone_named_in_the_readers_language(
    http: httpx.AsyncClient, service: RequestService, settings: Settings
) -> None:
    """S1's shop is linked to a BC in Europe/London: its page names that zone, in English
    and in Thai; S4's shop has no BC yet: UTC."""
    s1 = await submit(service, S1_SHOP)
    s4 = await submit(service, S4_SHOP)
    english = await http.get(
        personal_path(settings, s1.request_id, OLI), headers={"Accept-Language": "en"}
    )
    # London's name for the season the test runs in: winter or summer time.
    assert re.search(r"(Greenwich Mean|British Summer) Time</time>", english.text)
    thai = await http.get(
        personal_path(settings, s1.request_id, OLI), headers={"Accept-Language": "th"}
    )
    assert re.search(r"(เวลามาตรฐานกรีนิช|เวลาฤดูร้อนอังกฤษ)</time>", thai.text)
    no_bc = await http.get(
        personal_path(settings, s4.request_id, KIM), headers={"Accept-Language": "en"}
    )
    assert re.search(r"\d{2}:\d{2} UTC</time>", no_bc.text)
