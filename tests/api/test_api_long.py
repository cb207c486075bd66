"""The ops API's long operations (R26): removing a partner (R19, R20) and bulk
requests (R24) answer 202 with a Location that is polled to the end, with the numbers the
CLI shows; the quota read (R4); every refusal is the CLI's code and changes nothing."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import Engine
from temporalio.client import Client

from models.settings import Settings
from models.tables import AccessRemoval
from store.campaigns import bulk_insert_delivering
from store.db import write_session
from store.people import find_user
from tests.api.conftest import Token, error_of
from tests.bulk_support import BULK_ADMIN, BULK_BC, BULK_SHOPS, admitted_per_shop, bulk_data
from tests.conftest import AGENCY, ANA, OLI, S1_SHOP, SUBAGENCY, load_data, wait_until
from tests.partners_support import (
    AGENCY_ADS,
    campaign_counts,
    grant_in_store,
    load_extra,
    shop_id_of,
    snapshot,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")

CAMPAIGNS = 40
REMOVAL = f"/shops/{S1_SHOP}/partners/{AGENCY}/removal"
PREVIEW = f"/shops/{S1_SHOP}/partners/{AGENCY}/removal-preview"


@pytest_asyncio.fixture(loop_scope="session")
async def partner(demo: Engine, client: Client, worker: Any) -> Engine:
    """AGENCY holds S1's shop as a partner (approved by OLI, its seller) and runs campaigns."""
    load_extra(demo)
    grant_in_store(demo, bc_id=AGENCY, shop_code=S1_SHOP, admin=ANA, seller=OLI)
    with write_session(demo) as session:
        ana = find_user(session, ANA)
        assert ana is not None and ana.id is not None
        bulk_insert_delivering(
            session,
            ad_account_id=AGENCY_ADS,
            shop_id=shop_id_of(demo, S1_SHOP),
            created_by_user_id=ana.id,
            count=CAMPAIGNS,
        )
    return demo


def rows(engine: Engine) -> dict[str, list[dict[str, object]]]:
    """Every table but the API's own bookkeeping (a token's last use and rate window, the
    idempotency keys), which every call, refused or not, updates."""
    tables = snapshot(engine)
    return {k: v for k, v in tables.items() if k not in {"api_token", "api_idempotency"}}


def absolute(settings: Settings, location: str) -> str:
    """A Location is a path on the server, as a script would follow it."""
    assert location.startswith("/api/v1/"), location
    return settings.link_base_url + location


# --- removal (R19, R20) ----------------------------------------------------------------------


async def test_r19_remove_through_the_api_and_poll_the_location_until_done(
    api: httpx.AsyncClient, partner: Engine, settings: Settings
) -> None:
    preview = await api.get(PREVIEW, params={"as": OLI})
    assert preview.status_code == 200, preview.text
    assert preview.json()["total_delivering_campaigns"] == CAMPAIGNS

    started = await api.post(REMOVAL, json={"as": OLI})
    assert started.status_code == 202, started.text
    body = started.json()
    removal_id = body["removal_id"]
    assert started.headers["location"] == body["status_url"] == f"/api/v1/removals/{removal_id}"
    assert body["lost_bc_ids"] == [str(AGENCY)] and body["ended_grant_ids"]
    assert body["workflow_id"].startswith("remove-access:")

    async def done() -> dict[str, Any] | None:
        answer = await api.get(absolute(settings, started.headers["location"]))
        assert answer.status_code == 200, answer.text
        return answer.json() if answer.json()["done"] else None

    final = await wait_until(done, interval=0.2, what="the removal done")
    assert final["status"] == "completed"
    assert final["campaigns_stopped"] == final["campaigns_total"] == CAMPAIGNS
    # The numbers are the store's: every campaign of the partner has stopped.
    assert campaign_counts(partner, AGENCY) == {"delivering": 0, "stopped": CAMPAIGNS}
    assert (final["removal_id"], final["shop_code"], final["partner_bc_id"]) == (
        removal_id,
        S1_SHOP,
        str(AGENCY),
    )

    # Past Temporal's retention the workflow is gone (here: the record names one Temporal
    # never had); the store's record answers with the same numbers.
    with write_session(partner) as session:
        record = session.get(AccessRemoval, removal_id)
        assert record is not None
        record.workflow_id = "remove-access:forgotten"

    kept = (await api.get(f"/removals/{removal_id}")).json()
    assert kept["pages"] is None  # only the workflow counts pages
    assert (kept["status"], kept["done"], kept["campaigns_stopped"]) == (
        "completed",
        True,
        CAMPAIGNS,
    )


async def test_r19_removal_refusals_are_the_cli_codes_and_change_nothing(
    api: httpx.AsyncClient, partner: Engine, read_token: Token
) -> None:
    before = rows(partner)
    cases = [
        # Not the seller nor an admin of the shop's owner BC (R19).
        (api.build_request("GET", PREVIEW, params={"as": ANA}), 403, "permission_denied", ANA),
        (api.build_request("POST", REMOVAL, json={"as": ANA}), 403, "permission_denied", ANA),
        # A BC that is not a partner of the shop.
        (
            api.build_request(
                "POST", f"/shops/{S1_SHOP}/partners/{SUBAGENCY}/removal", json={"as": OLI}
            ),
            403,
            "not_a_partner",
            "",
        ),
        (
            api.build_request(
                "POST", f"/shops/NOSUCHSHOP/partners/{AGENCY}/removal", json={"as": OLI}
            ),
            404,
            "unknown_shop_code",
            "",
        ),
        (
            api.build_request("GET", "/removals/rm_nope"),
            404,
            "unknown_removal",
            "There is no removal rm_nope.",
        ),
        (api.build_request("POST", REMOVAL, json={}), 400, "invalid_input", "body.as"),
        (api.build_request("GET", PREVIEW), 400, "invalid_input", "query.as"),
        # A read token may preview but not remove.
        (
            api.build_request("POST", REMOVAL, json={"as": OLI}, headers=read_token.headers),
            403,
            "scope_required",
            "'act' scope",
        ),
    ]
    for call, status, code, words in cases:
        answer = await api.send(call)
        assert error_of(answer) == (status, code), answer.text
        assert words in answer.json()["error"]["message"], answer.text
    assert rows(partner) == before
    assert campaign_counts(partner, AGENCY)["delivering"] == CAMPAIGNS

    read_preview = await api.get(PREVIEW, params={"as": OLI}, headers=read_token.headers)
    assert read_preview.status_code == 200, read_preview.text


# --- bulk requests (R24) and the quota (R4) ---------------------------------------------------


@pytest.fixture()
def bulk_bc(demo: Engine) -> Engine:
    load_data(demo, bulk_data())
    return demo


async def test_r24_bulk_through_the_api_polled_to_its_end_then_the_quota(
    api: httpx.AsyncClient, bulk_bc: Engine, settings: Settings
) -> None:
    codes = [BULK_SHOPS[0].lower(), "UNKNOWN0000", BULK_SHOPS[1], BULK_SHOPS[2]]
    started = await api.post(
        "/bulk-requests", json={"as": BULK_ADMIN, "bc_id": str(BULK_BC), "shop_codes": codes}
    )
    assert started.status_code == 202, started.text
    bulk_id = started.json()["bulk_id"]
    location = started.headers["location"]
    assert location == started.json()["status_url"] == f"/api/v1/bulk-requests/{bulk_id}"
    assert (started.json()["shop_codes"], started.json()["status"]) == (4, "running")

    async def finished() -> dict[str, Any] | None:
        answer = await api.get(absolute(settings, location))
        assert answer.status_code == 200, answer.text
        return answer.json() if answer.json()["status"] == "completed" else None

    final = await wait_until(finished, interval=0.2, what="the bulk completed")
    assert (final["admitted"], final["refused"], final["total"]) == (3, 1, 4)
    answers = {r["shop_code"]: (r["outcome"], r["refusal_code"]) for r in final["results"]}
    assert answers["UNKNOWN0000"] == ("refused", "unknown_shop_code")
    assert admitted_per_shop(bulk_bc) == dict.fromkeys(BULK_SHOPS[:3], 1)  # each shop once

    quota = await api.get(f"/bcs/{BULK_BC}/quota")
    assert quota.status_code == 200, quota.text
    assert {k: quota.json()[k] for k in ("used", "remaining", "limit")} == {
        "used": 3,
        "remaining": 17,
        "limit": 20,
    }

    # Finished: cancelling it is refused, and nothing moves.
    before = rows(bulk_bc)
    again = await api.post(f"/bulk-requests/{bulk_id}/cancel", json={"as": BULK_ADMIN})
    assert error_of(again) == (409, "bulk_not_running")
    assert "completed" in again.json()["error"]["message"]
    assert rows(bulk_bc) == before


BAD_LISTS = [
    (["BULKSHOP01", "not a code"], "shop_codes[1]: 'not a code' is not a shop code", {"index": 1}),
    (
        ["BULKSHOP01", "bulkshop01"],
        "shop_codes[1]: shop code BULKSHOP01 is already at shop_codes[0]",
        {"index": 1},
    ),
    ([], "The list has no shop codes.", {}),
    ([f"CODE{i:04d}" for i in range(1001)], "The list has 1001 shop codes", {}),
]


async def test_r24_bulk_refusals_are_the_cli_codes_and_change_nothing(
    api: httpx.AsyncClient, bulk_bc: Engine, read_token: Token
) -> None:
    before = rows(bulk_bc)
    for codes, words, details in BAD_LISTS:
        answer = await api.post(
            "/bulk-requests", json={"as": BULK_ADMIN, "bc_id": str(BULK_BC), "shop_codes": codes}
        )
        assert error_of(answer) == (400, "invalid_input"), answer.text
        assert answer.json()["error"]["message"].startswith(words), answer.text
        assert answer.json()["error"]["details"] == details
    good = {"bc_id": str(BULK_BC), "shop_codes": BULK_SHOPS[:2]}
    cases = [
        (
            api.build_request(
                "POST", "/bulk-requests", json={**good, "as": "someone@else.example"}
            ),
            403,
            "not_bc_admin",
        ),
        (
            api.build_request(
                "POST",
                "/bulk-requests",
                json={**good, "bc_id": "7199999999999999999", "as": BULK_ADMIN},
            ),
            404,
            "unknown_bc",
        ),
        (api.build_request("GET", "/bulk-requests/bulk_0000000000000000"), 404, "unknown_bulk"),
        (api.build_request("GET", "/bulk-requests/nonsense"), 404, "unknown_bulk"),
        (
            api.build_request(
                "POST", "/bulk-requests/bulk_0000000000000000/cancel", json={"as": BULK_ADMIN}
            ),
            404,
            "unknown_bulk",
        ),
        (api.build_request("GET", "/bcs/7199999999999999999/quota"), 404, "unknown_bc"),
        (api.build_request("GET", "/bcs/0/quota"), 400, "invalid_input"),
        # A read token reads but never starts or cancels a bulk.
        (
            api.build_request(
                "POST",
                "/bulk-requests",
                json={**good, "as": BULK_ADMIN},
                headers=read_token.headers,
            ),
            403,
            "scope_required",
        ),
        (
            api.build_request(
                "POST",
                "/bulk-requests/bulk_0000000000000000/cancel",
                json={"as": BULK_ADMIN},
                headers=read_token.headers,
            ),
            403,
            "scope_required",
        ),
    ]
    for call, status, code in cases:
        answer = await api.send(call)
        assert error_of(answer) == (status, code), answer.text
    assert rows(bulk_bc) == before
    assert (await api.get(f"/bcs/{BULK_BC}/quota", headers=read_token.headers)).json()["used"] == 0
