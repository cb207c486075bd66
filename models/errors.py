"""Stable refusal codes shared by the store, workflows, CLI and web pages.

A refusal is a business outcome, not a fault: the store raises :class:`Refusal`, activities
turn it into a non-retryable ``ApplicationError`` whose ``type`` is the code, and every
entry point maps the code back to the message a person reads. Scripts depend on the codes.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from models.wording import wording


class ErrorCode(StrEnum):
    NOT_BC_ADMIN = "not_bc_admin"
    BC_NOT_ELIGIBLE = "bc_not_eligible"
    SHOP_LOCATION_NOT_SUPPORTED = "shop_location_not_supported"
    DAILY_LIMIT_REACHED = "daily_limit_reached"
    UNKNOWN_SHOP_CODE = "unknown_shop_code"
    REQUEST_ALREADY_PENDING = "request_already_pending"
    ALREADY_HAS_ACCESS = "already_has_access"
    NOT_SHOP_TEAM = "not_shop_team"
    BC_ADMIN_REQUIRED = "bc_admin_required"
    REQUEST_NOT_PENDING = "request_not_pending"
    RESEND_TOO_SOON = "resend_too_soon"
    INVALID_INPUT = "invalid_input"
    UNKNOWN_REQUEST = "unknown_request"
    UNKNOWN_BC = "unknown_bc"
    UNKNOWN_USER = "unknown_user"
    SERVICE_UNAVAILABLE = "service_unavailable"
    # Partner side (R16-R19), documented in docs/partners.md.
    NOT_A_MEMBER = "not_a_member"
    PERMISSION_DENIED = "permission_denied"
    NOT_A_PARTNER = "not_a_partner"
    INVITATION_NOT_PENDING = "invitation_not_pending"
    INVITATION_ALREADY_PENDING = "invitation_already_pending"
    SHOP_NOT_HELD = "shop_not_held"
    ALREADY_A_MEMBER = "already_a_member"
    UNKNOWN_INVITATION = "unknown_invitation"
    UNKNOWN_AD_ACCOUNT = "unknown_ad_account"
    # Faults the ops CLI reports (docs/operations.md): not refusals by the rules.
    STORE_UNAVAILABLE = "store_unavailable"
    USAGE_ERROR = "usage_error"
    INTERNAL_ERROR = "internal_error"
    INTERRUPTED = "interrupted"
    # `starter.py doctor` found a broken part (docs/operations.md).
    CHECKS_FAILED = "checks_failed"
    # Faults that retrying cannot heal: bad stored data or a broken invariant.
    # Not refusals of what a person asked: the workflow ends "failed" (docs/operations.md).
    INVALID_DATA = "invalid_data"
    BROKEN_INVARIANT = "broken_invariant"
    # `starter.py audit verify` found a file that fails its check (R27, docs/audit.md);
    # details name the first bad ``line``.
    AUDIT_NOT_AN_EXPORT = "audit_not_an_export"
    AUDIT_LINE_ALTERED = "audit_line_altered"
    AUDIT_LINE_OUT_OF_CHAIN = "audit_line_out_of_chain"
    AUDIT_LINES_MISSING = "audit_lines_missing"
    AUDIT_STORE_MISMATCH = "audit_store_mismatch"
    AUDIT_CHAIN_BROKEN = "audit_chain_broken"
    # R32: the signed trailer does not hold (a file cut short and its trailer recomputed,
    # an altered signature, a key that did not sign it); a key id no key has.
    AUDIT_SIGNATURE_INVALID = "audit_signature_invalid"
    UNKNOWN_AUDIT_KEY = "unknown_audit_key"
    # Webhook subscriptions (R26, docs/webhooks.md).
    UNKNOWN_WEBHOOK = "unknown_webhook"
    UNKNOWN_WEBHOOK_EVENT = "unknown_webhook_event"
    WEBHOOK_REMOVED = "webhook_removed"
    # R23: an end date later than the grantor's own, or in the past.
    END_DATE_TOO_LATE = "end_date_too_late"
    END_DATE_PASSED = "end_date_passed"
    # Bulk requests (R24).
    UNKNOWN_BULK = "unknown_bulk"
    BULK_NOT_RUNNING = "bulk_not_running"
    # The ops HTTP API (R26, docs/api.md): the caller, not the rules, is refused.
    UNAUTHENTICATED = "unauthenticated"
    SCOPE_REQUIRED = "scope_required"
    RATE_LIMITED = "rate_limited"
    IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused"
    IDEMPOTENCY_KEY_IN_FLIGHT = "idempotency_key_in_flight"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    # A removal's progress asked by an id no removal has (GET /removals/{id}).
    UNKNOWN_REMOVAL = "unknown_removal"


FAULT_CODES = frozenset({ErrorCode.INVALID_DATA, ErrorCode.BROKEN_INVARIANT})
"""Error types that mean the data or the code is wrong, not that a rule refused."""


class Refusal(Exception):
    """A request the rules refuse. Carries a stable code and its details; the sentence
    for people comes from the catalogue in models/wording.py (``message`` is only for
    codes not yet catalogued)."""

    def __init__(self, code: ErrorCode | str, message: str | None = None, **details: Any) -> None:
        self.code = str(code)
        self.details = details
        self.message = wording(self.code, details, fallback=message)
        super().__init__(self.message)

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            body["details"] = self.details
        return {"error": body}
