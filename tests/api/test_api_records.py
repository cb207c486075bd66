"""The ops API's webhook and audit calls (R26, R27): the CLI's
rules and codes over HTTP, refusals that move nothing, and the token's scope."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from sqlalchemy import Engine, text
from sqlmodel import col, func, select

from client.audit import export_text
from models.settings import Settings
from models.tables import AuditEvent, WebhookSubscription
from store import audit as chain
from store.audit_export import Scope
from store.db import read_session
from tests.api.conftest import BASE, Token, error_of
from tests.conftest import AGENCY, ANA, S1_SHOP, wait_until
from tests.test_audit_export import request_and_approve
from tests.test_webhooks import SECRET, Receiver, receiver
from tests.web.conftest import StoreSnapshot, snapshot

pytestmark = pytest.mark.asyncio(loop_scope="session")
__all__ = ["receiver"]  # the loopback receiver fixture (tests/test_webhooks.py)


@pytest_asyncio.fixture(loop_scope="session")
async def reader(
    app: FastAPI, settings: Settings, read_token: Token
) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client for /api/v1 carrying a ``read`` token."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url=settings.link_base_url + BASE,
        headers=read_token.headers,
    ) as client:
        yield client


def moved(engine: Engine) -> tuple[StoreSnapshot, int]:
    """What a refusal must leave as it was: the web tests' snapshot and the subscriptions."""
    with read_session(engine) as session:
        subs = int(session.exec(select(func.count()).select_from(WebhookSubscription)).one())
    return snapshot(engine), subs


def actors_of(engine: Engine, sub_id: str) -> list[tuple[str, str]]:
    with read_session(engine) as session:
        rows = session.exec(
            select(AuditEvent.action, AuditEvent.actor)
            .where(col(AuditEvent.entity_id) == sub_id)
            .order_by(col(AuditEvent.seq))
        ).all()
    return [(a, b) for a, b in rows]


# --- webhooks --------------------------------------------------------------------------------


async def test_r26_subscribe_deliver_replay_and_remove_over_http(
    api: httpx.AsyncClient, demo: Engine, receiver: Receiver
) -> None:
    added = await api.post(
        "/webhooks", json={"shop_code": S1_SHOP.lower(), "url": receiver.url, "secret": SECRET}
    )
    assert added.status_code == 201, added.text
    sub = added.json()
    assert sub["scope"] == {"shop_code": S1_SHOP} and sub["secret"] == SECRET
    assert sub["workflow_id"] == f"webhook-dispatcher:{sub['id']}"
    assert added.headers["location"] == f"/api/v1/webhooks/{sub['id']}"
    try:
        request_and_approve(demo)
        await wait_until(lambda: len(receiver.accepted) >= 3, what="three events delivered")
        assert receiver.bad_signatures == 0

        listed = (await api.get("/webhooks")).json()["subscriptions"]
        assert [s["id"] for s in listed] == [sub["id"]]
        assert "secret" not in listed[0]  # shown once, at creation
        one = await api.get(f"/webhooks/{sub['id']}")
        assert one.json() == listed[0]

        async def all_delivered() -> list[dict[str, Any]] | None:
            log = await api.get(f"/webhooks/{sub['id']}/deliveries", params={"limit": 10})
            rows: list[dict[str, Any]] = log.json()["deliveries"]
            return (
                rows if len(rows) == 3 and all(r["status"] == "delivered" for r in rows) else None
            )

        log = await wait_until(all_delivered, what="the log shows three events delivered")
        assert [r["event_id"] for r in log] == receiver.ids()[::-1]  # newest first
        newest = await api.get(f"/webhooks/{sub['id']}/deliveries", params={"limit": 1})
        assert [r["event_id"] for r in newest.json()["deliveries"]] == [log[0]["event_id"]]

        first = receiver.ids()[0]
        again = await api.post(f"/webhooks/{sub['id']}/deliveries/{first}/replay")
        assert again.status_code == 202, again.text
        assert again.json()["status"] == "replay" and again.json()["event_id"] == first
        assert again.headers["location"] == f"/api/v1/webhooks/{sub['id']}/deliveries"
        await wait_until(lambda: receiver.ids().count(first) == 2, what="the replay")
    finally:
        removed = await api.delete(f"/webhooks/{sub['id']}")
    assert removed.status_code == 200 and removed.json()["removed_at"]
    twice = await api.delete(f"/webhooks/{sub['id']}")
    assert twice.json()["removed_at"] == removed.json()["removed_at"]  # once is enough

    # An ops call names no user: the trail names the token (its name is "ops robot").
    assert actors_of(demo, sub["id"]) == [
        ("added", "api:ops robot"),
        ("replay_asked", "api:ops robot"),
        ("removed", "api:ops robot"),
    ]

    before = moved(demo)
    late = await api.post(f"/webhooks/{sub['id']}/deliveries/{first}/replay")
    assert error_of(late) == (409, "webhook_removed")
    assert sub["id"] in late.json()["error"]["details"]["subscription_id"]
    assert moved(demo) == before


@pytest.mark.parametrize(
    ("body", "status", "code", "words"),
    [
        ({"url": "https://crm.example/h"}, 400, "invalid_input", "exactly one"),
        (
            {"shop_code": S1_SHOP, "bc_id": str(AGENCY), "url": "https://crm.example/h"},
            400,
            "invalid_input",
            "exactly one",
        ),
        ({"shop_code": S1_SHOP, "url": "ftp://crm.example/h"}, 400, "invalid_input", "http"),
        (
            {"shop_code": S1_SHOP, "url": "https://crm.example/h", "secret": "short"},
            400,
            "invalid_input",
            "24 to 64",
        ),
        # R31: an internal address, in a spelling of its own; refused before any traffic.
        ({"shop_code": S1_SHOP, "url": "https://0x0a000005/h"}, 400, "invalid_input", "R31"),
        ({"shop_code": "NOPE", "url": "https://crm.example/h"}, 404, "unknown_shop_code", "code"),
        ({"bc_id": 42, "url": "https://crm.example/h"}, 404, "unknown_bc", "42"),
        ({"shop_code": S1_SHOP, "url": "https://x.example", "as": ANA}, 400, "invalid_input", "as"),
    ],
)
async def test_r26_refused_subscriptions_move_nothing(
    api: httpx.AsyncClient,
    demo: Engine,
    body: dict[str, Any],
    status: int,
    code: str,
    words: str,
) -> None:
    before = moved(demo)
    answer = await api.post("/webhooks", json=body)
    assert error_of(answer) == (status, code)
    assert words in answer.json()["error"]["message"]
    assert moved(demo) == before


async def test_r26_unknown_subscription_and_event_are_named(
    api: httpx.AsyncClient, demo: Engine
) -> None:
    before = moved(demo)
    for answer in (
        await api.get("/webhooks/whk_nope"),
        await api.get("/webhooks/whk_nope/deliveries"),
        await api.delete("/webhooks/whk_nope"),
        await api.post("/webhooks/whk_nope/deliveries/evt_1/replay"),
    ):
        assert error_of(answer) == (404, "unknown_webhook")
        assert answer.json()["error"]["details"] == {"subscription_id": "whk_nope"}
    bad_limit = await api.get("/webhooks/whk_nope/deliveries", params={"limit": 0})
    assert error_of(bad_limit) == (400, "invalid_input")
    assert moved(demo) == before


async def test_r26_replaying_an_event_the_log_lacks_is_refused(
    api: httpx.AsyncClient, demo: Engine
) -> None:
    added = await api.post("/webhooks", json={"bc_id": str(AGENCY), "url": "http://127.0.0.1:9/h"})
    sub_id = added.json()["id"]
    try:
        before = moved(demo)
        answer = await api.post(f"/webhooks/{sub_id}/deliveries/evt_999999/replay")
        assert error_of(answer) == (404, "unknown_webhook_event")
        assert answer.json()["error"]["details"]["event_id"] == "evt_999999"
        assert moved(demo) == before
    finally:
        await api.delete(f"/webhooks/{sub_id}")


async def test_a_read_token_reads_and_cannot_change(
    reader: httpx.AsyncClient, api: httpx.AsyncClient, demo: Engine
) -> None:
    added = await api.post("/webhooks", json={"bc_id": str(AGENCY), "url": "http://127.0.0.1:9/h"})
    sub_id = added.json()["id"]
    try:
        before = moved(demo)
        assert (await reader.get("/webhooks")).status_code == 200
        assert (await reader.get(f"/webhooks/{sub_id}")).status_code == 200
        assert (await reader.get(f"/webhooks/{sub_id}/deliveries")).status_code == 200
        exported = await reader.get("/audit/export", params={"bc_id": str(AGENCY)})
        assert exported.status_code == 200
        # Verifying reads only: a read token may check what it may export.
        checked = await reader.post("/audit/verify", content=exported.content)
        assert checked.status_code == 200 and checked.json()["ok"] is True
        for answer in (
            await reader.post("/webhooks", json={"bc_id": str(AGENCY), "url": "http://x.example"}),
            await reader.delete(f"/webhooks/{sub_id}"),
            await reader.post(f"/webhooks/{sub_id}/deliveries/evt_1/replay"),
        ):
            assert error_of(answer) == (403, "scope_required")
            assert answer.json()["error"]["details"] == {"scope": "act"}
        assert moved(demo) == before
        assert (await reader.get(f"/webhooks/{sub_id}")).json()["removed_at"] is None
    finally:
        await api.delete(f"/webhooks/{sub_id}")


# --- audit -----------------------------------------------------------------------------------


async def test_r27_export_is_the_cli_file_and_verify_names_the_bad_line(
    api: httpx.AsyncClient, demo: Engine
) -> None:
    request_and_approve(demo)
    answer = await api.get("/audit/export", params={"shop_code": S1_SHOP.lower()})
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/x-ndjson"
    made = export_text(demo, Scope(shop_code=S1_SHOP))  # what `audit export` writes
    file = "".join(made.body)
    # The same file but for the trailer's time of export and so its signature (R32).
    assert answer.text.splitlines()[:-1] == file.splitlines()[:-1]
    assert answer.headers["audit-export-lines"] == str(made.lines)
    assert answer.headers["audit-export-head"] == made.head

    ok = await api.post("/audit/verify", content=answer.content)
    assert ok.json() == {
        "ok": True,
        "scope": {"shop_code": S1_SHOP},
        "lines": made.lines,
        "head": made.head,
        "against_store": True,
        "signed_by": json.loads(file.splitlines()[-1])["key_id"],
    }
    later = await api.get("/audit/export", params={"shop_code": S1_SHOP, "since": "2999-01-01"})
    assert later.headers["audit-export-lines"] == "0"

    lines = answer.text.splitlines()
    lines[2] = lines[2].replace(ANA, "mallory@example.com")
    before = moved(demo)
    bad = await api.post("/audit/verify", content="\n".join(lines) + "\n")
    assert error_of(bad) == (422, "audit_line_altered")
    assert "line 3" in bad.json()["error"]["message"].lower()
    assert bad.json()["error"]["details"] == {"line": 3}
    dropped = await api.post(
        "/audit/verify", content="\n".join(lines[:2] + lines[3:]), params={"file_only": True}
    )
    assert error_of(dropped) == (422, "audit_line_out_of_chain")
    junk = await api.post("/audit/verify", content=b"\xff\xfe")
    assert error_of(junk) == (422, "audit_not_an_export")
    assert junk.json()["error"]["details"] == {"line": 1}
    assert moved(demo) == before


@pytest.mark.parametrize(
    ("params", "status", "code", "words"),
    [
        ({}, 400, "invalid_input", "exactly one"),
        ({"shop_code": S1_SHOP, "bc_id": str(AGENCY)}, 400, "invalid_input", "exactly one"),
        ({"shop_code": "NOPE"}, 404, "unknown_shop_code", "code"),
        ({"bc_id": 42}, 404, "unknown_bc", "42"),
        ({"bc_id": str(AGENCY), "since": "yesterday"}, 400, "invalid_input", "since"),
    ],
)
async def test_r27_refused_exports(
    api: httpx.AsyncClient,
    demo: Engine,
    params: dict[str, Any],
    status: int,
    code: str,
    words: str,
) -> None:
    answer = await api.get("/audit/export", params=params)
    assert error_of(answer) == (status, code)
    assert words in answer.json()["error"]["message"]


async def test_r27_head_is_what_the_cli_prints_and_export_ends_with(
    reader: httpx.AsyncClient, demo: Engine
) -> None:
    request_and_approve(demo)
    made = export_text(demo, Scope(shop_code=S1_SHOP))
    scoped = await reader.get("/audit/head", params={"shop_code": S1_SHOP.lower()})
    assert scoped.status_code == 200, scoped.text
    assert scoped.json() == {
        "scope": {"shop_code": S1_SHOP},
        "lines": made.lines,
        "head": made.head,
    }
    since = await reader.get("/audit/head", params={"bc_id": str(AGENCY), "since": "2999-01-01"})
    assert since.json()["lines"] == 0
    with read_session(demo) as session:
        top = chain.head(session)
    whole = await reader.get("/audit/head")
    assert whole.json() == {"seq": top.seq, "head": top.hash}

    before = moved(demo)
    refused: list[tuple[dict[str, Any], int, str, str]] = [
        ({"shop_code": S1_SHOP, "bc_id": str(AGENCY)}, 400, "invalid_input", "exactly one"),
        ({"since": "2026-12-01"}, 400, "invalid_input", "since needs a shop or a BC"),
        ({"shop_code": "NOPE"}, 404, "unknown_shop_code", "code"),
        ({"bc_id": 42}, 404, "unknown_bc", "42"),
    ]
    for params, status, code, words in refused:
        answer = await reader.get("/audit/head", params=params)
        assert error_of(answer) == (status, code), params
        assert words in answer.json()["error"]["message"], answer.json()
    assert moved(demo) == before


async def test_r27_chain_checked_over_http_names_the_row_altered_in_the_store(
    reader: httpx.AsyncClient, demo: Engine
) -> None:
    request_and_approve(demo)
    with read_session(demo) as session:
        top = chain.head(session)
    ok = await reader.get("/audit/chain")
    assert ok.status_code == 200
    assert ok.json() == {"ok": True, "seq": top.seq, "head": top.hash}

    with demo.begin() as conn:  # as tests/test_audit_export.py alters a row behind the API
        conn.execute(text("UPDATE audit_event SET actor = 'x@example.com' WHERE seq = 3"))
    before = moved(demo)
    broken = await reader.get("/audit/chain")
    assert error_of(broken) == (422, "audit_chain_broken")
    assert broken.json()["error"]["details"] == {"seq": 3}
    assert "3" in broken.json()["error"]["message"]
    assert moved(demo) == before
