"""One removal by its id (R19), as recorded when its grants ended: which workflow stops its
campaigns, and what the store says once it has finished. ``GET /removals/{id}`` reads it."""

from __future__ import annotations

import json
from datetime import datetime

from pydantic import BaseModel
from sqlalchemy import Engine

from models.tables import AccessRemoval, Shop
from store.db import read_session


class RemovalRecord(BaseModel):
    removal_id: str
    workflow_id: str
    shop_code: str
    partner_bc_id: int
    status: str  # RemovalStatus: "stopping" until the workflow records it "completed"
    ended_grant_ids: list[int]
    lost_bc_ids: list[int]
    campaigns_stopped: int
    started_at: datetime
    finished_at: datetime | None = None


def removal_record(engine: Engine, removal_id: str) -> RemovalRecord | None:
    """The removal ``removal_id``, or None when no removal has that id."""
    with read_session(engine) as session:
        removal = session.get(AccessRemoval, removal_id)
        shop = session.get(Shop, removal.shop_id) if removal else None
    if removal is None or shop is None:
        return None
    return RemovalRecord(
        removal_id=removal.id,
        workflow_id=removal.workflow_id,
        shop_code=shop.code,
        partner_bc_id=removal.partner_bc_id,
        status=str(removal.status),
        ended_grant_ids=json.loads(removal.ended_grant_ids),
        lost_bc_ids=json.loads(removal.lost_bc_ids),
        campaigns_stopped=removal.campaigns_stopped,
        started_at=removal.created_at,
        finished_at=removal.finished_at,
    )
