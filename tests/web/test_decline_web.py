"""R22 on the approval page: Decline beside Approve, with an optional reason. The same
checks as approving (R13: a personal link, a team member, a form made for this request and
this decision); a refused decline changes nothing and re-shows the form; a declined
request's links say so, to anyone holding one."""

from __future__ import annotations

import httpx
from sqlalchemy import Engine
from sqlmodel import select

from client.access_requests import RequestService
from models.enums import RequestStatus
from models.settings import Settings
from models.tables import AccessRequest, EmailDelivery, ShopGrant
from store.db import read_session
from tests.conftest import KIM, OLI, S1_SHOP, S4_SHOP, wait_until_sync
from tests.web.conftest import copy_path, csrf_in, personal_path, snapshot, submit
from web.security import FormTokens


def status_of(engine: Engine, request_id: str) -> AccessRequest:
    with read_session(engine) as session:
        found = session.get(AccessRequest, request_id)
        assert found is not None
        return found


def declined_mailed(engine: Engine, request_id: str) -> bool:
    """The requester's "declined" e-mail is recorded sent (R22)."""
    prefix = f"access_request:{request_id}:declined:"
    with read_session(engine) as session:
        keys = session.exec(select(EmailDelivery.key, EmailDelivery.sent_at)).all()
    return any(key.startswith(prefix) and sent is not None for key, sent in keys)


async def test_r22_decline_beside_approve_ends_declined_and_every_link_says_so(
    http: httpx.AsyncClient, service: RequestService, settings: Settings, demo: Engine
) -> None:
    sub = await submit(service, S1_SHOP)
    link = personal_path(settings, sub.request_id, OLI)
    page = await http.get(link)
    assert page.status_code == 200
    assert f'action="{link}/decline"' in page.text and 'name="reason"' in page.text
    assert csrf_in(page.text, "decline") != csrf_in(page.text)  # a token per decision

    done = await http.post(
        f"{link}/decline",
        data={"csrf": csrf_in(page.text, "decline"), "reason": "We sell only ourselves"},
    )
    assert done.status_code == 200 and 'data-status="declined"' in done.text
    assert "You declined this request" in done.text
    assert "We sell only ourselves" in done.text and "may ask again later" in done.text
    row = status_of(demo, sub.request_id)
    assert row.status is RequestStatus.DECLINED and row.decline_reason == "We sell only ourselves"
    with read_session(demo) as session:
        assert session.exec(select(ShopGrant)).all() == []

    # Whoever opens a link of a declined request sees that, not a form.
    copied = await http.get(copy_path(settings, sub.request_id))
    assert "This request was declined" in copied.text and f"Declined by {OLI}" in copied.text
    assert 'name="email"' not in copied.text and 'name="reason"' not in copied.text
    again = await http.get(link)
    assert "You declined this request" in again.text

    # The approve form still open in another tab is told, and nothing moves (once the
    # requester's "declined" e-mail, sent by the workflow after the answer, is out).
    wait_until_sync(lambda: declined_mailed(demo, sub.request_id), what="the declined e-mail")
    before = snapshot(demo)
    late = await http.post(link, data={"csrf": csrf_in(page.text)})
    assert late.status_code == 409 and 'data-status="declined"' in late.text
    assert snapshot(demo) == before


async def test_r22_a_bad_reason_is_refused_keeps_what_was_typed_and_changes_nothing(
    http: httpx.AsyncClient, service: RequestService, settings: Settings, demo: Engine
) -> None:
    sub = await submit(service, S1_SHOP)
    link = personal_path(settings, sub.request_id, OLI)
    page = await http.get(link)
    before = snapshot(demo)
    refused = await http.post(
        f"{link}/decline",
        data={"csrf": csrf_in(page.text, "decline"), "reason": "x" * 501},
    )
    assert refused.status_code == 422
    assert "Not declined." in refused.text and "at most 500 characters" in refused.text
    assert 'value="' + "x" * 501 + '"' in refused.text
    disguised = await http.post(
        f"{link}/decline",
        data={"csrf": csrf_in(refused.text, "decline"), "reason": "fine \u202etxt.exe"},
    )
    assert disguised.status_code == 422 and "control characters" in disguised.text
    assert snapshot(demo) == before

    fixed = await http.post(
        f"{link}/decline", data={"csrf": csrf_in(disguised.text, "decline"), "reason": ""}
    )
    assert fixed.status_code == 200 and "You declined this request" in fixed.text
    assert "Reason given" not in fixed.text  # none was given
    assert status_of(demo, sub.request_id).decline_reason is None


async def test_r13_a_copied_link_or_a_forged_form_cannot_decline(
    http: httpx.AsyncClient, service: RequestService, settings: Settings, demo: Engine
) -> None:
    sub = await submit(service, S1_SHOP)
    link = personal_path(settings, sub.request_id, OLI)
    page = await http.get(link)
    before = snapshot(demo)

    copied = copy_path(settings, sub.request_id)
    by_copy = await http.post(f"{copied}/decline", data={"csrf": csrf_in(page.text, "decline")})
    assert by_copy.status_code == 403 and "Use your personal link" in by_copy.text
    # The approve form's token is not a decline token.
    crossed = await http.post(f"{link}/decline", data={"csrf": csrf_in(page.text)})
    assert crossed.status_code == 403 and "could not be checked" in crossed.text
    # A token made for someone not on the team (a stolen key would be needed) is refused by
    # the store (R13).
    kim = personal_path(settings, sub.request_id, KIM)
    forged = FormTokens(settings.secret_key.get_secret_value()).issue(
        "decline", request_id=sub.request_id, email=KIM
    )
    outsider = await http.post(f"{kim}/decline", data={"csrf": forged})
    assert outsider.status_code == 403 and KIM in outsider.text
    assert snapshot(demo) == before
    assert status_of(demo, sub.request_id).status is RequestStatus.PENDING


async def test_r22_a_team_member_who_cannot_approve_s4_may_still_decline(
    http: httpx.AsyncClient, service: RequestService, settings: Settings, demo: Engine
) -> None:
    """S4: a standard member of their BC cannot approve, but is on the shop's team (R13)."""
    sub = await submit(service, S4_SHOP)
    link = personal_path(settings, sub.request_id, KIM)
    english = {"Accept-Language": "en"}  # the S4 shop is in Thailand: Thai by default (R28)
    page = await http.get(link, headers=english)
    assert 'data-scenario="S4"' in page.text
    done = await http.post(
        f"{link}/decline", data={"csrf": csrf_in(page.text, "decline")}, headers=english
    )
    assert done.status_code == 200 and "You declined this request" in done.text
    assert status_of(demo, sub.request_id).status is RequestStatus.DECLINED
