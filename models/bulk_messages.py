"""Pydantic messages of the bulk request workflow (R24) and the quota view.

Pure (stdlib, pydantic, enums): the workflow imports this module inside the sandbox.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from models.enums import RequestMethod
from models.fields import Id

# What became of one shop code. "queued": not tried yet; "cancelled": the bulk was
# cancelled before its turn (nothing was started for it).
CodeOutcome = Literal["queued", "admitted", "refused", "cancelled"]
# "running": admitting; "waiting": today's limit is used up, sleeping until it resets (R4);
# "completed": every code has a result; "cancelled": stopped by bulk-cancel.
BulkStatus = Literal["running", "waiting", "completed", "cancelled"]


class BulkMessageModel(BaseModel):
    model_config = {"frozen": False, "extra": "ignore"}


class CodeResult(BulkMessageModel):
    """One shop code's result: admitted with its request id, or refused with its code."""

    shop_code: str
    outcome: CodeOutcome = "queued"
    # Planned before the first attempt and kept, so a retried admission is the same
    # request (the store and the request workflow are idempotent on it).
    request_id: str | None = None
    refusal_code: str | None = None
    refusal_message: str | None = None


class BulkState(BulkMessageModel):
    """Everything the bulk workflow knows, carried whole across continue-as-new."""

    status: BulkStatus = "running"
    results: list[CodeResult] = Field(default_factory=list)
    next_index: int = 0
    waiting_until: datetime | None = None
    days_waited: int = 0
    cancelled_by: str | None = None


class BulkInput(BulkMessageModel):
    """Starts one bulk request: the codes in file order, already parsed and deduplicated."""

    bulk_id: str
    method: RequestMethod
    bc_id: Id
    requested_by: str
    shop_codes: list[str]
    # Carried across continue-as-new; None on the first run.
    state: BulkState | None = None


class BulkProgress(BulkMessageModel):
    """The ``progress`` query's answer and the workflow's result."""

    bulk_id: str
    bc_id: Id
    method: RequestMethod
    status: BulkStatus
    total: int
    admitted: int
    refused: int
    cancelled: int
    waiting_until: datetime | None = None
    results: list[CodeResult] = Field(default_factory=list)

    @property
    def done(self) -> int:
        return self.admitted + self.refused + self.cancelled


class CancelBulk(BulkMessageModel):
    by: str


class BulkAdmit(BulkMessageModel):
    """The activity's input: admit one shop code as an ordinary request."""

    bulk_id: str
    method: RequestMethod
    bc_id: Id
    shop_code: str
    requested_by: str
    request_id: str


class BulkAdmitOutcome(BulkMessageModel):
    """Admitted, refused for good, or "wait": R4's limit is reached until ``resets_at``."""

    kind: Literal["admitted", "refused", "wait"]
    request_id: str | None = None
    refusal_code: str | None = None
    refusal_message: str | None = None
    resets_at: datetime | None = None


class QuotaView(BulkMessageModel):
    """R4 for one BC today: how many requests are left and when the limit resets."""

    bc_id: Id
    timezone: str
    day: str
    limit: int
    used: int
    remaining: int
    resets_at: datetime
