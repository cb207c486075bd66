"""A request's record after admission: finding it, resends (R8) and cancelling (R9 policy).

Admission lives in store/admission.py, the seller's decision in store/approval.py and the
grant in store/grants.py. Every change here is idempotent on its business key, because
activities run at least once.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from sqlmodel import Session, func, select

from models.enums import RESEND_EMAIL_MIN_INTERVAL_SECONDS, RequestStatus, SendChannel
from models.errors import ErrorCode, Refusal
from models.tables import AccessRequest, RequestSend, utcnow
from store import audit
from store.people import require_bc, require_bc_admin


def unknown_request(request_id: str) -> Refusal:
    return Refusal(ErrorCode.UNKNOWN_REQUEST, request_id=request_id)


def not_pending(request: AccessRequest) -> Refusal:
    """The refusal for changing a decided request; names the winner of a lost race (R11)."""
    details: dict[str, Any] = {"request_id": request.id, "status": request.status.value}
    if request.superseded_by:
        details.update(reason="superseded", superseded_by=request.superseded_by)
    return Refusal(ErrorCode.REQUEST_NOT_PENDING, **details)


def find_request(session: Session, *, request_id: str) -> AccessRequest | None:
    return session.get(AccessRequest, request_id)


def require_request(session: Session, request_id: str, *, lock: bool = False) -> AccessRequest:
    query = select(AccessRequest).where(AccessRequest.id == request_id)
    if lock:
        query = query.with_for_update()
    request = session.exec(query).first()
    if request is None:
        raise unknown_request(request_id)
    return request


def require_pending_request(session: Session, *, request_id: str) -> AccessRequest:
    """The request, if it exists and is still pending; otherwise the refusal callers get."""
    request = find_request(session, request_id=request_id)
    if request is None:
        raise unknown_request(request_id)
    if request.status is not RequestStatus.PENDING:
        raise not_pending(request)
    return request


def check_resend_interval(session: Session, *, request_id: str, now: datetime) -> None:
    """R8: an e-mail resend at most once a minute (a copied link any time)."""
    last = session.exec(
        select(func.max(RequestSend.at)).where(
            RequestSend.request_id == request_id,
            RequestSend.channel == SendChannel.RESEND_EMAIL,
        )
    ).one()
    if last is None:
        return
    wait = RESEND_EMAIL_MIN_INTERVAL_SECONDS - (now - last).total_seconds()
    if wait > 0:
        raise Refusal(ErrorCode.RESEND_TOO_SOON, retry_after_seconds=math.ceil(wait))


def record_resend(
    session: Session,
    *,
    request_id: str,
    seq: int,
    by: str,
    copy_link: bool,
    now: datetime | None = None,
) -> RequestSend:
    """R8: a resend by e-mail (at most one a minute after the first) or a copied link."""
    done = session.exec(
        select(RequestSend).where(RequestSend.request_id == request_id, RequestSend.seq == seq)
    ).first()
    if done is not None:
        return done
    now = now or utcnow()
    request = require_request(session, request_id, lock=True)
    bc = require_bc(session, request.bc_id)
    user = require_bc_admin(session, bc, by)
    if request.status is not RequestStatus.PENDING:
        raise not_pending(request)
    channel = SendChannel.COPY_LINK if copy_link else SendChannel.RESEND_EMAIL
    if channel is SendChannel.RESEND_EMAIL:
        check_resend_interval(session, request_id=request_id, now=now)
    assert user.id is not None
    send = RequestSend(request_id=request_id, seq=seq, channel=channel, by_user_id=user.id, at=now)
    session.add(send)
    audit.record(
        session,
        actor=user.email,
        entity="access_request",
        entity_id=request_id,
        action="resent" if channel is SendChannel.RESEND_EMAIL else "link_copied",
        at=now,
        seq=seq,
    )
    session.flush()
    return send


def cancel_request(
    session: Session, *, request_id: str, by: str, now: datetime | None = None
) -> AccessRequest:
    """R9 policy: an admin of the requesting BC withdraws a pending request."""
    request = require_request(session, request_id, lock=True)
    bc = require_bc(session, request.bc_id)
    user = require_bc_admin(session, bc, by)
    if request.status is RequestStatus.CANCELLED and request.decided_by_user_id == user.id:
        return request  # the same cancel, retried
    if request.status is not RequestStatus.PENDING:
        raise not_pending(request)
    now = now or utcnow()
    request.status = RequestStatus.CANCELLED
    request.decided_at = now
    request.decided_by_user_id = user.id
    session.add(request)
    audit.record(
        session,
        actor=user.email,
        entity="access_request",
        entity_id=request_id,
        action="cancelled",
        at=now,
    )
    session.flush()
    return request
