"""The API's error contract: every refusal and fault is ``{"error": {"code", "message",
"details"}}`` with a status fixed by the code, the same codes the CLI prints
(models/errors.py, docs/api.md)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from temporalio.service import RPCError

from models.errors import ErrorCode, Refusal
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
    code: str = Field(description="A stable code from docs/api.md; scripts branch on it.")
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
    body = ErrorEnvelope(error=ErrorBody(code=code, message=message, details=details or {}))
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
    codes listed and one example per status."""
    by_status: dict[int, list[str]] = {}
    for code in codes:
        by_status.setdefault(status_of(code), []).append(str(code))
    return {status: _documented_status(names) for status, names in sorted(by_status.items())}


def _documented_status(names: Iterable[str]) -> dict[str, Any]:
    names = list(names)
    example = Refusal(names[0])
    return {
        "model": ErrorEnvelope,
        "description": "Codes: " + ", ".join(f"`{n}`" for n in names),
        "content": {
            "application/json": {
                "example": {"error": {"code": example.code, "message": example.message}}
            }
        },
    }
