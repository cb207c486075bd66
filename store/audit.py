"""The append-only audit log (R21): every state change with its time and actor."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlmodel import Session

from models.tables import AuditEvent, utcnow


def record(
    session: Session,
    *,
    actor: str,
    entity: str,
    entity_id: str | int,
    action: str,
    at: datetime | None = None,
    **detail: Any,
) -> None:
    session.add(
        AuditEvent(
            at=at or utcnow(),
            actor=actor,
            entity=entity,
            entity_id=str(entity_id),
            action=action,
            detail=json.dumps(detail, default=str, sort_keys=True),
        )
    )
