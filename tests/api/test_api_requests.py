"""The ops API's request calls (R26): the CLI's rules and codes over HTTP."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import Engine

from tests.api.conftest import error_of
from tests.conftest import AGENCY, ANA, OLI, S1_SHOP
from tests.web.conftest import snapshot

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_request_then_approve_then_read(api: httpx.AsyncClient, demo: Engine) -> None:
    """R1-R7 then R10-R14 S1: asked by API, approved by API, read back by API."""
    asked = await api.post(
        "/requests", json={"bc_id": str(AGENCY), "shop_code": S1_SHOP, "as": ANA}
    )
    assert asked.status_code == 201, asked.text
    request_id = asked.json()["request_id"]
    assert asked.headers["location"] == f"/api/v1/requests/{request_id}"
    assert asked.json()["status"] == "pending"

    approved = await api.post(f"/requests/{request_id}/approve", json={"as": OLI})
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved"
    assert approved.json()["scenario"] == "S1"

    one = await api.get(f"/requests/{request_id}")
    assert one.json()["status"] == "approved"
    assert [(t["action"], t["actor"]) for t in one.json()["transitions"]][-1] == ("approved", OLI)
    listed = await api.get("/requests", params={"bc_id": str(AGENCY)})
    assert request_id in [r["request_id"] for r in listed.json()["requests"]]
    assert listed.json()["quota"]["bc_id"] == str(AGENCY)


async def test_refusal_is_the_cli_code_and_changes_nothing(
    api: httpx.AsyncClient, demo: Engine
) -> None:
    """R5: an unknown shop code is refused with the CLI's code; nothing moved."""
    before = snapshot(demo)
    answer = await api.post(
        "/requests", json={"bc_id": str(AGENCY), "shop_code": "NOPE", "as": ANA}
    )
    assert error_of(answer) == (404, "unknown_shop_code")
    assert answer.json()["error"]["message"].startswith("No shop can be requested with that code")
    assert snapshot(demo) == before


async def test_bad_body_is_invalid_input(api: httpx.AsyncClient, demo: Engine) -> None:
    before = snapshot(demo)
    answer = await api.post(
        "/requests", json={"bc_id": 2**64, "shop_code": S1_SHOP, "as": ANA, "extra": 1}
    )
    assert error_of(answer) == (400, "invalid_input")
    fields = {e["field"] for e in answer.json()["error"]["details"]["errors"]}
    assert fields == {"body.bc_id", "body.extra"}
    assert snapshot(demo) == before


async def test_metrics_name_api_routes_by_their_full_template(
    api: httpx.AsyncClient, http: httpx.AsyncClient
) -> None:
    """The request metrics (docs/operations.md) cover the API too, labelled /api/v1/...
    (not /requests, which a page route could also be), never by the path with its ids."""
    await api.get("/requests/req_nope")
    scraped = (await http.get("/metrics")).text
    assert (
        'shop_access_http_requests_total{method="GET",route="/api/v1/requests/{request_id}",'
        'status="404"}' in scraped
    )
    assert "req_nope" not in scraped
