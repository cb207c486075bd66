"""The approval link over HTTP: every scenario (R12), the outcome pages, double submits
and the race seen by the seller (R11), all through the real worker and dev server."""

from __future__ import annotations

import asyncio

import httpx
from sqlalchemy import Engine
from sqlmodel import select

from client.access_requests import RequestService
from models.enums import MemberRole, RequestMethod, RequestStatus
from models.settings import Settings
from models.tables import AccessRequest, AuditEvent, BCMember, BusinessCenter, Shop, ShopGrant
from store.db import read_session
from store.people import find_user
from tests.conftest import (
    AGENCY,
    KIM,
    NIA,
    OLI,
    RAJ,
    RAJ_BC,
    S1_SHOP,
    S2_SHOP,
    S3_SHOP,
    S4_SHOP,
    outbox_messages,
)
from tests.web.conftest import csrf_in, personal_path, snapshot, submit
from web.security import FormTokens


def grants_for(engine: Engine, request_id: str) -> list[ShopGrant]:
    with read_session(engine) as session:
        return list(
            session.exec(select(ShopGrant).where(ShopGrant.source_request_id == request_id))
        )


def shop(engine: Engine, code: str) -> Shop:
    with read_session(engine) as session:
        found = session.exec(select(Shop).where(Shop.code == code)).one()
        return found


async def test_r12_s1_one_click_approves_and_says_what_the_partner_can_do(
    http: httpx.AsyncClient, service: RequestService, settings: Settings, demo: Engine
) -> None:
    sub = await submit(service, S1_SHOP)
    link = personal_path(settings, sub.request_id, OLI)
    page = await http.get(link)
    assert page.status_code == 200
    assert 'data-scenario="S1"' in page.text
    assert "Agency One" in page.text and "7100000000000000001" in page.text  # who asks
    assert "Linked Brand Store (S1)" in page.text and S1_SHOP in page.text  # which shop
    assert "ad promotion permission" in page.text  # which permission
    assert page.text.count('type="submit" class="btn btn-primary"') == 1  # one button

    done = await http.post(link, data={"csrf": csrf_in(page.text)})
    assert done.status_code == 200
    assert "<h1>Approved</h1>" in done.text
    assert "can run Product Sales campaigns" in done.text
    assert len(grants_for(demo, sub.request_id)) == 1


async def test_r12_s2_creates_the_sellers_bc_with_the_picked_timezone(
    http: httpx.AsyncClient, service: RequestService, settings: Settings, demo: Engine
) -> None:
    sub = await submit(service, S2_SHOP)
    link = personal_path(settings, sub.request_id, NIA)
    page = await http.get(link)
    assert 'data-scenario="S2"' in page.text
    assert '<label for="new_bc_name">' in page.text and '<label for="timezone">' in page.text
    assert 'list="timezones"' in page.text and '<option value="Asia/Singapore">' in page.text

    done = await http.post(
        link,
        data={
            "csrf": csrf_in(page.text),
            "new_bc_name": "Nia's Shop BC",
            "timezone": "Asia/Singapore",
        },
    )
    assert done.status_code == 200, done.text
    assert "<h1>Approved</h1>" in done.text and "Nia&#39;s Shop BC" in done.text
    with read_session(demo) as session:
        named = BusinessCenter.name == "Nia's Shop BC"
        bc = session.exec(select(BusinessCenter).where(named)).one()
        nia = find_user(session, NIA)
        assert nia is not None
        member = session.get(BCMember, (bc.id, nia.id))
    assert bc.timezone == "Asia/Singapore"
    assert member is not None and member.role is MemberRole.ADMIN
    assert shop(demo, S2_SHOP).linked_bc_id == bc.id


async def test_r12_s2_without_a_name_is_refused_changes_nothing_and_can_be_corrected(
    http: httpx.AsyncClient, service: RequestService, settings: Settings, demo: Engine
) -> None:
    sub = await submit(service, S2_SHOP)
    link = personal_path(settings, sub.request_id, NIA)
    page = await http.get(link)
    before = snapshot(demo)

    refused = await http.post(
        link,
        data={"csrf": csrf_in(page.text), "new_bc_name": "", "timezone": "Mars/Base"},
    )
    assert refused.status_code == 422
    assert 'role="alert"' in refused.text and "Enter a name" in refused.text
    assert snapshot(demo) == before

    bad_tz = await http.post(
        link,
        data={"csrf": csrf_in(refused.text), "new_bc_name": "Nia BC",
              "timezone": "Mars/Base"},
    )  # fmt: skip
    assert bad_tz.status_code == 422 and "not an IANA timezone" in bad_tz.text
    assert 'value="Nia BC"' in bad_tz.text  # what the seller typed is kept
    assert snapshot(demo) == before

    fixed = await http.post(
        link,
        data={"csrf": csrf_in(bad_tz.text), "new_bc_name": "Nia BC",
              "timezone": "Asia/Singapore"},
    )  # fmt: skip
    assert fixed.status_code == 200 and "<h1>Approved</h1>" in fixed.text


async def test_r12_s3_lists_only_bcs_the_seller_administers_and_links_the_chosen_one(
    http: httpx.AsyncClient, service: RequestService, settings: Settings, demo: Engine
) -> None:
    sub = await submit(service, S3_SHOP)
    link = personal_path(settings, sub.request_id, RAJ)
    page = await http.get(link)
    assert 'data-scenario="S3"' in page.text
    assert f'<option value="{RAJ_BC}"' in page.text
    assert page.text.count('<option value="7') == 1  # only the BC Raj administers

    done = await http.post(link, data={"csrf": csrf_in(page.text), "bc_id": str(RAJ_BC)})
    assert done.status_code == 200 and "<h1>Approved</h1>" in done.text
    assert "is now the Business Center linked to your shop" in done.text
    assert shop(demo, S3_SHOP).linked_bc_id == RAJ_BC


async def test_r12_s3_a_bc_the_seller_does_not_administer_is_refused_and_changes_nothing(
    http: httpx.AsyncClient, service: RequestService, settings: Settings, demo: Engine
) -> None:
    sub = await submit(service, S3_SHOP)
    link = personal_path(settings, sub.request_id, RAJ)
    page = await http.get(link)
    before = snapshot(demo)
    refused = await http.post(link, data={"csrf": csrf_in(page.text), "bc_id": str(AGENCY)})
    assert refused.status_code == 403
    assert f"You are not an admin of Business Center {AGENCY}" in refused.text
    assert snapshot(demo) == before
    assert shop(demo, S3_SHOP).linked_bc_id is None


async def test_r12_s4_shows_no_approve_control_names_the_admin_and_refuses_a_forced_post(
    http: httpx.AsyncClient, service: RequestService, settings: Settings, demo: Engine
) -> None:
    sub = await submit(service, S4_SHOP)
    link = personal_path(settings, sub.request_id, KIM)
    english = {"Accept-Language": "en"}  # the S4 shop is in Thailand: Thai by default (R28)
    page = await http.get(link, headers=english)
    assert page.status_code == 200 and 'data-scenario="S4"' in page.text
    assert f'action="{link}"' not in page.text  # no approve form, only "Manage partners"
    assert "bo@brand-member.com" in page.text and "Kim&#39;s Company BC" in page.text
    assert "Nothing has been approved" in page.text

    before = snapshot(demo)
    forged = FormTokens(settings.secret_key.get_secret_value()).issue(
        "approve", request_id=sub.request_id, email=KIM
    )
    refused = await http.post(link, data={"csrf": forged}, headers=english)
    assert refused.status_code == 403
    assert "admin access" in refused.text and "bo@brand-member.com" in refused.text
    assert snapshot(demo) == before


async def test_double_submit_of_one_form_approves_once(
    http: httpx.AsyncClient, service: RequestService, settings: Settings, demo: Engine
) -> None:
    sub = await submit(service, S1_SHOP)
    link = personal_path(settings, sub.request_id, OLI)
    form = {"csrf": csrf_in((await http.get(link)).text)}
    first, second = await asyncio.gather(http.post(link, data=form), http.post(link, data=form))
    third = await http.post(link, data=form)  # e.g. the browser's "resubmit" after reload
    for response in (first, second, third):
        assert response.status_code == 200
        assert 'data-status="approved"' in response.text
    assert "You already approved this request" in third.text
    assert len(grants_for(demo, sub.request_id)) == 1
    with read_session(demo) as session:
        approvals = session.exec(
            select(AuditEvent).where(
                AuditEvent.entity_id == sub.request_id, AuditEvent.action == "approved"
            )
        ).all()
    assert len(approvals) == 1


async def test_already_decided_request_shows_its_outcome_to_anyone_with_a_link(
    http: httpx.AsyncClient, service: RequestService, settings: Settings
) -> None:
    sub = await submit(service, S1_SHOP)
    link = personal_path(settings, sub.request_id, OLI)
    await http.post(link, data={"csrf": csrf_in((await http.get(link)).text)})
    again = await http.get(link)
    assert again.status_code == 200 and "You already approved this request" in again.text
    copied = await http.get(sub.approval_url.removeprefix(settings.link_base_url))
    assert "This request was already approved" in copied.text
    assert f"Approved by {OLI}" in copied.text
    assert 'name="new_bc_name"' not in copied.text and 'name="email"' not in copied.text


async def test_r11_the_losing_request_says_it_expired_and_names_the_winner(
    http: httpx.AsyncClient, service: RequestService, settings: Settings, demo: Engine
) -> None:
    partner = await submit(service, S1_SHOP, method=RequestMethod.REQUEST_ACCESS)
    owner = await submit(service, S1_SHOP, method=RequestMethod.ADD_MY_SHOP)
    partner_link = personal_path(settings, partner.request_id, OLI)
    owner_link = personal_path(settings, owner.request_id, OLI)
    # The seller opened both e-mails; both pages offer approval (R11: both stay valid).
    partner_page = await http.get(partner_link)
    owner_page = await http.get(owner_link)
    assert 'data-scenario="S1"' in partner_page.text and 'data-scenario="S1"' in owner_page.text

    won = await http.post(owner_link, data={"csrf": csrf_in(owner_page.text)})
    assert won.status_code == 200 and "becomes your shop&#39;s owner Business Center" in won.text

    # The winner's workflow finishes on its own (grant, requester e-mail, signal to the loser).
    await service.client.get_workflow_handle(owner.workflow_id).result()
    before = snapshot(demo)
    lost = await http.post(partner_link, data={"csrf": csrf_in(partner_page.text)})
    assert lost.status_code == 409
    assert "This request has expired" in lost.text
    assert "“Add my TikTok Shop”" in lost.text and owner.request_id in lost.text
    assert snapshot(demo) == before
    assert grants_for(demo, partner.request_id) == []
    with read_session(demo) as session:
        loser = session.get(AccessRequest, partner.request_id)
    assert loser is not None and loser.status is RequestStatus.EXPIRED
    assert "This request has expired" in (await http.get(partner_link)).text


async def test_r14_the_requester_is_told_once_after_a_web_approval(
    http: httpx.AsyncClient, service: RequestService, settings: Settings
) -> None:
    sub = await submit(service, S1_SHOP)
    link = personal_path(settings, sub.request_id, OLI)
    await http.post(link, data={"csrf": csrf_in((await http.get(link)).text)})
    for _ in range(100):
        subjects = [m["Subject"] for m in outbox_messages(settings)]
        if any(s.startswith("Approved:") for s in subjects):
            break
        await asyncio.sleep(0.1)
    assert sum(s.startswith("Approved:") for s in subjects) == 1


async def test_r13_two_team_members_at_once_one_approves_the_other_is_told(
    http: httpx.AsyncClient, service: RequestService, settings: Settings, demo: Engine
) -> None:
    from tests.conftest import LINKED_BC, load_data

    max_ = "max@brand-linked.com"
    load_data(demo, {
        "users": [{"email": max_, "name": "Max (main admin)"}],
        "shops": [{"code": S1_SHOP, "name": "Linked Brand Store (S1)", "location": "GB",
                   "linked_bc": LINKED_BC,
                   "team": [{"email": OLI, "role": "owner"},
                            {"email": max_, "role": "main_admin"}]}],
    })  # fmt: skip
    sub = await submit(service, S1_SHOP)
    links = [personal_path(settings, sub.request_id, who) for who in (OLI, max_)]
    forms = [{"csrf": csrf_in((await http.get(link)).text)} for link in links]
    pairs = zip(links, forms, strict=True)
    answers = await asyncio.gather(*(http.post(lk, data=f) for lk, f in pairs))
    assert sorted(a.status_code for a in answers) == [200, 409]
    won = next(a for a in answers if a.status_code == 200)
    lost = next(a for a in answers if a.status_code == 409)
    assert "<h1>Approved</h1>" in won.text
    assert "This request was already approved" in lost.text
    assert len(grants_for(demo, sub.request_id)) == 1
