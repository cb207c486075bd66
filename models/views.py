"""Read models: what the CLI prints and the web pages show (R8, R15, R21)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from models.enums import RequestMethod, RequestStatus, SendChannel
from models.fields import Id
from models.wording import N_


class SendView(BaseModel):
    seq: int
    channel: SendChannel
    by: str
    at: datetime


class TransitionView(BaseModel):
    """One change of a request, from the audit log (R15, R21): what, when, by whom."""

    action: str  # the audit action: requested, resent, approved, expired, revoked, ...
    label: str  # the same in a seller's words ("expired: req-… was approved first")
    at: datetime
    actor: str  # an e-mail, or "system" for changes no person made (R11, R23)
    superseded_by: str | None = None  # R11: the winner, on an expiry
    reason: str | None = None  # R22: the seller's reason, on a decline that gave one


class RequestView(BaseModel):
    request_id: str
    method: RequestMethod
    status: RequestStatus
    status_label: str
    bc_id: Id
    bc_name: str
    shop_code: str
    shop_name: str
    requested_by: str
    created_at: datetime
    decided_at: datetime | None = None
    decided_by: str | None = None
    approving_bc_id: Id | None = None
    superseded_by: str | None = None
    workflow_id: str
    sends: list[SendView] = []
    # R22: the shop team's reason, when it declined with one.
    decline_reason: str | None = None
    # R25: how long the request has waited (still pending) or waited (until decided).
    waited_seconds: int | None = None

    @property
    def waited(self) -> str:
        """``waited_seconds`` as people read it: "3 d 4 h", "5 h 2 min", "40 s"."""
        seconds = self.waited_seconds or 0
        days, rest = divmod(seconds, 86400)
        hours, rest = divmod(rest, 3600)
        if days:
            return f"{days} d {hours} h"
        if hours:
            return f"{hours} h {rest // 60} min"
        return f"{rest // 60} min" if rest >= 60 else f"{rest} s"

    # Filled by store.history.with_transitions where the whole story is shown (R21).
    transitions: list[TransitionView] = []


# Marked for the catalogue; pages show them translated (the |t filter, R28).
STATUS_LABELS = {
    RequestStatus.PENDING: N_("Pending approval"),
    RequestStatus.APPROVED: N_("Approved"),
    RequestStatus.EXPIRED: N_("Expired"),
    RequestStatus.REVOKED: N_("Access removed"),
    RequestStatus.CANCELLED: N_("Cancelled"),
    RequestStatus.DECLINED: N_("Declined"),
}


def _unset(value: object) -> bool:
    return value is None


class ScopeView(BaseModel):
    """What an audit export or a webhook subscription covers: one shop or one BC. Only
    the one set is written (``{"shop_code": …}`` or ``{"bc_id": "…"}``), the id as a string
    (R30)."""

    shop_code: str | None = Field(default=None, exclude_if=_unset)
    bc_id: Id | None = Field(default=None, exclude_if=_unset)

    def __str__(self) -> str:
        # How the CLI's human output has always shown a scope: {'shop_code': 'GB01'}.
        return str(self.model_dump())
