"""R4's daily quota as a read: how many requests a BC has left today, and when it resets.

Counts exactly what admission counts (store/request_records.py: every request admitted on the
BC's local day, both methods), so ``quota`` and a refusal never disagree.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, func, select

from models.bulk_messages import QuotaView
from models.enums import DAILY_REQUEST_LIMIT
from models.tables import AccessRequest, utcnow
from store.admission import local_day
from store.people import require_bc


def quota_today(session: Session, bc_id: int, *, now: datetime | None = None) -> QuotaView:
    """R4 for ``bc_id`` at ``now`` (default: the store's clock)."""
    bc = require_bc(session, bc_id)
    day, resets_at = local_day(now or utcnow(), bc.timezone)
    used = session.exec(
        select(func.count())
        .select_from(AccessRequest)
        .where(AccessRequest.bc_id == bc_id, AccessRequest.bc_local_day == day)
    ).one()
    return QuotaView(
        bc_id=bc_id,
        timezone=bc.timezone,
        day=day,
        limit=DAILY_REQUEST_LIMIT,
        used=used,
        remaining=max(0, DAILY_REQUEST_LIMIT - used),
        resets_at=resets_at,
    )
