"""The forms read through FastAPI's form models (web/deps.py) refuse as the hand-parsed
forms did: a token that is not text (a file under its name) is the 403 "form could not be
checked" page, not a 400, and changes nothing; answers are trimmed; the checks run in the
order sign-in, token, team (R13, R15, R19)."""

from __future__ import annotations

import httpx
from sqlalchemy import Engine

from client.access_requests import RequestService
from models.enums import RequestStatus
from models.settings import Settings
from tests.conftest import OLI, RAJ, RAJ_BC, S1_SHOP, S3_SHOP
from tests.web.conftest import copy_path, csrf_in, personal_path, snapshot, submit


async def test_r13_a_file_where_the_token_goes_is_refused_and_changes_nothing(
    http: httpx.AsyncClient, service: RequestService, settings: Settings, demo: Engine
) -> None:
    sub = await submit(service, S1_SHOP)
    link = personal_path(settings, sub.request_id, OLI)
    before = snapshot(demo)
    for path in (link, link + "/signin", copy_path(settings, sub.request_id) + "/personal-link"):
        refused = await http.post(path, files={"csrf": ("csrf.txt", b"not a token")})
        assert refused.status_code == 403, path
        assert "This form could not be checked" in refused.text
        assert "Nothing was changed" in refused.text
    assert snapshot(demo) == before
    assert service.status(sub.request_id).status is RequestStatus.PENDING


async def test_r12_s3_a_picked_bc_with_spaces_around_it_still_approves(
    http: httpx.AsyncClient, service: RequestService, settings: Settings, demo: Engine
) -> None:
    sub = await submit(service, S3_SHOP)
    link = personal_path(settings, sub.request_id, RAJ)
    page = await http.get(link)
    done = await http.post(link, data={"csrf": csrf_in(page.text), "bc_id": f"  {RAJ_BC} "})
    assert done.status_code == 200, done.text
    assert 'data-status="approved"' in done.text


async def test_r19_a_removal_without_a_session_is_a_sign_in_page_before_any_form_check(
    http: httpx.AsyncClient, demo: Engine
) -> None:
    before = snapshot(demo)
    refused = await http.post(f"/partners/{S1_SHOP}/grants/1/remove", data={"csrf": "garbage"})
    assert refused.status_code == 401
    assert "Sign in with your personal link" in refused.text
    assert snapshot(demo) == before


async def test_sign_out_without_a_session_is_a_sign_in_page(
    http: httpx.AsyncClient, demo: Engine
) -> None:
    refused = await http.post("/signout", files={"csrf": ("csrf.txt", b"x")})
    assert refused.status_code == 401
    assert "Sign in with your personal link" in refused.text
