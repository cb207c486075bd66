"""Pydantic messages at every Temporal boundary: workflow input and result, signals,
updates, and activity inputs and results.

One model per message so fields can be added without breaking recorded histories. Keep this
module pure (stdlib, pydantic, enums): workflow code imports it inside the sandbox.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from models.enums import (
    DEFAULT_REMINDER_DAYS,
    Permission,
    Relationship,
    RequestMethod,
    RequestStatus,
    Scenario,
)
from models.fields import Id


class Message(BaseModel):
    model_config = {"frozen": False, "extra": "ignore"}


# --- the access-request workflow -------------------------------------------------------


class RequestInput(Message):
    """Starts one access request workflow (either method)."""

    request_id: str
    method: RequestMethod
    bc_id: Id
    shop_id: Id
    shop_code: str
    requested_by: str
    # Carried across continue-as-new; None on the first run.
    state: RequestState | None = None
    # R25: days after the last e-mail to the shop team (the first or a resend) when a
    # still-pending request reminds them; set by the starter from Settings (workflows read
    # no settings); a client that leaves it out gets the default policy.
    reminder_days: list[int] = Field(default_factory=lambda: list(DEFAULT_REMINDER_DAYS))


class RequestState(Message):
    """Everything a request workflow knows, carried whole across continue-as-new."""

    status: RequestStatus | None = None  # None until admitted
    approval_url: str | None = None
    created_at: datetime | None = None
    sends: int = 0  # sends recorded, the first e-mail included
    last_resend_at: datetime | None = None
    first_email_sent: bool = False
    decision: Decision | None = None
    granted: GrantResult | None = None
    requester_notified: bool = False
    competitor_signalled: bool = False
    superseded_by: str | None = None
    refusal_code: str | None = None
    refusal_message: str | None = None
    # The refusal's details for scripts (e.g. R4's ``resets_at``).
    refusal_details: dict[str, Any] | None = None
    # Approvals that arrived as plain signals (the Temporal UI), handled by the run loop.
    queued_approvals: list[ApproveRequest] = Field(default_factory=list)
    # Personal links asked for through the copied link, sent by the run loop (R7, R13).
    personal_links: list[SendPersonalLink] = Field(default_factory=list)
    # Mail activities that failed for good (the last few), shown in the summary.
    mail_failures: list[str] = Field(default_factory=list)
    # R22: the shop team's reason for declining, if they gave one.
    decline_reason: str | None = None
    decided_by: str | None = None
    # R25: reminders sent since the last e-mail to the shop team (a resend starts over).
    reminders_sent: int = 0
    # R23: the granted access's end-date timer has been started (or told the date).
    until_armed: bool = False


class RequestResult(Message):
    """What a finished request workflow returns."""

    request_id: str
    # A RequestStatus; "refused" when admission refused it; "failed" when admission
    # failed for a reason no retry heals (refusal_code is then invalid_data or
    # broken_invariant).
    status: str
    superseded_by: str | None = None
    refusal_code: str | None = None
    refusal_message: str | None = None
    # R22: the shop team's reason, when it declined with one.
    decline_reason: str | None = None


class AdmissionOutcome(Message):
    """Returned by the admission update: the request is pending, or it was refused."""

    request_id: str
    status: str
    approval_url: str | None = None
    refusal_code: str | None = None
    refusal_message: str | None = None


class WaitAdmission(Message):
    """Update sent with start: waits until admission decided (no fields yet)."""


class ResendRequest(Message):
    """Update: send the approval e-mail again, or take the link to copy (R8)."""

    by: str
    copy_link: bool = False


class ResendOutcome(Message):
    request_id: str
    channel: str
    approval_url: str
    seq: int


class CancelRequest(Message):
    """Update: the requesting BC's admin withdraws a pending request (R9 policy)."""

    by: str


class ApproveRequest(Message):
    """Update (or signal): a shop team member approves (R10, R12, R13).

    ``bc_id`` picks one of the seller's BCs (S3); ``new_bc_name`` and ``timezone`` create
    one (S2); neither applies when the shop already has a linked BC (S1). ``until`` (R23):
    the access granted ends then; stored with the grant in the deciding transaction.
    """

    by: str
    bc_id: Id | None = None
    new_bc_name: str | None = None
    timezone: str | None = None
    until: datetime | None = None


class DeclineRequest(Message):
    """Update: a shop team member declines a pending request, optionally saying why (R22)."""

    by: str
    reason: str | None = None


class Superseded(Message):
    """Signal: the other method's request for the same BC and shop was approved (R11)."""

    winner_request_id: str


class ApprovalOutcome(Message):
    request_id: str
    status: RequestStatus
    scenario: Scenario | None = None
    approving_bc_id: Id | None = None
    superseded_by: str | None = None
    relationship: Relationship | None = None
    permission: Permission | None = None
    already_decided: bool = False


class PersonalLinkRequest(Message):
    """Update: whoever holds the copied link asked for a personal link.

    ``member_id`` is the shop team member the typed address belongs to, or None: the
    address itself never enters the workflow's history (anyone may type anyone's). The
    caller sends this update for every address alike, so the answer never reveals who is
    on the team (no enumeration).
    """

    member_id: Id | None = None


class PersonalLinkAccepted(Message):
    request_id: str


# --- activities --------------------------------------------------------------------------


class AdmitRequest(Message):
    request_id: str
    method: RequestMethod
    bc_id: Id
    shop_id: Id
    requested_by: str
    workflow_id: str


class Admission(Message):
    request_id: str
    created_at: datetime
    approval_url: str


class RecordResend(Message):
    request_id: str
    seq: int
    by: str
    copy_link: bool


class SendRequestEmails(Message):
    """E-mail the shop team about send number ``seq`` of a request (R7, R8)."""

    request_id: str
    seq: int


class EmailsSent(Message):
    sent: int
    skipped: int = 0


class DecideApproval(Message):
    request_id: str
    by: str
    bc_id: Id | None = None
    new_bc_name: str | None = None
    timezone: str | None = None
    # R23: the end date written on the grant in the same transaction as the decision.
    until: datetime | None = None


class Decision(Message):
    request_id: str
    status: RequestStatus
    scenario: Scenario | None = None
    approving_bc_id: Id | None = None
    decided_by: str | None = None
    superseded_by: str | None = None
    # The other method's request this approval made expire, to be told by signal.
    expired_request_id: str | None = None
    expired_workflow_id: str | None = None
    # The access the approval granted (R14), written in the same transaction.
    grant: GrantResult | None = None


class GrantResult(Message):
    grant_id: Id
    bc_id: Id
    shop_id: Id
    relationship: Relationship
    permission: Permission
    # R23: when the grant ends, as the store holds it (None: no end date).
    ends_at: datetime | None = None


class CancelInput(Message):
    request_id: str
    by: str


class SendPersonalLink(Message):
    """E-mail a personal approval link to team member ``member_id`` if they are still on
    the shop's team (R13).

    ``window`` numbers the minute-long window the ask fell in: with the request and the
    recipient it is the business key, so a retry or a double submit never sends twice
    and a recipient gets at most one such mail a minute per request.
    """

    request_id: str
    window: int
    member_id: Id


class RequesterNotice(Message):
    """E-mail the requester about the outcome of their request (R14, R22)."""

    request_id: str
    kind: str  # "approved" or "declined"


class DeclineInput(Message):
    request_id: str
    by: str
    reason: str | None = None


class SendReminder(Message):
    """E-mail the shop team reminder ``n`` (1-based) about a request still pending after
    send number ``seq`` (R25). With the request and the recipient, (seq, n) is the
    business key: each reminder reaches each member once."""

    request_id: str
    seq: int
    n: int
    waited_days: int


RequestInput.model_rebuild()
RequestState.model_rebuild()
Decision.model_rebuild()
