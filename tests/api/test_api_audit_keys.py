"""The audit signing keys over HTTP (R32, docs/audit.md): the public key that verifies an
export offline, an earlier one by its key id, and every key listed; the private half is
never in an answer."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import Engine, text

from client.audit import public_key, rotate_key, verify_export
from tests.api.conftest import error_of
from tests.conftest import S1_SHOP
from tests.test_audit_export import request_and_approve

pytestmark = pytest.mark.asyncio(loop_scope="session")


def keys_in_store(engine: Engine) -> list[tuple[object, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text("SELECT * FROM audit_signing_key"))]


async def test_r32_public_key_verifies_an_api_export_offline(
    api: httpx.AsyncClient, demo: Engine
) -> None:
    request_and_approve(demo)
    exported = await api.get("/audit/export", params={"shop_code": S1_SHOP})
    key = await api.get("/audit/public-key")
    assert key.status_code == 200, key.text
    assert key.headers["content-type"] == "application/x-pem-file"
    assert key.text.startswith("-----BEGIN PUBLIC KEY-----") and "PRIVATE" not in key.text
    key_id = key.headers["audit-key-id"]
    # With the PEM alone, no store: what `audit verify --public-key` does.
    checked = verify_export(exported.content, None, key.content)
    assert (checked.signed_by, checked.lines) == (
        key_id,
        int(exported.headers["audit-export-lines"]),
    )

    rotated = rotate_key(demo)
    now = await api.get("/audit/public-key")
    assert now.headers["audit-key-id"] == rotated.key_id
    old = await api.get("/audit/public-key", params={"key_id": key_id})
    assert (old.text, old.headers["audit-key-id"]) == (key.text, key_id)
    assert verify_export(exported.content, None, old.content).signed_by == key_id

    listed = await api.get("/audit/public-keys")
    assert [(k["key_id"], k["current"]) for k in listed.json()["keys"]] == [
        (rotated.key_id, True),
        (key_id, False),
    ]
    assert "PRIVATE" not in listed.text
    assert listed.json()["keys"][1]["retired_at"] is not None


async def test_r32_unknown_key_id_is_refused_and_changes_nothing(
    api: httpx.AsyncClient, demo: Engine
) -> None:
    public_key(demo)  # the first key exists
    before = keys_in_store(demo)
    unknown = await api.get("/audit/public-key", params={"key_id": "0123456789abcdef"})
    assert error_of(unknown) == (404, "unknown_audit_key")
    assert unknown.json()["error"]["details"] == {"key_id": "0123456789abcdef"}
    too_long = await api.get("/audit/public-key", params={"key_id": "x" * 33})
    assert error_of(too_long) == (400, "invalid_input")
    assert keys_in_store(demo) == before
