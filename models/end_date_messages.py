"""Messages of the access-end workflow (R23). Pure: workflow code imports it."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from models.fields import Id
from models.partner_messages import RemovalResult


class EndDateMessage(BaseModel):
    model_config = {"frozen": False, "extra": "ignore"}


class AccessEndInput(EndDateMessage):
    """Starts the timer of one grant. ``ends_at`` is the store's end date at start."""

    grant_id: Id
    ends_at: datetime | None = None


class AssignmentEndInput(EndDateMessage):
    """Starts the timer of one member assignment (R23)."""

    assignment_id: Id
    ends_at: datetime | None = None


class EndAssignment(EndDateMessage):
    assignment_id: Id
    ends_at: datetime


class SetEndDate(EndDateMessage):
    """Signal: the end date now stored for the grant; None once the seller cleared it."""

    ends_at: datetime | None = None


class EndDateState(EndDateMessage):
    grant_id: Id
    ends_at: datetime | None
    reminded_for: datetime | None = None
    status: str = "waiting"  # waiting | cleared | gone | ended | removed


class RemindEnding(EndDateMessage):
    """E-mail the partner's admins that the access ends at ``ends_at`` (once per date)."""

    grant_id: Id
    ends_at: datetime


class RemindAssignmentEnding(EndDateMessage):
    """E-mail the assigned member that the assignment ends at ``ends_at`` (once per date)."""

    assignment_id: Id
    ends_at: datetime


class EndGrant(EndDateMessage):
    grant_id: Id
    ends_at: datetime


class GrantEndOutcome(EndDateMessage):
    """What the store did at the end date.

    ``status``: ``not_due`` (the store holds another date: ``ends_at``), ``gone`` (already
    ended or cleared), ``ended`` (only this grant ended: the BC keeps the shop another
    way), ``remove`` (the R19 removal must run: ``removal`` describes it).
    """

    status: str
    ends_at: datetime | None = None
    shop_id: Id | None = None
    shop_code: str | None = None
    partner_bc_id: Id | None = None
    by: str | None = None


class EndDateResult(EndDateMessage):
    grant_id: Id  # the assignment's id for AssignmentEnd
    status: str
    removal: RemovalResult | None = None
