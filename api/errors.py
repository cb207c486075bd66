"""The API's error contract: every refusal and fault is ``{"error": {"code", "message",
"details"}}`` with a status fixed by the code, the same codes the CLI prints
(models/errors.py; every code tabled in docs/errors.md)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from temporalio.service import RPCError

from models.errors import ErrorCode, Refusal
from models.fields import ids_as_strings
from store.db import StoreUnavailable

log = logging.getLogger(__name__)

E = ErrorCode
_STATUS_GROUPS: dict[int, tuple[ErrorCode, ...]] = {
    400: (E.INVALID_INPUT, E.USAGE_ERROR),
    401: (E.UNAUTHENTICATED,),
    403: (
        E.NOT_BC_ADMIN,
        E.NOT_SHOP_TEAM,
        E.BC_ADMIN_REQUIRED,
        E.NOT_A_MEMBER,
        E.PERMISSION_DENIED,
        E.NOT_A_PARTNER,
        E.SHOP_NOT_HELD,
        E.SCOPE_REQUIRED,
    ),
    404: (
        E.UNKNOWN_SHOP_CODE,
        E.UNKNOWN_REQUEST,
        E.UNKNOWN_BC,
        E.UNKNOWN_USER,
        E.UNKNOWN_INVITATION,
        E.UNKNOWN_AD_ACCOUNT,
        E.UNKNOWN_WEBHOOK,
        E.UNKNOWN_WEBHOOK_EVENT,
        E.UNKNOWN_BULK,
        E.NOT_FOUND,
        E.UNKNOWN_REMOVAL,
        E.UNKNOWN_AUDIT_KEY,
    ),
    405: (E.METHOD_NOT_ALLOWED,),
    409: (
        E.REQUEST_ALREADY_PENDING,
        E.ALREADY_HAS_ACCESS,
        E.REQUEST_NOT_PENDING,
        E.RESEND_TOO_SOON,
        E.DAILY_LIMIT_REACHED,
        E.INVITATION_NOT_PENDING,
        E.INVITATION_ALREADY_PENDING,
        E.ALREADY_A_MEMBER,
        E.WEBHOOK_REMOVED,
        E.BULK_NOT_RUNNING,
        E.IDEMPOTENCY_KEY_IN_FLIGHT,
    ),
    422: (
        E.BC_NOT_ELIGIBLE,
        E.SHOP_LOCATION_NOT_SUPPORTED,
        E.END_DATE_TOO_LATE,
        E.END_DATE_PASSED,
        E.IDEMPOTENCY_KEY_REUSED,
        E.INVALID_DATA,
        E.AUDIT_NOT_AN_EXPORT,
        E.AUDIT_LINE_ALTERED,
        E.AUDIT_LINE_OUT_OF_CHAIN,
        E.AUDIT_LINES_MISSING,
        E.AUDIT_STORE_MISMATCH,
        E.AUDIT_CHAIN_BROKEN,
        E.AUDIT_SIGNATURE_INVALID,
    ),
    429: (E.RATE_LIMITED,),
    500: (E.INTERNAL_ERROR, E.BROKEN_INVARIANT),
    503: (E.STORE_UNAVAILABLE, E.SERVICE_UNAVAILABLE),
}
STATUS_OF: dict[str, int] = {
    str(code): status for status, codes in _STATUS_GROUPS.items() for code in codes
}
UNLISTED_STATUS = 422  # a refusal code added later without a status here


class ErrorBody(BaseModel):
    code: str = Field(description="A stable code from docs/errors.md; scripts branch on it.")
    message: str = Field(description="The same sentence the CLI prints, for people.")
    details: dict[str, Any] = Field(
        default_factory=dict, description="The values the message names, as data."
    )


class ErrorEnvelope(BaseModel):
    error: ErrorBody


class ApiError(Exception):
    """A refusal of the caller (its token, its key, its rate), not of the rules."""

    def __init__(
        self,
        code: ErrorCode,
        message: str | None = None,
        headers: dict[str, str] | None = None,
        **details: Any,
    ) -> None:
        self.refusal = Refusal(code, message, **details)
        self.headers = headers or {}
        super().__init__(self.refusal.message)


def status_of(code: str) -> int:
    return STATUS_OF.get(code, UNLISTED_STATUS)


def error_json(
    code: str, message: str, details: dict[str, Any] | None = None, **kwargs: Any
) -> JSONResponse:
    # The ids a refusal names are strings, as in every answer (R30).
    found = ids_as_strings(details or {})
    body = ErrorEnvelope(error=ErrorBody(code=code, message=message, details=found))
    return JSONResponse(body.model_dump(mode="json"), status_code=status_of(code), **kwargs)


def _validation_details(err: RequestValidationError) -> dict[str, Any]:
    # The field and what is wrong, never the value sent (it may hold a secret or junk).
    return {
        "errors": [
            {"field": ".".join(str(p) for p in e.get("loc", ())), "problem": e.get("msg", "")}
            for e in err.errors()
        ]
    }


def error_response(err: BaseException) -> JSONResponse:
    """The JSON answer for any failure of an API call."""
    if isinstance(err, ApiError):
        r = err.refusal
        return error_json(r.code, r.message, r.details, headers=err.headers)
    if isinstance(err, Refusal):
        return error_json(err.code, err.message, err.details)
    if isinstance(err, RequestValidationError):
        details = _validation_details(err)
        fields = ", ".join(e["field"] for e in details["errors"]) or "the request"
        return error_json(E.INVALID_INPUT, f"Invalid input in {fields}.", details)
    if isinstance(err, StoreUnavailable):
        return error_json(E.STORE_UNAVAILABLE, err.message)
    if isinstance(err, RPCError):
        return error_json(
            E.SERVICE_UNAVAILABLE,
            f"Temporal answered {err.status.name}; try again shortly.",
        )
    log.error("API call failed", exc_info=err)
    return error_json(E.INTERNAL_ERROR, f"Unexpected {type(err).__name__}; see the service log.")


def documented(*codes: ErrorCode) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for an operation: each status its codes answer with, the
    codes listed (also as data, ``x-error-codes``) and one example per code."""
    by_status: dict[int, list[str]] = {}
    for code in codes:
        names = by_status.setdefault(status_of(code), [])
        if str(code) not in names:
            names.append(str(code))
    return {status: documented_status(names) for status, names in sorted(by_status.items())}


def documented_status(names: Iterable[str], *, schema: bool = False) -> dict[str, Any]:
    """One status's response object: FastAPI's form (``model``), or the finished OpenAPI
    form (``schema``: a ``$ref`` to ErrorEnvelope) for api/openapi.py."""
    names = sorted(set(names), key=lambda n: _CODE_ORDER.get(n, len(_CODE_ORDER)))
    examples = {n: {"summary": n, "value": example_of(n)} for n in names}
    media: dict[str, Any] = {"examples": examples}
    answer: dict[str, Any] = {
        "description": "Codes: " + ", ".join(f"`{n}`" for n in names),
        "x-error-codes": names,
        "content": {"application/json": media},
    }
    if schema:
        media["schema"] = {"$ref": "#/components/schemas/ErrorEnvelope"}
    else:
        answer["model"] = ErrorEnvelope
    return answer


def example_of(code: str) -> dict[str, Any]:
    """The error body a caller gets for ``code``, with believable details."""
    details, message = EXAMPLES.get(code, ({}, None))
    refusal = Refusal(code, message, **details)
    return {"error": {"code": refusal.code, "message": refusal.message, "details": details}}


_CODE_ORDER: dict[str, int] = {str(c): i for i, c in enumerate(ErrorCode)}

_BC = {"bc_id": 7001, "bc_name": "Agency One"}
_ANA = {"email": "ana@agency.example"}
_REQ = {"request_id": "req_0123456789abcdef0123"}
_SUB = {"subscription_id": "wh_0123456789abcdef"}
_AUDIT_LINE = {"line": 12}
_FIELD_ERROR = {"errors": [{"field": "body.bc_id", "problem": "Field required"}]}

EXAMPLES: dict[str, tuple[dict[str, Any], str | None]] = {
    # code -> (details, message when the catalogue has no sentence for the code)
    E.NOT_BC_ADMIN: ({"reason": "standard_member", **_ANA, **_BC}, None),
    E.BC_NOT_ELIGIBLE: (
        {
            "bc_id": 7001,
            "bc_type": "agency",
            "country": "FR",
            "eligible_countries": ["GB", "US", "SG"],
        },
        None,
    ),
    E.SHOP_LOCATION_NOT_SUPPORTED: (
        {"location": "JP", "supported_locations": ["GB", "US", "SG"]},
        None,
    ),
    E.DAILY_LIMIT_REACHED: (
        {
            "bc_id": 7001,
            "limit": 20,
            "day": "2026-12-01",
            "timezone": "Europe/London",
            "resets_at": "2026-12-02T00:00:00+00:00",
        },
        None,
    ),
    E.UNKNOWN_SHOP_CODE: ({"shop_code": "GB-NOPE"}, None),
    E.REQUEST_ALREADY_PENDING: ({"shop_code": "GB-S1SHOP", **_REQ}, None),
    E.ALREADY_HAS_ACCESS: (
        {"bc_id": 7001, "shop_code": "GB-S1SHOP", "relationship": "partner", "permission": "full"},
        None,
    ),
    E.NOT_SHOP_TEAM: ({**_ANA, "shop_code": "GB-S1SHOP"}, None),
    E.BC_ADMIN_REQUIRED: (
        {"reason": "s3_not_admin", "bc_id": 7002, "bc_choices": ["7003 (Seller BC)"]},
        None,
    ),
    E.REQUEST_NOT_PENDING: ({**_REQ, "status": "approved"}, None),
    E.RESEND_TOO_SOON: ({"retry_after_seconds": 42}, None),
    E.INVALID_INPUT: (_FIELD_ERROR, "Invalid input in body.bc_id."),
    E.UNKNOWN_REQUEST: (_REQ, None),
    E.UNKNOWN_BC: ({"bc_id": 7999}, None),
    E.UNKNOWN_USER: ({"email": "nobody@agency.example"}, None),
    E.SERVICE_UNAVAILABLE: ({"reason": "no_answer", "timeout_seconds": 20}, None),
    E.NOT_A_MEMBER: ({"reason": "assign", **_ANA, **_BC}, None),
    E.PERMISSION_DENIED: ({"reason": "not_the_invitee", "invitation_id": "inv_0123abcd"}, None),
    E.NOT_A_PARTNER: ({"reason": "of_shop", **_BC, "shop_code": "GB-S1SHOP"}, None),
    E.INVITATION_NOT_PENDING: ({"invitation_id": "inv_0123abcd", "status": "accepted"}, None),
    E.INVITATION_ALREADY_PENDING: ({**_ANA, "invitation_id": "inv_0123abcd", "bc_id": 7001}, None),
    E.SHOP_NOT_HELD: ({**_BC, "shop_code": "GB-S1SHOP"}, None),
    E.ALREADY_A_MEMBER: ({**_ANA, **_BC}, None),
    E.UNKNOWN_INVITATION: ({"invitation_id": "inv_0123abcd"}, None),
    E.UNKNOWN_AD_ACCOUNT: ({"ad_account_id": 9001}, None),
    E.STORE_UNAVAILABLE: (
        {},
        "The store could not be reached; check DATABASE_URL and that the database is up.",
    ),
    E.USAGE_ERROR: ({}, "This call needs exactly one of bc_id and shop_code."),
    E.INTERNAL_ERROR: ({}, "Unexpected KeyError; see the service log."),
    E.INVALID_DATA: ({}, "Stored data is not valid: shop 12 has no owner."),
    E.BROKEN_INVARIANT: ({}, "A rule the store keeps was found broken; see the service log."),
    E.AUDIT_NOT_AN_EXPORT: ({"line": 1}, None),
    E.AUDIT_LINE_ALTERED: (_AUDIT_LINE, None),
    E.AUDIT_LINE_OUT_OF_CHAIN: (_AUDIT_LINE, None),
    E.AUDIT_LINES_MISSING: (_AUDIT_LINE, None),
    E.AUDIT_STORE_MISMATCH: (_AUDIT_LINE, None),
    E.AUDIT_CHAIN_BROKEN: ({"seq": 311}, None),
    E.AUDIT_SIGNATURE_INVALID: ({**_AUDIT_LINE, "key_id": "3f9a0c1b2d4e5f60"}, None),
    E.UNKNOWN_AUDIT_KEY: ({"key_id": "3f9a0c1b2d4e5f60"}, None),
    E.UNKNOWN_WEBHOOK: (_SUB, None),
    E.UNKNOWN_WEBHOOK_EVENT: ({**_SUB, "event_id": "evt_0123456789abcdef"}, None),
    E.WEBHOOK_REMOVED: (_SUB, None),
    E.END_DATE_TOO_LATE: (
        {
            "ends_at": "2027-03-31",
            "bc_id": 7001,
            "shop_code": "GB-S1SHOP",
            "own_ends_at": "2027-01-31",
        },
        None,
    ),
    E.END_DATE_PASSED: ({"ends_at": "2026-01-31"}, None),
    E.UNKNOWN_BULK: ({"bulk_id": "bulk_0123abcd"}, None),
    E.UNKNOWN_REMOVAL: ({"removal_id": "rem_0123abcd"}, None),
    E.BULK_NOT_RUNNING: ({"bulk_id": "bulk_0123abcd", "status": "completed"}, None),
    E.UNAUTHENTICATED: ({}, None),
    E.SCOPE_REQUIRED: ({"scope": "act"}, None),
    E.RATE_LIMITED: ({"limit": 120, "retry_after": 17}, None),
    E.IDEMPOTENCY_KEY_REUSED: ({"key": "6f1c0b6e-3f57-4b7e-9a55-2d1f0e9c8a41"}, None),
    E.IDEMPOTENCY_KEY_IN_FLIGHT: ({"key": "6f1c0b6e-3f57-4b7e-9a55-2d1f0e9c8a41"}, None),
    E.NOT_FOUND: ({"path": "/api/v1/nowhere"}, None),
    E.METHOD_NOT_ALLOWED: ({"method": "DELETE", "path": "/api/v1/requests"}, None),
}
"""Example details per code for the schema's examples (a refusal without its details
would read "?" where a value belongs)."""
