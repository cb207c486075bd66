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
from models.fields import ID_PATTERN
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
        f"regenerate docs/errors.md (python -m cli.error_table --write): {missing}"
    )
    assert {c: int(s) for c, s in rows.items() if c in STATUS_OF} == STATUS_OF


def test_every_error_example_reads_as_a_real_refusal() -> None:
    """Examples carry details, so no sentence shows '?' where a value belongs."""
    assert set(STATUS_OF) <= set(EXAMPLES)
    for code in STATUS_OF:
        body = example_of(code)["error"]
        assert body["code"] == code
        assert "?" not in body["message"], (code, body["message"])


def _walk(node: Any, where: str = "") -> list[tuple[str, dict[str, Any]]]:
    """Every schema object in the document, with where it is."""
    found: list[tuple[str, dict[str, Any]]] = []
    if isinstance(node, dict):
        found.append((where, node))
        for key, value in node.items():
            found.extend(_walk(value, f"{where}/{key}"))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found.extend(_walk(value, f"{where}[{i}]"))
    return found


def _is_id_name(name: str) -> bool:
    return name in {"id", "linked_bc"} or name.endswith(("_id", "_ids"))


def test_r30_every_id_is_a_string_of_digits_and_every_bound_an_integer() -> None:
    """JSON numbers beyond 2^53 are rounded by JavaScript clients (and jq before 1.7): the
    schema types every id as a string with a digits pattern, and writes bounds as
    integers (once they were floats: "maximum": 9.223372036854776e+18)."""
    found = schema()
    ids: list[str] = []
    for where, node in _walk(found):
        for bound in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
            if bound in node:
                assert type(node[bound]) is int, (where, bound, node[bound])
        named: dict[str, Any] = dict(node.get("properties", {}))
        if node.get("in") in {"path", "query"}:
            named[node["name"]] = node["schema"]
        for name, prop in named.items():
            if not _is_id_name(name) or name in {"subscription_id", "event_id"}:
                continue
            kinds = [k for k in prop.get("anyOf", [prop]) if k.get("type") != "null"]
            for kind in kinds:
                if name.endswith("_ids"):
                    kind = kind["items"]
                if kind.get("type") == "string" and "pattern" not in kind:
                    continue  # a textual id (req_…, inv_…, whk_…): never a number
                assert kind.get("type") == "string", (where, name, kind)
                assert kind["pattern"] == ID_PATTERN, (where, name, kind)
                ids.append(f"{where}/{name}")
    # R30's ids are among them: a BC in a body, an answer and a path; an ad account.
    assert any(i.endswith("NewRequest/bc_id") for i in ids), ids
    assert any(i.endswith("RequestView/bc_id") for i in ids), ids
    assert any("/bcs/{bc_id}/shops" in i for i in ids), ids
    assert any(i.endswith("CampaignView/ad_account_id") for i in ids), ids
