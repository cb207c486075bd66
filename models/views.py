"""Read models: what the CLI prints and the web pages show (R8, R15, R21)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from models.enums import RequestMethod, RequestStatus, SendChannel


class SendView(BaseModel):
    seq: int
    channel: SendChannel
    by: str
    at: datetime


class RequestView(BaseModel):
    request_id: str
    method: RequestMethod
    status: RequestStatus
    status_label: str
    bc_id: int
    bc_name: str
    shop_code: str
    shop_name: str
    requested_by: str
    created_at: datetime
    decided_at: datetime | None = None
    decided_by: str | None = None
    approving_bc_id: int | None = None
    superseded_by: str | None = None
    workflow_id: str
    sends: list[SendView] = []


STATUS_LABELS = {
    RequestStatus.PENDING: "Pending approval",
    RequestStatus.APPROVED: "Approved",
    RequestStatus.EXPIRED: "Expired",
    RequestStatus.REVOKED: "Access removed",
    RequestStatus.CANCELLED: "Cancelled",
    RequestStatus.DECLINED: "Declined",
}
