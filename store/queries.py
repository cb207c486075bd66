"""Reads for the CLI and the web pages. The store is the record, so these never ask Temporal."""

from __future__ import annotations

from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from models.tables import AccessRequest, BusinessCenter, RequestSend, Shop, User, utcnow
from models.views import STATUS_LABELS, RequestView, SendView
from store.request_records import unknown_request

_REQUESTER = aliased(User)
_DECIDER = aliased(User)
# Built once, and columns rather than entities: constructing this join (two aliases) cost
# more than running it, and loading three ORM entities per row as much again.
_VIEWS = (
    select(  # type: ignore[call-overload]
        col(AccessRequest.id).label("request_id"),
        AccessRequest.method,
        AccessRequest.status,
        AccessRequest.created_at,
        AccessRequest.decided_at,
        AccessRequest.approving_bc_id,
        AccessRequest.superseded_by,
        AccessRequest.workflow_id,
        AccessRequest.decline_reason,
        col(BusinessCenter.id).label("bc_id"),
        col(BusinessCenter.name).label("bc_name"),
        col(Shop.code).label("shop_code"),
        col(Shop.name).label("shop_name"),
        col(_REQUESTER.email).label("requested_by"),
        col(_DECIDER.email).label("decided_by"),
    )
    .join(BusinessCenter, BusinessCenter.id == AccessRequest.bc_id)
    .join(Shop, Shop.id == AccessRequest.shop_id)
    .join(_REQUESTER, _REQUESTER.id == AccessRequest.requested_by_user_id)
    .outerjoin(_DECIDER, _DECIDER.id == AccessRequest.decided_by_user_id)
    .order_by(col(AccessRequest.created_at).desc(), col(AccessRequest.id))
)


def _views(session: Session, where: list, *, with_sends: bool) -> list[RequestView]:
    rows = session.exec(_VIEWS.where(*where)).all()
    sends: dict[str, list[SendView]] = {}
    if with_sends and rows:
        ids = [row.request_id for row in rows]
        for send, email in session.exec(
            select(RequestSend, User.email)
            .join(User, User.id == RequestSend.by_user_id)  # type: ignore[arg-type]
            .where(col(RequestSend.request_id).in_(ids))
            .order_by(col(RequestSend.seq))
        ).all():
            sends.setdefault(send.request_id, []).append(
                SendView(seq=send.seq, channel=send.channel, by=email, at=send.at)
            )
    now = utcnow()
    return [
        RequestView(
            **row._mapping,
            status_label=STATUS_LABELS[row.status],
            sends=sends.get(row.request_id, []),
            # R25: a pending request's wait runs on; a decided one's ended with it.
            waited_seconds=max(0, int(((row.decided_at or now) - row.created_at).total_seconds())),
        )
        for row in rows
    ]


def request_view(session: Session, request_id: str, *, with_sends: bool = True) -> RequestView:
    found = _views(session, [AccessRequest.id == request_id], with_sends=with_sends)
    if not found:
        raise unknown_request(request_id)
    return found[0]


def requests_for_bc(session: Session, bc_id: int) -> list[RequestView]:
    """R8: the BC's shop list, pending ones labelled "Pending approval"."""
    return _views(session, [AccessRequest.bc_id == bc_id], with_sends=False)


def requests_for_shop(session: Session, shop_id: int) -> list[RequestView]:
    """R15: every request ever made for the shop."""
    return _views(session, [AccessRequest.shop_id == shop_id], with_sends=False)
