"""Bad input on the seller's S2 form (R12): the exact post once reported, a new BC name carrying a
``Bcc:`` header, is refused on the form with the reason and nothing is created; the seller
can correct it and approve."""

from __future__ import annotations

import httpx
from sqlalchemy import Engine

from client.access_requests import RequestService
from models.settings import Settings
from tests.conftest import NIA, S2_SHOP
from tests.web.conftest import csrf_in, personal_path, snapshot, submit


async def test_r12_s2_name_with_crlf_is_refused_on_the_form_and_creates_no_bc(
    http: httpx.AsyncClient, service: RequestService, settings: Settings, demo: Engine
) -> None:
    sub = await submit(service, S2_SHOP)
    link = personal_path(settings, sub.request_id, NIA)
    page = await http.get(link)
    before = snapshot(demo)

    refused = await http.post(
        link,
        data={"csrf": csrf_in(page.text), "new_bc_name": "Nia\r\nBcc: evil@attacker.example",
              "timezone": "Asia/Singapore"},
    )  # fmt: skip
    assert refused.status_code == 422, refused.text
    assert 'role="alert"' in refused.text and "control characters" in refused.text
    assert snapshot(demo) == before  # no BC, no grant, request still pending

    fixed = await http.post(
        link,
        data={"csrf": csrf_in(refused.text), "new_bc_name": "Nia BC",
              "timezone": "Asia/Singapore"},
    )  # fmt: skip
    assert fixed.status_code == 200 and "<h1>Approved</h1>" in fixed.text
