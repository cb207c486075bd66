"""The append-only audit log (R21): every state change with its time and actor."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlmodel import Session

from models.tables import AuditEvent, utcnow

# A Core insert: the log is append-only and nothing reads the row back in the same
# transaction, so the ORM's unit of work would only add CPU (docs/performance.md).
_INSERT = insert(AuditEvent)


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
    session.exec(
        _INSERT,
        params={
            "at": at or utcnow(),
            "actor": actor,
            "entity": entity,
            "entity_id": str(entity_id),
            "action": action,
            "detail": json.dumps(detail, default=str, sort_keys=True),
        },
    )
