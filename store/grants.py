"""Shop grants: what a BC holds (R6) and what an approved request gives it (R14)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from models.enums import Permission, Relationship, RequestMethod
from models.tables import AccessRequest, ShopGrant
from store import audit

GRANT_FOR_METHOD = {
    RequestMethod.REQUEST_ACCESS: (Relationship.PARTNER, Permission.AD_PROMOTION),
    RequestMethod.ADD_MY_SHOP: (Relationship.OWNER, Permission.MANAGER),
}


def active_grants(session: Session, bc_id: int, shop_id: int) -> list[ShopGrant]:
    return list(
        session.exec(
            select(ShopGrant).where(
                ShopGrant.bc_id == bc_id,
                ShopGrant.shop_id == shop_id,
                col(ShopGrant.revoked_at).is_(None),
            )
        ).all()
    )


def grant_of_request(session: Session, *, request_id: str) -> ShopGrant | None:
    """The grant an approved request gave, if any (R14: at most one per request)."""
    return session.exec(select(ShopGrant).where(ShopGrant.source_request_id == request_id)).first()


def _end_partner_grants(session: Session, request: AccessRequest, now: datetime) -> None:
    """Decision (docs/decisions.md): "Add my shop" by a partner upgrades it to owner. The
    owner grant replaces the partner grant(s) rather than sitting beside them, so the BC
    holds the shop once; member assignments and onward shares hang on (BC, shop), not on
    the grant, and stay. The ended grant is kept as history (R21)."""
    for held in active_grants(session, request.bc_id, request.shop_id):
        held.revoked_at = now
        session.add(held)
        audit.record(
            session,
            actor="system",
            entity="shop_grant",
            entity_id=held.id or 0,
            action="upgraded_to_owner",
            at=now,
            bc_id=request.bc_id,
            shop_id=request.shop_id,
            request_id=request.id,
        )


def write_grant(session: Session, *, request: AccessRequest, now: datetime) -> ShopGrant:
    """R14: the approved request's BC gets the shop, with the method's relationship. Called
    only from the approving transaction, so an approved request never lacks its grant."""
    relationship, permission = GRANT_FOR_METHOD[request.method]
    if relationship is Relationship.OWNER:
        _end_partner_grants(session, request, now)
    grant = ShopGrant(
        bc_id=request.bc_id,
        shop_id=request.shop_id,
        relationship=relationship,
        permission=permission,
        source_request_id=request.id,
        granted_by_bc_id=request.approving_bc_id,
        created_at=now,
    )
    session.add(grant)
    session.flush()
    audit.record(
        session,
        actor="system",
        entity="shop_grant",
        entity_id=grant.id or 0,
        action="granted",
        at=grant.created_at,
        bc_id=request.bc_id,
        shop_id=request.shop_id,
        relationship=relationship.value,
        permission=permission.value,
        request_id=request.id,
    )
    return grant
