"""The ops API's OpenAPI schema (R26, docs/api.md): FastAPI's, finished so that it says
what the API really answers.

FastAPI documents a 422 ``HTTPValidationError`` for every call with input; ours answers a
bad body or query with 400 ``invalid_input`` in the error contract. And what the gate
(api/gate.py) does to every call (the bearer token, its rate, a POST's Idempotency-Key)
is nowhere in a route: it is added here, to every operation, so a route module written
later is documented without anyone remembering to.

The schema is committed as docs/openapi.json (tests/api/test_openapi.py keeps it equal to
the served one). Regenerate it with ``.venv/bin/python -m api.openapi --write``.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from api.deps import KEY_DESCRIPTION, KEY_HEADER, KEY_PATTERN
from api.errors import ErrorEnvelope, documented_status, status_of
from api.gate import MAX_KEY_LENGTH
from models.errors import ErrorCode as E

SCHEME = "token"

# What the gate can answer to any call: no live token, over its rate, the store down.
GATE_CODES = (E.UNAUTHENTICATED, E.RATE_LIMITED, E.STORE_UNAVAILABLE)
# And to a POST: a bad or reused Idempotency-Key, or its first call still running.
KEYED_CODES = (E.INVALID_INPUT, E.IDEMPOTENCY_KEY_REUSED, E.IDEMPOTENCY_KEY_IN_FLIGHT)
# Any call that changes something needs the act scope.
ACTING_CODES = (E.SCOPE_REQUIRED,)
READ_METHODS = frozenset({"get", "head", "options"})
METHODS = frozenset({"get", "put", "post", "delete", "patch", "head", "options", "trace"})

KEY_PARAMETER: dict[str, Any] = {
    "name": KEY_HEADER,
    "in": "header",
    "required": False,
    "description": KEY_DESCRIPTION,
    "schema": {
        "type": "string",
        "minLength": 1,
        "maxLength": MAX_KEY_LENGTH,
        "pattern": KEY_PATTERN,
        "title": KEY_HEADER,
    },
}


def build_schema(app: FastAPI) -> dict[str, Any]:
    """The finished schema of ``app`` (the API sub-app, paths relative to /api/v1)."""
    schema = get_openapi(
        title=app.title,
        version=app.version,
        openapi_version=app.openapi_version,
        description=app.description,
        routes=app.routes,
        servers=app.servers,
        tags=app.openapi_tags,
    )
    components = schema.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    schemas.update(_envelope_schemas())
    bearer = {
        "type": "http",
        "scheme": "bearer",
        "description": "An ops API token from `starter.py api-token create` (shown once).",
    }
    components.setdefault("securitySchemes", {})[SCHEME] = {
        **components.get("securitySchemes", {}).get(SCHEME, {}),
        **bearer,
    }
    schema["security"] = [{SCHEME: []}]
    for item in schema.get("paths", {}).values():
        for method, operation in item.items():
            if method in METHODS:
                _finish(method, operation)
    return schema


def _envelope_schemas() -> dict[str, Any]:
    found = ErrorEnvelope.model_json_schema(ref_template="#/components/schemas/{model}")
    defs = found.pop("$defs", {})
    return {**defs, "ErrorEnvelope": found}


def _finish(method: str, operation: dict[str, Any]) -> None:
    """Security, the Idempotency-Key and every error code the call can answer."""
    operation["security"] = [{SCHEME: []}]
    responses: dict[str, Any] = operation.setdefault("responses", {})
    codes: list[str] = []
    for error_status in [s for s in responses if s[:1] in "45"]:
        answer = responses.pop(error_status)
        codes.extend(answer.get("x-error-codes", ()))
    codes.extend(GATE_CODES)
    if operation.get("parameters") or operation.get("requestBody"):
        codes.append(E.INVALID_INPUT)  # our answer to what FastAPI documents as 422
    if any(p.get("in") == "path" for p in operation.get("parameters", ())):
        codes.append(E.NOT_FOUND)  # a value holding "/" (as %2F) lands on no route
    if method not in READ_METHODS:
        codes.extend(ACTING_CODES)
    for parameter in operation.get("parameters", ()):
        _not_null(parameter)
    if method == "post":
        codes.extend(KEYED_CODES)
        parameters = operation.setdefault("parameters", [])
        if not any(p.get("name") == KEY_HEADER for p in parameters):
            parameters.append(KEY_PARAMETER)
    by_status: dict[int, list[str]] = {}
    for name in dict.fromkeys(str(c) for c in codes):
        by_status.setdefault(status_of(name), []).append(name)
    for status, names in sorted(by_status.items()):
        responses[str(status)] = documented_status(names, schema=True)


def _not_null(parameter: dict[str, Any]) -> None:
    """An optional parameter is left out, never sent as null: ``X | None`` documents X."""
    schema = parameter.get("schema", {})
    kinds = schema.get("anyOf")
    if parameter.get("required") or not kinds:
        return
    kept = [k for k in kinds if k.get("type") != "null"]
    if len(kept) == 1 and len(kept) < len(kinds):
        del schema["anyOf"]
        schema.update(kept[0])


def install(app: FastAPI) -> None:
    """Serve the finished schema at the app's ``openapi_url`` (built once, on first ask)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build_schema(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
