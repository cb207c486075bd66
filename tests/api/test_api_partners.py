"""The ops API's partner-side calls (R26): what a BC holds, members,
invitations, shares, end dates and campaigns (R16-R18, R23), with the CLI's rules and codes
over HTTP."""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from tests.api.conftest import Token, error_of
from tests.conftest import AGENCY, ANA, LEE, OLI, S1_SHOP, SAM, SUBAGENCY
from tests.partners_support import AGENCY_ADS, NEW_MEMBER, grant_in_store
from tests.web.conftest import StoreSnapshot, snapshot

pytestmark = pytest.mark.asyncio(loop_scope="session")

DECLINER = "no-thanks@agency-one.com"
WITHDRAWN = "not-after-all@agency-one.com"


def settled(engine: Engine) -> StoreSnapshot:
    """The store without its e-mail count: earlier steps' workflows may still be sending
    their e-mails, which is not something a refusal changed."""
    return dataclasses.replace(snapshot(engine), emails=0)


async def test_r16_r17_r18_r23_walk(api: httpx.AsyncClient, demo: Engine) -> None:
    """Invite, answer, assign, share, create a campaign, read, and set and clear an end
    date, all by API, as the CLI story does (tests/test_partners_cli.py)."""
    grant_in_store(demo, bc_id=AGENCY, shop_code=S1_SHOP, admin=ANA, seller=OLI)
    held = await api.get(f"/bcs/{AGENCY}/shops")
    assert held.status_code == 200, held.text
    assert [(s["shop_code"], s["via"]) for s in held.json()["shops"]] == [(S1_SHOP, "request")]

    invited = await api.post(
        "/invitations",
        json={
            "bc_id": str(AGENCY),
            "emails": [NEW_MEMBER, DECLINER, WITHDRAWN],
            "role": "standard",
            "ad_accounts": [{"ad_account_id": str(AGENCY_ADS), "permission": "operator"}],
            "as": ANA,
        },
    )
    assert invited.status_code == 201, invited.text
    ids = {i["email"]: i["invitation_id"] for i in invited.json()["invitations"]}
    assert {i["status"] for i in invited.json()["invitations"]} == {"pending"}
    answers = [
        (f"/invitations/{ids[NEW_MEMBER]}/accept", NEW_MEMBER, "accepted"),
        (f"/invitations/{ids[DECLINER]}/decline", DECLINER, "declined"),
        (f"/invitations/{ids[WITHDRAWN]}/cancel", ANA, "cancelled"),
    ]
    for path, who, status in answers:
        answer = await api.post(path, json={"as": who})
        assert (answer.status_code, answer.json()["status"]) == (200, status), answer.text

    # R16: an answered invitation cannot be answered again; nothing moves.
    before = settled(demo)
    again = await api.post(f"/invitations/{ids[NEW_MEMBER]}/decline", json={"as": NEW_MEMBER})
    assert error_of(again) == (409, "invitation_not_pending")
    assert again.json()["error"]["message"] == (
        f"Invitation {ids[NEW_MEMBER]} is accepted; only a pending invitation can be "
        "answered or changed."
    )
    assert settled(demo) == before

    assigned = await api.post(
        f"/shops/{S1_SHOP}/members",
        json={"bc_id": str(AGENCY), "member": NEW_MEMBER, "permission": "ad_promotion", "as": ANA},
    )
    assert assigned.status_code == 200, assigned.text
    assert (assigned.json()["member"], assigned.json()["permission"]) == (
        NEW_MEMBER,
        "ad_promotion",
    )

    shared = await api.post(
        f"/shops/{S1_SHOP}/shares",
        json={
            "bc_id": str(AGENCY),
            "partner_bc_id": str(SUBAGENCY),
            "permission": "ad_promotion",
            "as": ANA,
        },
    )
    assert (shared.status_code, shared.json()["status"]) == (200, "invited"), shared.text
    joined = await api.post(
        f"/invitations/{shared.json()['invitation_id']}/accept", json={"as": LEE}
    )
    assert len(joined.json()["granted_shop_ids"]) == 1, joined.text
    sub_held = (await api.get(f"/bcs/{SUBAGENCY}/shops")).json()["shops"]
    assert [(s["shop_code"], s["via"], s["granted_by_bc_id"]) for s in sub_held] == [
        (S1_SHOP, "share", str(AGENCY))
    ]

    made = await api.post(
        "/campaigns",
        json={
            "ad_account_id": str(AGENCY_ADS),
            "shop_code": S1_SHOP,
            "name": "Member sale",
            "as": NEW_MEMBER,
        },
    )
    assert (made.status_code, made.json()["status"]) == (201, "delivering"), made.text
    for query in ({"shop_code": S1_SHOP}, {"bc_id": str(AGENCY)}):
        listed = await api.get("/campaigns", params=query)
        assert [(c["name"], c["created_by"]) for c in listed.json()["campaigns"]] == [
            ("Member sale", NEW_MEMBER)
        ]

    await _end_dates(api)


async def _end_dates(api: httpx.AsyncClient) -> None:
    """R23: the seller sets an end date on the partner's access, a member's assignment
    takes one within it, and the seller clears it again."""
    day = date.today() + timedelta(days=20)
    after = (day + timedelta(days=1)).isoformat()
    path = f"/shops/{S1_SHOP}/partners/{AGENCY}/access-until"
    ends = await api.post(path, json={"until": day.isoformat(), "as": OLI})
    assert ends.status_code == 200, ends.text
    assert ends.json()["grant_ids"] and ends.json()["ends_at"].startswith(after)
    [own] = (await api.get(f"/bcs/{AGENCY}/shops")).json()["shops"]
    assert own["ends_at"].startswith(after)

    sooner = (day - timedelta(days=5)).isoformat()
    member = {"bc_id": str(AGENCY), "member": NEW_MEMBER, "permission": "ad_promotion", "as": ANA}
    assigned = await api.post(f"/shops/{S1_SHOP}/members", json={**member, "until": sooner})
    assert assigned.status_code == 200, assigned.text
    assert assigned.json()["ends_at"].startswith((day - timedelta(days=4)).isoformat())

    cleared = await api.post(path, json={"until": None, "as": OLI})
    assert (cleared.status_code, cleared.json()["ends_at"]) == (200, None), cleared.text
    [own] = (await api.get(f"/bcs/{AGENCY}/shops")).json()["shops"]
    assert own["ends_at"] is None


async def test_each_call_refuses_with_the_cli_code_and_changes_nothing(
    api: httpx.AsyncClient, demo: Engine
) -> None:
    """One refusal per call (R5, R16-R18, R23): status, code and message, store unmoved."""
    grant_in_store(demo, bc_id=AGENCY, shop_code=S1_SHOP, admin=ANA, seller=OLI)
    past = (date.today() - timedelta(days=1)).isoformat()
    share = {"bc_id": str(AGENCY), "partner_bc_id": str(SUBAGENCY), "as": ANA}
    until_path = f"/shops/{S1_SHOP}/partners/{AGENCY}/access-until"
    calls: list[tuple[str, str, dict[str, Any] | None, int, str, str]] = [
        ("GET", "/bcs/7100000000000000999/shops", None, 404, "unknown_bc", "does not exist"),
        (
            "POST",
            f"/shops/{S1_SHOP}/members",
            {"bc_id": str(AGENCY), "member": NEW_MEMBER, "permission": "ad_promotion", "as": ANA},
            403,
            "not_a_member",
            "invite them first",
        ),
        (
            "POST",
            "/invitations",
            {"bc_id": str(AGENCY), "emails": [NEW_MEMBER], "role": "standard", "as": SAM},
            403,
            "not_bc_admin",
            "is a standard member of Business Center",
        ),
        (
            "POST",
            "/invitations/inv_nope/accept",
            {"as": ANA},
            404,
            "unknown_invitation",
            "inv_nope",
        ),
        (
            "POST",
            "/invitations/inv_nope/decline",
            {"as": ANA},
            404,
            "unknown_invitation",
            "inv_nope",
        ),
        (
            "POST",
            "/invitations/inv_nope/cancel",
            {"as": ANA},
            404,
            "unknown_invitation",
            "inv_nope",
        ),
        (
            "POST",
            f"/shops/{S1_SHOP}/shares",
            {**share, "permission": "manager"},
            403,
            "permission_denied",
            "at most that; manager is higher",
        ),
        (
            "POST",
            f"/shops/{S1_SHOP}/shares",
            {**share, "permission": "ad_promotion", "until": past},
            422,
            "end_date_passed",
            "already passed",
        ),
        (
            "POST",
            until_path,
            {"until": "2099-01-01", "as": SAM},
            403,
            "permission_denied",
            "cannot remove partners of shop",
        ),
        ("POST", until_path, {"until": past, "as": OLI}, 422, "end_date_passed", "already passed"),
        ("GET", "/campaigns", None, 400, "invalid_input", "exactly one of"),
        (
            "POST",
            "/campaigns",
            {"ad_account_id": "7200000000000000999", "shop_code": S1_SHOP, "name": "X", "as": ANA},
            404,
            "unknown_ad_account",
            "There is no ad account 7200000000000000999.",
        ),
    ]
    before = snapshot(demo)
    for method, path, body, status, code, phrase in calls:
        answer = await api.request(method, path, json=body)
        assert error_of(answer) == (status, code), (path, answer.text)
        assert phrase in answer.json()["error"]["message"], answer.text
        assert snapshot(demo) == before, path


async def test_a_read_token_reads_but_may_not_act(
    api: httpx.AsyncClient, demo: Engine, read_token: Token
) -> None:
    """R26: ``read`` lists shops and campaigns; acting needs ``act`` (nothing moves)."""
    grant_in_store(demo, bc_id=AGENCY, shop_code=S1_SHOP, admin=ANA, seller=OLI)
    shops = await api.get(f"/bcs/{AGENCY}/shops", headers=read_token.headers)
    assert shops.status_code == 200 and len(shops.json()["shops"]) == 1, shops.text
    listed = await api.get("/campaigns", params={"bc_id": str(AGENCY)}, headers=read_token.headers)
    assert listed.json() == {"campaigns": []}
    before = snapshot(demo)
    answer = await api.post(
        "/campaigns",
        json={"ad_account_id": str(AGENCY_ADS), "shop_code": S1_SHOP, "name": "Sale", "as": ANA},
        headers=read_token.headers,
    )
    assert error_of(answer) == (403, "scope_required")
    assert answer.json()["error"]["message"] == "This token lacks the 'act' scope this call needs."
    assert snapshot(demo) == before
