"""Reads for the CLI and the web pages. The store is the record, so these never ask Temporal."""

from __future__ import annotations

from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from models.errors import ErrorCode, Refusal
from models.tables import AccessRequest, BusinessCenter, RequestSend, Shop, User
from models.views import STATUS_LABELS, RequestView, SendView

_REQUESTER = aliased(User)
_DECIDER = aliased(User)
# Built once: constructing this join (two aliases) cost more than running it.
_VIEWS = (
    select(AccessRequest, BusinessCenter, Shop, _REQUESTER.email, _DECIDER.email)  # type: ignore[call-overload]
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
        ids = [r[0].id for r in rows]
        for send, email in session.exec(
            select(RequestSend, User.email)
            .join(User, User.id == RequestSend.by_user_id)  # type: ignore[arg-type]
            .where(col(RequestSend.request_id).in_(ids))
            .order_by(col(RequestSend.seq))
        ).all():
            sends.setdefault(send.request_id, []).append(
                SendView(seq=send.seq, channel=send.channel, by=email, at=send.at)
            )
    return [
        RequestView(
            request_id=req.id,
            method=req.method,
            status=req.status,
            status_label=STATUS_LABELS[req.status],
            bc_id=bc.id,
            bc_name=bc.name,
            shop_code=shop.code,
            shop_name=shop.name,
            requested_by=by,
            created_at=req.created_at,
            decided_at=req.decided_at,
            decided_by=decided_by,
            approving_bc_id=req.approving_bc_id,
            superseded_by=req.superseded_by,
            workflow_id=req.workflow_id,
            sends=sends.get(req.id, []),
        )
        for req, bc, shop, by, decided_by in rows
    ]


def request_view(session: Session, request_id: str, *, with_sends: bool = True) -> RequestView:
    found = _views(session, [AccessRequest.id == request_id], with_sends=with_sends)
    if not found:
        raise Refusal(ErrorCode.UNKNOWN_REQUEST, f"There is no access request {request_id}.")
    return found[0]


def requests_for_bc(session: Session, bc_id: int) -> list[RequestView]:
    """R8: the BC's shop list, pending ones labelled "Pending approval"."""
    return _views(session, [AccessRequest.bc_id == bc_id], with_sends=False)


def requests_for_shop(session: Session, shop_id: int) -> list[RequestView]:
    """R15: every request ever made for the shop."""
    return _views(session, [AccessRequest.shop_id == shop_id], with_sends=False)
