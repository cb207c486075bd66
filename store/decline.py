"""R22: the shop team declines a pending request, in one transaction.

Decline is not an approval: it grants nothing and leaves the other method's request for
the same BC and shop alone (R11's race is between approvals only). R13 applies as for
approving: only a member of the shop's team may decide, anyone else changes nothing.
Idempotent on its business key (the request and who declined), because activities run at
least once.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from models.enums import RequestStatus
from models.reasons import require_reason
from models.tables import AccessRequest, Shop, utcnow
from store import audit
from store.request_records import not_pending, require_request
from store.scenarios import require_shop_team


def decline_request(
    session: Session,
    *,
    request_id: str,
    by: str,
    reason: str | None = None,
    now: datetime | None = None,
) -> AccessRequest:
    """Decline ``request_id`` as shop team member ``by`` with an optional ``reason``."""
    reason = require_reason(reason)
    request = require_request(session, request_id, lock=True)
    shop = session.get(Shop, request.shop_id)
    assert shop is not None
    decider = require_shop_team(session, shop, by)
    if request.status is RequestStatus.DECLINED and request.decided_by_user_id == decider.id:
        return request  # the same decline, retried
    if request.status is not RequestStatus.PENDING:
        raise not_pending(request)
    now = now or utcnow()
    request.status = RequestStatus.DECLINED
    request.decided_at = now
    request.decided_by_user_id = decider.id
    request.decline_reason = reason
    session.add(request)
    audit.record(
        session,
        actor=decider.email,
        entity="access_request",
        entity_id=request_id,
        action="declined",
        at=now,
        **({"reason": reason} if reason else {}),
    )
    session.flush()
    return request
