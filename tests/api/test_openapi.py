"""The ops API's OpenAPI schema (R26): served as committed, and saying what
the API really does: every call needs the bearer token, every POST takes an
Idempotency-Key, and every error code an operation lists is a real, documented one."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest

from api.errors import EXAMPLES, STATUS_OF, example_of
from api.openapi import COMMITTED, REGENERATE, schema
from models.errors import ErrorCode
from tests.api.conftest import BASE

DOCS = COMMITTED.parent / "api.md"
METHODS = {"get", "put", "post", "delete", "patch"}


def operations(found: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, op)
        for path, item in found["paths"].items()
        for method, op in item.items()
        if method in METHODS
    ]


@pytest.mark.asyncio(loop_scope="session")
async def test_the_served_schema_is_the_committed_one(http: httpx.AsyncClient) -> None:
    """Without a token, as the docs page fetches it."""
    answer = await http.get(BASE + "/openapi.json")
    assert answer.status_code == 200, answer.text
    committed = json.loads(COMMITTED.read_text(encoding="utf-8"))
    assert answer.json() == committed, f"docs/openapi.json is stale: run {REGENERATE}"
    assert answer.json()["servers"] == [{"url": "/api/v1"}]
    docs = await http.get(BASE + "/docs")
    assert docs.status_code == 200 and "openapi.json" in docs.text


def test_every_operation_needs_the_token_and_lists_its_codes() -> None:
    found = schema()
    assert found["components"]["securitySchemes"]["token"]["scheme"] == "bearer"
    assert "HTTPValidationError" not in found["components"]["schemas"]
    known = {str(c) for c in ErrorCode}
    assert operations(found)
    for method, path, op in operations(found):
        where = f"{method.upper()} {path}"
        assert op["security"] == [{"token": []}], where
        errors = {s: r for s, r in op["responses"].items() if s[:1] in "45"}
        assert "422" not in errors or "HTTPValidationError" not in json.dumps(errors["422"])
        for status, answer in errors.items():
            codes = answer["x-error-codes"]
            assert set(codes) <= known, (where, codes)
            assert all(STATUS_OF[c] == int(status) for c in codes), (where, status, codes)
            ref = answer["content"]["application/json"]["schema"]["$ref"]
            assert ref == "#/components/schemas/ErrorEnvelope", where
            examples = answer["content"]["application/json"]["examples"]
            assert sorted(examples) == sorted(codes), where
        listed = {c for answer in errors.values() for c in answer["x-error-codes"]}
        assert {"unauthenticated", "rate_limited", "store_unavailable"} <= listed, where
        if op.get("parameters") or op.get("requestBody"):
            assert "invalid_input" in listed, where  # our 400, not FastAPI's 422
        if method == "post":
            keys = [p for p in op.get("parameters", []) if p["name"] == "Idempotency-Key"]
            assert len(keys) == 1 and keys[0]["in"] == "header", where
            assert {"idempotency_key_reused", "scope_required"} <= listed, where


def test_every_error_code_is_in_the_docs_table() -> None:
    """docs/errors.md (the one table, generated) lists every code the API can answer."""
    table = (DOCS.parent / "errors.md").read_text(encoding="utf-8")
    rows = dict(re.findall(r"^\| `([a-z_]+)` \| (\d{3}) \|", table, flags=re.M))
    missing = sorted(set(STATUS_OF) - set(rows))
    assert missing == [], (
        f"regenerate docs/errors.md (python -m service.error_table --write): {missing}"
    )
    assert {c: int(s) for c, s in rows.items() if c in STATUS_OF} == STATUS_OF


def test_every_error_example_reads_as_a_real_refusal() -> None:
    """Examples carry details, so no sentence shows '?' where a value belongs."""
    assert set(STATUS_OF) <= set(EXAMPLES)
    for code in STATUS_OF:
        body = example_of(code)["error"]
        assert body["code"] == code
        assert "?" not in body["message"], (code, body["message"])
