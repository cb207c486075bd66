"""R30 over HTTP: ids are strings of digits in every answer, and a client sends them as
strings (or, for one release, as numbers no larger than 2^53; a larger number may
already have been rounded by the client's JSON library, so it is refused and nothing
moves). docs/decisions.md "Ids are strings in JSON" says which fields are ids and why."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from models.fields import JSON_SAFE_MAX
from tests.api.conftest import error_of
from tests.api.test_api_reference import SMALL, dump
from tests.conftest import AGENCY, ANA, OLI, S1_SHOP

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_r30_answers_write_every_id_as_a_string(api: httpx.AsyncClient) -> None:
    asked = await api.post(
        "/requests", json={"bc_id": str(AGENCY), "shop_code": S1_SHOP, "as": ANA}
    )
    assert asked.status_code == 201, asked.text
    request_id = asked.json()["request_id"]

    one = (await api.get(f"/requests/{request_id}")).json()
    assert one["bc_id"] == "7100000000000000001"
    listed = (await api.get("/requests", params={"bc_id": str(AGENCY)})).json()
    assert {r["bc_id"] for r in listed["requests"]} == {"7100000000000000001"}
    assert listed["quota"]["bc_id"] == "7100000000000000001"

    approved = await api.post(f"/requests/{request_id}/approve", json={"as": OLI})
    assert approved.status_code == 200, approved.text
    assert approved.json()["approving_bc_id"] == "7100000000000000003"  # S1's linked BC
    held = (await api.get(f"/bcs/{AGENCY}/shops")).json()["shops"]
    assert [type(s["shop_id"]) for s in held] == [str]
    assert all(s["shop_id"].isdigit() for s in held)

    # A refusal's details name ids as strings too.
    unknown = await api.get("/bcs/7100000000000000999/shops")
    assert error_of(unknown) == (404, "unknown_bc")
    assert unknown.json()["error"]["details"] == {"bc_id": "7100000000000000999"}


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/requests", {"bc_id": AGENCY, "shop_code": S1_SHOP, "as": ANA}, "body.bc_id"),
        (
            f"/shops/{S1_SHOP}/shares",
            {
                "bc_id": "7100000000000000003",
                "partner_bc_id": AGENCY,
                "permission": "ad_promotion",
                "as": OLI,
            },
            "body.partner_bc_id",
        ),
        (
            "/reference-data",
            {**SMALL, "business_centers": [{**SMALL["business_centers"][0], "id": 2**53 + 1}]},
            "business_centers.0.id",
        ),
    ],
)
async def test_r30_a_number_beyond_2_53_is_refused_naming_the_field_and_changes_nothing(
    api: httpx.AsyncClient, demo: Engine, path: str, body: dict[str, Any], field: str
) -> None:
    before = dump(demo)
    answer = await api.post(path, json=body)
    assert error_of(answer) == (400, "invalid_input"), answer.text
    error = answer.json()["error"]
    assert field in error["message"]
    problems = {e["field"]: e["problem"] for e in error["details"]["errors"]}
    assert set(problems) == {field}
    assert "beyond 2^53" in problems[field] and "as a string" in problems[field]
    assert dump(demo) == before


async def test_r30_a_number_within_2_53_is_still_read_for_one_release(
    api: httpx.AsyncClient, demo: Engine
) -> None:
    """2^53 itself is read exactly by every client, so it is taken as the id it names:
    the call reaches the rules (no such BC), not the input check."""
    before = dump(demo)
    answer = await api.post(
        "/requests", json={"bc_id": JSON_SAFE_MAX, "shop_code": S1_SHOP, "as": ANA}
    )
    assert error_of(answer) == (404, "unknown_bc"), answer.text
    assert answer.json()["error"]["details"]["bc_id"] == str(JSON_SAFE_MAX)
    assert dump(demo) == before


@pytest.mark.parametrize(
    "sent", ["", "007", "7e18", " 7100000000000000001", "-1", "9223372036854775808", 1.0, True]
)
async def test_r30_an_id_that_is_not_a_string_of_digits_in_range_is_refused(
    api: httpx.AsyncClient, demo: Engine, sent: Any
) -> None:
    before = dump(demo)
    answer = await api.post("/requests", json={"bc_id": sent, "shop_code": S1_SHOP, "as": ANA})
    assert error_of(answer) == (400, "invalid_input"), answer.text
    fields = [e["field"] for e in answer.json()["error"]["details"]["errors"]]
    assert fields == ["body.bc_id"]
    assert dump(demo) == before


async def test_r30_an_id_in_a_path_or_query_is_read_as_its_digits(api: httpx.AsyncClient) -> None:
    exact = await api.get(f"/bcs/{AGENCY}/quota")
    assert exact.status_code == 200, exact.text
    assert exact.json()["bc_id"] == str(AGENCY)
    for bad in ("0", "07100000000000000001", "7.1e18"):
        assert error_of(await api.get(f"/bcs/{bad}/quota")) == (400, "invalid_input"), bad
