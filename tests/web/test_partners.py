"""Partner management (R15, R10): personal-link sign-in, every request with its story,
the Business Centers holding the shop, and approving from there. Removing access (R19) is
tested with its workflow in tests/web/test_removal_web.py."""

from __future__ import annotations

import httpx
from sqlalchemy import Engine

from client.access_requests import RequestService
from models.enums import RequestMethod, RequestStatus
from models.settings import Settings
from tests.conftest import LEE, OLI, RAJ, S1_SHOP, S3_SHOP, SUBAGENCY
from tests.web.conftest import copy_path, csrf_in, personal_path, submit
from web.security import SESSION_COOKIE, SessionCookies


async def sign_in(http: httpx.AsyncClient, settings: Settings, request_id: str, email: str) -> None:
    link = personal_path(settings, request_id, email)
    page = await http.get(link)
    done = await http.post(link + "/signin", data={"csrf": csrf_in(page.text, "signin")})
    assert done.status_code == 303 and done.headers["location"] == "/partners"
    cookie = done.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie


async def test_r15_lists_every_request_with_status_method_bc_dates_and_decider(
    http: httpx.AsyncClient, service: RequestService, settings: Settings, demo: Engine
) -> None:
    approved = await submit(service, S1_SHOP)
    link = personal_path(settings, approved.request_id, OLI)
    await http.post(link, data={"csrf": csrf_in((await http.get(link)).text)})
    pending = await submit(service, S1_SHOP, bc_id=SUBAGENCY, by=LEE)
    raj_request = await submit(service, S3_SHOP)  # another seller's shop

    await sign_in(http, settings, approved.request_id, OLI)
    page = await http.get("/partners")
    assert page.status_code == 200
    html = page.text
    assert approved.request_id in html and pending.request_id in html
    assert raj_request.request_id not in html  # only the seller's own shops
    assert 'data-status="approved"' in html and 'data-status="pending"' in html
    assert "Agency One" in html and "Sub-agency" in html
    assert RequestMethod.REQUEST_ACCESS.label.replace("'", "&#39;") in html
    assert f"by {OLI}" in html  # who decided
    assert "Business Centers with access now" in html and "Remove access" in html
    # Approve the pending one from here (R10: the same decision as the e-mailed link).
    review = html.split(f'data-request="{pending.request_id}"')[1].split('href="')[1]
    review = review.split('"')[0]
    assert review == personal_path(settings, pending.request_id, OLI)
    form = await http.get(review)
    done = await http.post(review, data={"csrf": csrf_in(form.text)})
    assert done.status_code == 200 and "<h1>Approved</h1>" in done.text
    assert service.status(pending.request_id).status is RequestStatus.APPROVED
    after = (await http.get("/partners")).text
    assert after.count('data-status="approved"') == 2
    assert after.count("<li data-grant=") == 2  # both BCs hold the shop now


async def test_r15_partner_management_needs_a_personal_link_sign_in(
    http: httpx.AsyncClient, service: RequestService, settings: Settings, demo: Engine
) -> None:
    sub = await submit(service, S1_SHOP)
    assert (await http.get("/partners")).status_code == 401
    forged = SessionCookies("another-secret-of-enough-length").dump(OLI)
    http.cookies.set(SESSION_COOKIE, forged)
    refused = await http.get("/partners")
    assert refused.status_code == 401 and "Sign in with your personal link" in refused.text
    http.cookies.clear()
    # Without the page's form token, or from a copied link, there is no sign-in.
    link = personal_path(settings, sub.request_id, OLI)
    assert (await http.post(link + "/signin", data={})).status_code == 403
    assert (await http.post(copy_path(settings, sub.request_id) + "/signin")).status_code == 403
    assert "set-cookie" not in (await http.post(link + "/signin", data={})).headers


async def test_r15_a_seller_not_on_the_team_cannot_sign_in_with_a_link_for_someone_else(
    http: httpx.AsyncClient, service: RequestService, settings: Settings
) -> None:
    sub = await submit(service, S1_SHOP)
    link = personal_path(settings, sub.request_id, RAJ)  # genuine, but Raj is not on S1's team
    shown = await http.get(link)
    assert shown.status_code == 403 and "is not on the team" in shown.text


async def test_sign_out_ends_the_session(
    http: httpx.AsyncClient, service: RequestService, settings: Settings
) -> None:
    sub = await submit(service, S1_SHOP)
    await sign_in(http, settings, sub.request_id, OLI)
    page = await http.get("/partners")
    out = await http.post("/signout", data={"csrf": csrf_in(page.text, "signout")})
    assert out.status_code == 200 and "Signed out" in out.text
    assert (await http.get("/partners")).status_code == 401
