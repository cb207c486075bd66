"""What a BC holds on a shop, and sharing it with partner BCs (R17).

A share is a partner ShopGrant whose ``granted_by_bc_id`` is the sharing BC. Sharing with a
BC that is already a partner takes effect at once; otherwise an add-partner invitation
carries the shop until the partner accepts. Every function is one transaction's worth of
work on the caller's session and idempotent on its business key.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Literal

from sqlmodel import Session, col, select

from models.enums import Permission, Relationship
from models.errors import ErrorCode, Refusal
from models.partner_enums import (
    InvitationKind,
    InvitationStatus,
    grant_level,
    level_label,
)
from models.partner_messages import HeldShopView
from models.tables import (
    BCPartner,
    BusinessCenter,
    Invitation,
    InvitationShop,
    Shop,
    ShopGrant,
    User,
    utcnow,
)
from store import audit
from store import partner_refusals as refusals
from store.people import require_bc, require_bc_admin

PERMISSION_CHOICES = (Permission.MANAGER, Permission.AD_PROMOTION)


def held_grants(
    session: Session, bc_id: int, shop_id: int, *, lock: bool = False
) -> list[ShopGrant]:
    """The BC's active grants on the shop; ``lock`` holds them until commit (PostgreSQL), so
    a removal (R19) and a new campaign or share cannot interleave."""
    query = (
        select(ShopGrant)
        .where(
            ShopGrant.bc_id == bc_id,
            ShopGrant.shop_id == shop_id,
            col(ShopGrant.revoked_at).is_(None),
        )
        .order_by(col(ShopGrant.id))
    )
    if lock:
        query = query.with_for_update()
    return list(session.exec(query).all())


def held_level(grants: list[ShopGrant]) -> int:
    """The best level among ``grants`` (owner 3 > manager 2 > ad_promotion 1; none 0)."""
    return max((grant_level(g.relationship, g.permission) for g in grants), default=0)


def require_held(session: Session, bc: BusinessCenter, shop: Shop, *, lock: bool = False) -> int:
    """The BC's level on the shop, or a refusal when it holds nothing."""
    assert shop.id is not None
    level = held_level(held_grants(session, bc.id, shop.id, lock=lock))
    if level == 0:
        raise refusals.shop_not_held(bc, shop)
    return level


def check_not_above(
    level: int,
    permission: Permission,
    *,
    to: Literal["members", "partners"],
    bc: BusinessCenter,
    shop: Shop,
) -> None:
    """R16/R17 policy: never more than what the BC itself holds, to its members or to
    partners."""
    if grant_level(Relationship.PARTNER, permission) > level:
        raise refusals.above_held(level_label(level), permission, to=to, bc=bc, shop=shop)


def require_shop(session: Session, shop_id: int) -> Shop:
    shop = session.get(Shop, shop_id)
    if shop is None:
        raise Refusal(ErrorCode.UNKNOWN_SHOP_CODE, reason="by_id", shop_id=shop_id)
    return shop


def is_partner(session: Session, bc_id: int, partner_bc_id: int) -> bool:
    return session.get(BCPartner, (bc_id, partner_bc_id)) is not None


def _check_share(
    session: Session,
    *,
    bc_id: int,
    shop_id: int,
    partner_bc_id: int,
    permission: Permission,
    by: str,
    lock: bool,
) -> tuple[BusinessCenter, BusinessCenter, Shop, User]:
    """Who may share what with whom (R17); refusals in the order a person fixes them."""
    bc = require_bc(session, bc_id)
    user = require_bc_admin(session, bc, by)
    shop = require_shop(session, shop_id)
    level = require_held(session, bc, shop, lock=lock)
    check_not_above(level, permission, to="partners", bc=bc, shop=shop)
    if partner_bc_id == bc_id:
        raise Refusal(ErrorCode.INVALID_INPUT, reason="share_with_itself", bc_id=bc_id)
    partner = require_bc(session, partner_bc_id)
    if held_grants(session, partner.id, shop_id):
        raise refusals.partner_has_shop(partner, shop)
    return bc, partner, shop, user


def share_shop(
    session: Session,
    *,
    share_key: str,
    bc_id: int,
    shop_id: int,
    partner_bc_id: int,
    permission: Permission,
    by: str,
    now: datetime | None = None,
) -> ShopGrant:
    """R17: share at once with a BC that already is this BC's partner."""
    existing = session.exec(
        select(ShopGrant).where(ShopGrant.source_share_key == share_key)
    ).first()
    if existing is not None:
        return existing
    bc, partner, shop, user = _check_share(
        session,
        bc_id=bc_id,
        shop_id=shop_id,
        partner_bc_id=partner_bc_id,
        permission=permission,
        by=by,
        lock=True,
    )
    if not is_partner(session, bc.id, partner.id):
        raise refusals.not_yet_a_partner(bc, partner)
    return _grant_share(
        session,
        share_key=share_key,
        bc_id=bc.id,
        partner_bc_id=partner.id,
        shop=shop,
        permission=permission,
        actor=user.email,
        now=now or utcnow(),
    )


def _grant_share(
    session: Session,
    *,
    share_key: str,
    bc_id: int,
    partner_bc_id: int,
    shop: Shop,
    permission: Permission,
    actor: str,
    now: datetime,
) -> ShopGrant:
    assert shop.id is not None
    grant = ShopGrant(
        bc_id=partner_bc_id,
        shop_id=shop.id,
        relationship=Relationship.PARTNER,
        permission=permission,
        source_share_key=share_key,
        granted_by_bc_id=bc_id,
        created_at=now,
    )
    session.add(grant)
    session.flush()
    audit.record(
        session,
        actor=actor,
        entity="shop_grant",
        entity_id=grant.id or 0,
        action="shared",
        at=now,
        bc_id=partner_bc_id,
        shop_id=shop.id,
        shop_code=shop.code,
        granted_by_bc_id=bc_id,
        permission=permission.value,
        share_key=share_key,
    )
    return grant


def offer_partner_shop(
    session: Session,
    *,
    invitation_id: str,
    bc_id: int,
    partner_bc_id: int,
    shop_id: int,
    permission: Permission,
    by: str,
    workflow_id: str,
    now: datetime | None = None,
    ends_at: datetime | None = None,
) -> Invitation:
    """R17: add a shop to the pending add-partner invitation, creating it on first use.
    ``ends_at`` (R23) rides with the offer; store.invitations.offer_partner_shop checks it.

    Idempotent: offering the same shop again updates its permission and end date (the
    latest share says what is offered) and changes nothing else.
    """
    now = now or utcnow()
    invitation = session.get(Invitation, invitation_id)
    if invitation is not None and invitation.status is not InvitationStatus.PENDING:
        raise refusals.invitation_not_pending(invitation)
    bc, partner, shop, user = _check_share(
        session,
        bc_id=bc_id,
        shop_id=shop_id,
        partner_bc_id=partner_bc_id,
        permission=permission,
        by=by,
        lock=False,
    )
    if is_partner(session, bc.id, partner.id):
        raise Refusal(ErrorCode.INVALID_INPUT, reason="already_a_partner", partner_bc_id=partner.id)
    if invitation is None:
        invitation = _new_partner_invitation(
            session,
            invitation_id=invitation_id,
            bc=bc,
            partner=partner,
            user=user,
            workflow_id=workflow_id,
            now=now,
        )
    _offer(session, invitation, shop, (permission, ends_at), user, now)
    return invitation


def _new_partner_invitation(
    session: Session,
    *,
    invitation_id: str,
    bc: BusinessCenter,
    partner: BusinessCenter,
    user: User,
    workflow_id: str,
    now: datetime,
) -> Invitation:
    assert user.id is not None
    invitation = Invitation(
        id=invitation_id,
        kind=InvitationKind.PARTNER,
        bc_id=bc.id,
        invited_by_user_id=user.id,
        partner_bc_id=partner.id,
        created_at=now,
        workflow_id=workflow_id,
    )
    session.add(invitation)
    session.flush()
    audit.record(
        session,
        actor=user.email,
        entity="invitation",
        entity_id=invitation_id,
        action="partner_invited",
        at=now,
        bc_id=bc.id,
        partner_bc_id=partner.id,
    )
    return invitation


def _offer(
    session: Session,
    invitation: Invitation,
    shop: Shop,
    terms: tuple[Permission, datetime | None],
    user: User,
    now: datetime,
) -> None:
    """Put the shop on the invitation at ``terms`` (permission, end date); nothing if it
    is there already on the same terms."""
    assert user.id is not None and shop.id is not None
    permission, ends_at = terms
    item = session.get(InvitationShop, (invitation.id, shop.id))
    if item is None:
        session.add(
            InvitationShop(
                invitation_id=invitation.id,
                shop_id=shop.id,
                permission=permission,
                added_by_user_id=user.id,
                added_at=now,
                ends_at=ends_at,
            )
        )
    elif (item.permission, item.ends_at) != (permission, ends_at):
        item.permission, item.ends_at = permission, ends_at
        session.add(item)
    else:
        return
    details = {"ends_at": ends_at.isoformat()} if ends_at else {}
    audit.record(
        session,
        actor=user.email,
        entity="invitation",
        entity_id=invitation.id,
        action="shop_offered",
        at=now,
        shop_code=shop.code,
        permission=permission.value,
        **details,
    )
    session.flush()


def offered_items(session: Session, invitation_id: str) -> list[InvitationShop]:
    """The shops an add-partner invitation carries, by shop id."""
    return list(
        session.exec(
            select(InvitationShop)
            .where(InvitationShop.invitation_id == invitation_id)
            .order_by(col(InvitationShop.shop_id))
        ).all()
    )


def accept_partner_invitation(
    session: Session,
    *,
    invitation: Invitation,
    user: User,
    now: datetime,
    lapsed: Mapping[int, str] | None = None,
) -> list[ShopGrant]:
    """R17: the partner accepts; every offered shop the inviter still may share is shared.

    A shop the inviter lost (or may no longer share at that permission) since the offer,
    or that the partner meanwhile holds, is skipped: acceptance never grants more than the
    inviter holds at this moment. So is a shop in ``lapsed`` (shop id: why), an offer whose
    end date (R23) can no longer be granted; store.invitations decides which.
    """
    lapsed = lapsed or {}
    assert invitation.partner_bc_id is not None
    bc = require_bc(session, invitation.bc_id)
    if not is_partner(session, bc.id, invitation.partner_bc_id):
        session.add(
            BCPartner(
                bc_id=bc.id,
                partner_bc_id=invitation.partner_bc_id,
                created_at=now,
                invitation_id=invitation.id,
            )
        )
    granted: list[ShopGrant] = []
    for item in offered_items(session, invitation.id):
        shop = require_shop(session, item.shop_id)
        level = held_level(held_grants(session, bc.id, item.shop_id, lock=True))
        if (
            level < grant_level(Relationship.PARTNER, item.permission)
            or held_grants(session, invitation.partner_bc_id, item.shop_id)
            or item.shop_id in lapsed
        ):
            _skipped(session, invitation, user, shop, now, lapsed.get(item.shop_id))
            continue
        granted.append(
            _grant_share(
                session,
                share_key=f"invitation:{invitation.id}:shop-{item.shop_id}",
                bc_id=bc.id,
                partner_bc_id=invitation.partner_bc_id,
                shop=shop,
                permission=item.permission,
                actor=user.email,
                now=now,
            )
        )
    return granted


def _skipped(
    session: Session,
    invitation: Invitation,
    user: User,
    shop: Shop,
    now: datetime,
    reason: str | None,
) -> None:
    """Audit an offered shop that acceptance did not give (and why, when it is R23's)."""
    why = {"reason": reason} if reason else {}
    audit.record(
        session,
        actor=user.email,
        entity="invitation",
        entity_id=invitation.id,
        action="shop_skipped",
        at=now,
        shop_code=shop.code,
        **why,
    )


def shops_for_bc(session: Session, bc_id: int) -> list[HeldShopView]:
    """What a BC holds (R8, R17), with relationship and permission; removed shops vanish
    from it at once (R19)."""
    require_bc(session, bc_id)
    rows = session.exec(
        select(ShopGrant, Shop)
        .join(Shop, Shop.id == ShopGrant.shop_id)  # type: ignore[arg-type]
        .where(ShopGrant.bc_id == bc_id, col(ShopGrant.revoked_at).is_(None))
        .order_by(Shop.code, col(ShopGrant.id))
    ).all()
    return [
        HeldShopView(
            shop_id=shop.id or 0,
            shop_code=shop.code,
            shop_name=shop.name,
            relationship=grant.relationship,
            permission=grant.permission,
            granted_by_bc_id=grant.granted_by_bc_id,
            via="share" if grant.source_share_key else "request",
            since=grant.created_at,
            ends_at=grant.ends_at,
        )
        for grant, shop in rows
    ]
