"""``POST /reference-data`` (R26): ``starter.py load`` over HTTP. The same
checks and refusal as the CLI (tests/test_bad_input.py), nothing stored when refused, the
same counts ``load --json`` prints, and only an ``act`` token may load."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from sqlalchemy import Engine
from sqlmodel import col, select

from models.settings import Settings
from models.tables import AuditEvent, BusinessCenter, ShopTeamMember
from store.db import read_session
from store.people import find_shop_by_code, find_user
from tests.api.conftest import BASE, Token, error_of
from tests.conftest import AGENCY, DEMO, S1_SHOP
from tests.test_bad_input import TOO_BIG
from tests.test_bad_input import dump as dump_all

pytestmark = pytest.mark.asyncio(loop_scope="session")

NEW_BC = 7100000000000000099
SMALL: dict[str, Any] = {
    "users": [{"email": "Zoe@New-Brand.example", "name": "Zoe"}],
    "business_centers": [
        {
            "id": str(NEW_BC),
            "name": "New Brand BC",
            "type": "regular",
            "country": "GB",
            "timezone": "Europe/London",
            "members": [{"email": "zoe@new-brand.example", "role": "admin"}],
        }
    ],
    "shops": [
        {
            "code": "gbnewbrand9",
            "name": "New Brand",
            "location": "GB",
            "linked_bc": str(NEW_BC),
            "team": [{"email": "zoe@new-brand.example", "role": "owner"}],
        }
    ],
}


def dump(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's rows but the API's own bookkeeping (a token's last use, the keys)."""
    rows = dump_all(engine)
    for own in ("api_token", "api_idempotency"):
        rows.pop(own)
    return rows


@pytest_asyncio.fixture(loop_scope="session")
async def reader(
    app: FastAPI, settings: Settings, read_token: Token
) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url=settings.link_base_url + BASE,
        headers=read_token.headers,
    ) as client:
        yield client


async def test_a_small_document_loads_and_loading_it_again_changes_nothing(
    api: httpx.AsyncClient, demo: Engine
) -> None:
    answer = await api.post("/reference-data", json=SMALL)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"loaded": {"users": 1, "business_centers": 1, "shops": 1}}
    with read_session(demo) as session:
        zoe = find_user(session, "zoe@new-brand.example")
        shop = find_shop_by_code(session, "GBNEWBRAND9")
        bc = session.get(BusinessCenter, NEW_BC)
        assert zoe is not None and zoe.name == "Zoe"
        assert shop is not None and shop.linked_bc_id == NEW_BC
        assert bc is not None and bc.name == "New Brand BC"
        assert session.get(ShopTeamMember, (shop.id, zoe.id)) is not None
        actors = set(
            session.exec(
                select(AuditEvent.actor).where(col(AuditEvent.entity_id) == "GBNEWBRAND9")
            ).all()
        )
    assert actors == {"api:ops robot"}  # the audit trail names the token, as webhooks do
    before = dump(demo)
    again = await api.post("/reference-data", json=SMALL)
    assert again.json() == answer.json()
    assert dump(demo) == before


async def test_the_demo_document_answers_what_load_json_prints(
    api: httpx.AsyncClient, demo: Engine
) -> None:
    answer = await api.post("/reference-data", content=DEMO.read_bytes())
    assert answer.json() == {"loaded": {"users": 8, "business_centers": 5, "shops": 4}}


def _demo_with(section: str, index: int, field: str, value: Any) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DEMO.read_text())
    data[section][index][field] = value
    return data


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (_demo_with("business_centers", 0, "name", "Acme\r\nBcc: evil@x.example"), "U+000D"),
        (_demo_with("shops", 0, "name", "Shop\nTwo"), "U+000A"),
        (_demo_with("business_centers", 0, "id", TOO_BIG), "business_centers.0.id"),
        (_demo_with("shops", 0, "linked_bc", "seven"), "shops.0.linked_bc"),
        (_demo_with("business_centers", 1, "timezone", "Mars/Base"), "Mars/Base"),
        ({"users": {"email": "a@b.example"}}, "users: Input should be a valid array"),
        ("not json", "file: Invalid JSON"),
    ],
    ids=["bc-crlf", "shop-lf", "bc-id-2^64", "linked-bc-type", "timezone", "users-type", "junk"],
)
async def test_a_bad_document_is_refused_naming_the_problem_and_stores_nothing(
    api: httpx.AsyncClient, demo: Engine, body: Any, words: str
) -> None:
    before = dump(demo)
    content = body if isinstance(body, str) else json.dumps(body)
    answer = await api.post(
        "/reference-data", content=content, headers={"content-type": "application/json"}
    )
    assert error_of(answer) == (400, "invalid_input")
    error = answer.json()["error"]
    assert error["message"].startswith("The body is not valid reference data: "), error
    assert words in error["message"], error
    assert error["details"]["errors"], error
    assert dump(demo) == before  # nothing stored, audit log included


async def test_every_problem_is_named_at_once(api: httpx.AsyncClient, demo: Engine) -> None:
    data = _demo_with("shops", 0, "name", "Shop\nTwo")
    data["users"][0]["email"] = "not an address"
    answer = await api.post("/reference-data", json=data)
    assert error_of(answer) == (400, "invalid_input")
    fields = [e["field"] for e in answer.json()["error"]["details"]["errors"]]
    assert fields == ["users.0.email", "shops.0.name"]
    assert all(f in answer.json()["error"]["message"] for f in fields)


async def test_a_body_that_is_not_utf8_is_refused(api: httpx.AsyncClient, demo: Engine) -> None:
    before = dump(demo)
    answer = await api.post("/reference-data", content=b"\xff\xfe{}")
    assert error_of(answer) == (400, "invalid_input")
    assert "not UTF-8" in answer.json()["error"]["message"]
    assert dump(demo) == before


async def test_a_read_token_cannot_load(reader: httpx.AsyncClient, demo: Engine) -> None:
    before = dump(demo)
    answer = await reader.post("/reference-data", json=SMALL)
    assert error_of(answer) == (403, "scope_required")
    assert answer.json()["error"]["details"] == {"scope": "act"}
    assert dump(demo) == before
    with read_session(demo) as session:
        assert session.get(BusinessCenter, AGENCY) is not None
        assert find_shop_by_code(session, S1_SHOP) is not None
        assert find_shop_by_code(session, "GBNEWBRAND9") is None
        assert find_user(session, "zoe@new-brand.example") is None
