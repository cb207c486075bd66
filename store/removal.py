"""Removing a partner's access to a shop (R19): who may, what it ends, and a preview.

The grant ends in one transaction with everything that hangs from it: the partner's
grants on the shop, every onward share it made (and theirs, transitively), member
assignments on the shop inside every BC that thereby loses the shop, and the status of the
requests that granted it (``revoked``, so the seller's history says so, R15/R21). Campaigns
stop afterwards, in pages (store.campaigns.stop_batch), because there can be thousands.

A BC that also holds the shop another way (its own approved request, say) keeps it: only
the grants hanging from the removed one end, and its campaigns keep delivering.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session, col, func, select

from models.enums import MemberRole, Relationship, RequestStatus
from models.errors import ErrorCode, Refusal
from models.partner_enums import CampaignStatus, RemovalStatus
from models.partner_messages import DownstreamPartner, RemovalPreview
from models.tables import (
    AccessRemoval,
    AccessRequest,
    BCMember,
    BusinessCenter,
    Campaign,
    MemberAssignment,
    Shop,
    ShopGrant,
    ShopTeamMember,
    User,
    utcnow,
)
from store import audit
from store import partner_refusals as refusals
from store.people import find_user, require_bc
from store.sharing import require_shop


def require_removal_authority(session: Session, shop: Shop, by: str) -> User:
    """R19: the seller (the shop's team) or an admin of the shop's owner BC / linked BC."""
    user = find_user(session, by)
    if user is not None and user.id is not None:
        if session.get(ShopTeamMember, (shop.id, user.id)) is not None:
            return user
        owner_bcs = set(
            session.exec(
                select(ShopGrant.bc_id).where(
                    ShopGrant.shop_id == shop.id,
                    ShopGrant.relationship == Relationship.OWNER,
                    col(ShopGrant.revoked_at).is_(None),
                )
            ).all()
        )
        if shop.linked_bc_id is not None:
            owner_bcs.add(shop.linked_bc_id)
        for bc_id in owner_bcs:
            member = session.get(BCMember, (bc_id, user.id))
            if member is not None and member.role is MemberRole.ADMIN:
                return user
    raise refusals.not_removal_authority(by, shop)


def partner_grants(
    session: Session, shop_id: int, bc_id: int, *, lock: bool = False
) -> list[ShopGrant]:
    query = (
        select(ShopGrant)
        .where(
            ShopGrant.shop_id == shop_id,
            ShopGrant.bc_id == bc_id,
            ShopGrant.relationship == Relationship.PARTNER,
            col(ShopGrant.revoked_at).is_(None),
        )
        .order_by(col(ShopGrant.id))
    )
    if lock:
        query = query.with_for_update()
    return list(session.exec(query).all())


@dataclass
class _Plan:
    root: list[ShopGrant]
    # Onward shares that end, with their depth (1 = shared by the removed partner).
    downstream: list[tuple[ShopGrant, int]] = field(default_factory=list)
    lost_bc_ids: list[int] = field(default_factory=list)

    @property
    def grants(self) -> list[ShopGrant]:
        return self.root + [g for g, _ in self.downstream]


def _plan(session: Session, shop_id: int, partner_bc_id: int, *, lock: bool) -> _Plan:
    """Which grants end and which BCs lose the shop; the walk continues only through BCs
    that lose it (a BC that keeps the shop another way keeps its onward shares too)."""
    root = partner_grants(session, shop_id, partner_bc_id, lock=lock)
    plan = _Plan(root=root)
    ending = {g.id for g in root}
    frontier, depth, seen = [partner_bc_id], 0, {partner_bc_id}
    while frontier:
        lost = [bc for bc in frontier if not _keeps_shop(session, shop_id, bc, ending)]
        plan.lost_bc_ids += lost
        depth += 1
        query = (
            select(ShopGrant)
            .where(
                ShopGrant.shop_id == shop_id,
                col(ShopGrant.granted_by_bc_id).in_(lost),
                col(ShopGrant.source_share_key).is_not(None),
                col(ShopGrant.revoked_at).is_(None),
            )
            .order_by(col(ShopGrant.id))
        )
        if lock:
            query = query.with_for_update()
        onward = [g for g in session.exec(query).all() if g.id not in ending] if lost else []
        for grant in onward:
            plan.downstream.append((grant, depth))
            ending.add(grant.id)
        frontier = [g.bc_id for g in onward if g.bc_id not in seen]
        seen.update(frontier)
    return plan


def _keeps_shop(session: Session, shop_id: int, bc_id: int, ending: set[int | None]) -> bool:
    remaining = session.exec(
        select(ShopGrant.id).where(
            ShopGrant.shop_id == shop_id,
            ShopGrant.bc_id == bc_id,
            col(ShopGrant.revoked_at).is_(None),
        )
    ).all()
    return any(g not in ending for g in remaining)


def _delivering(session: Session, shop_id: int, bc_ids: list[int]) -> dict[int, int]:
    if not bc_ids:
        return {}
    rows = session.exec(
        select(Campaign.bc_id, func.count())
        .where(
            Campaign.shop_id == shop_id,
            col(Campaign.bc_id).in_(bc_ids),
            Campaign.status == CampaignStatus.DELIVERING,
        )
        .group_by(col(Campaign.bc_id))
    ).all()
    return {int(bc): int(n) for bc, n in rows}


def _active_assignments(
    session: Session, shop_id: int, bc_ids: list[int]
) -> list[MemberAssignment]:
    if not bc_ids:
        return []
    return list(
        session.exec(
            select(MemberAssignment).where(
                MemberAssignment.shop_id == shop_id,
                col(MemberAssignment.bc_id).in_(bc_ids),
                col(MemberAssignment.ended_at).is_(None),
            )
        ).all()
    )


def _checked(
    session: Session, shop_id: int, partner_bc_id: int, by: str, *, lock: bool
) -> tuple[Shop, BusinessCenter, User, _Plan]:
    shop = require_shop(session, shop_id)
    user = require_removal_authority(session, shop, by)
    partner = require_bc(session, partner_bc_id)
    plan = _plan(session, shop_id, partner_bc_id, lock=lock)
    if not plan.root:
        raise refusals.not_a_partner_of_shop(partner, shop)
    return shop, partner, user, plan


def preview_removal(
    session: Session, *, shop_id: int, partner_bc_id: int, by: str
) -> RemovalPreview:
    """What a removal would stop (R19), for the seller to read before confirming."""
    shop, partner, _user, plan = _checked(session, shop_id, partner_bc_id, by, lock=False)
    counts = _delivering(session, shop_id, plan.lost_bc_ids)
    lost = set(plan.lost_bc_ids)
    downstream = []
    for grant, depth in plan.downstream:
        bc = session.get(BusinessCenter, grant.bc_id)
        assert bc is not None and grant.granted_by_bc_id is not None
        downstream.append(
            DownstreamPartner(
                bc_id=bc.id,
                bc_name=bc.name,
                shared_by_bc_id=grant.granted_by_bc_id,
                depth=depth,
                permission=grant.permission,
                delivering_campaigns=counts.get(bc.id, 0) if bc.id in lost else 0,
                keeps_access=bc.id not in lost,
            )
        )
    assert plan.root[0].id is not None
    return RemovalPreview(
        shop_id=shop_id,
        shop_code=shop.code,
        partner_bc_id=partner.id,
        partner_bc_name=partner.name,
        permission=plan.root[0].permission,
        delivering_campaigns=counts.get(partner.id, 0),
        total_delivering_campaigns=sum(counts.values()),
        member_assignments=len(_active_assignments(session, shop_id, plan.lost_bc_ids)),
        downstream=downstream,
        grant_id=plan.root[0].id,
    )


@dataclass(frozen=True)
class Ended:
    removal: AccessRemoval
    ended_grant_ids: list[int]
    lost_bc_ids: list[int]
    assignments_ended: int


def end_grants(
    session: Session,
    *,
    removal_id: str,
    shop_id: int,
    partner_bc_id: int,
    by: str,
    workflow_id: str,
    now: datetime | None = None,
    reason: str | None = None,
) -> Ended:
    """R19, at once: end the grants, onward shares, assignments, and mark the requests
    revoked, in this one transaction. Idempotent on ``removal_id``. ``reason`` (e.g.
    "end_date", R23) goes into the audit rows, so the history says why (R21)."""
    existing = session.get(AccessRemoval, removal_id)
    if existing is not None:
        return Ended(
            existing,
            json.loads(existing.ended_grant_ids),
            json.loads(existing.lost_bc_ids),
            _assignments_ended(session, removal_id),
        )
    now = now or utcnow()
    why = {"reason": reason} if reason else {}
    shop, partner, user, plan = _checked(session, shop_id, partner_bc_id, by, lock=True)
    assert user.id is not None
    ending = _Ending(session, removal_id=removal_id, shop=shop, actor=user.email, now=now, why=why)
    grant_ids = [ending.grant(grant, partner.id) for grant in plan.grants]
    assignments = _active_assignments(session, shop_id, plan.lost_bc_ids)
    for assignment in assignments:
        ending.assignment(assignment)
    removal = AccessRemoval(
        id=removal_id,
        shop_id=shop_id,
        partner_bc_id=partner.id,
        requested_by_user_id=user.id,
        ended_grant_ids=json.dumps(grant_ids),
        lost_bc_ids=json.dumps(plan.lost_bc_ids),
        created_at=now,
        workflow_id=workflow_id,
    )
    session.add(removal)
    audit.record(
        session,
        actor=user.email,
        entity="access_removal",
        entity_id=removal_id,
        action="access_removed",
        at=now,
        shop_code=shop.code,
        partner_bc_id=partner.id,
        ended_grant_ids=grant_ids,
        lost_bc_ids=plan.lost_bc_ids,
    )
    session.flush()
    return Ended(removal, grant_ids, plan.lost_bc_ids, len(assignments))


@dataclass(frozen=True)
class _Ending:
    """What ends in one removal's transaction, each change audited as the removal's."""

    session: Session
    removal_id: str
    shop: Shop
    actor: str
    now: datetime
    # Why, when it is not the seller's own act (R23's "end_date"): on every audited row.
    why: dict[str, str] = field(default_factory=dict)

    def grant(self, grant: ShopGrant, removed_partner_bc_id: int) -> int:
        """End ``grant``; an approved request that granted it becomes ``revoked`` (R15)."""
        assert grant.id is not None
        grant.revoked_at = self.now
        self.session.add(grant)
        audit.record(
            self.session,
            actor=self.actor,
            entity="shop_grant",
            entity_id=grant.id,
            action="revoked",
            at=self.now,
            bc_id=grant.bc_id,
            shop_code=self.shop.code,
            removal_id=self.removal_id,
            removed_partner_bc_id=removed_partner_bc_id,
            **self.why,
        )
        if grant.source_request_id:
            request = self.session.get(AccessRequest, grant.source_request_id)
            if request is not None and request.status is RequestStatus.APPROVED:
                request.status = RequestStatus.REVOKED
                self.session.add(request)
                audit.record(
                    self.session,
                    actor=self.actor,
                    entity="access_request",
                    entity_id=request.id,
                    action="revoked",
                    at=self.now,
                    removal_id=self.removal_id,
                    **self.why,
                )
        return grant.id

    def assignment(self, assignment: MemberAssignment) -> None:
        assignment.ended_at = self.now
        assignment.ended_by_removal_id = self.removal_id
        self.session.add(assignment)
        audit.record(
            self.session,
            actor=self.actor,
            entity="member_assignment",
            entity_id=f"bc-{assignment.bc_id}:shop-{assignment.shop_id}:user-{assignment.user_id}",
            action="ended",
            at=self.now,
            removal_id=self.removal_id,
        )


def _assignments_ended(session: Session, removal_id: str) -> int:
    return int(
        session.exec(
            select(func.count())
            .select_from(MemberAssignment)
            .where(MemberAssignment.ended_by_removal_id == removal_id)
        ).one()
    )


def campaigns_stopped(session: Session, removal_id: str) -> int:
    return int(
        session.exec(
            select(func.count())
            .select_from(Campaign)
            .where(Campaign.stopped_by_removal_id == removal_id)
        ).one()
    )


def campaigns_to_stop(session: Session, *, removal_id: str, shop_id: int, bc_ids: list[int]) -> int:
    """How many campaigns this removal stops in all: those of the BCs that lost the shop
    still delivering, plus those it already stopped (the same number on every retry). No
    campaign can start on the shop once its grants have ended, so this does not grow."""
    if not bc_ids:
        return 0
    delivering = session.exec(
        select(func.count())
        .select_from(Campaign)
        .where(
            Campaign.shop_id == shop_id,
            col(Campaign.bc_id).in_(bc_ids),
            Campaign.status == CampaignStatus.DELIVERING,
        )
    ).one()
    return int(delivering) + campaigns_stopped(session, removal_id)


def finish_removal(
    session: Session, *, removal_id: str, now: datetime | None = None
) -> AccessRemoval:
    """Every campaign is stopped: record the count and the end. Idempotent."""
    removal = session.get(AccessRemoval, removal_id)
    if removal is None:
        raise Refusal(ErrorCode.INVALID_INPUT, reason="unknown_removal", removal_id=removal_id)
    if removal.status is RemovalStatus.COMPLETED:
        return removal
    now = now or utcnow()
    removal.campaigns_stopped = campaigns_stopped(session, removal_id)
    removal.status = RemovalStatus.COMPLETED
    removal.finished_at = now
    session.add(removal)
    audit.record(
        session,
        actor="system",
        entity="access_removal",
        entity_id=removal_id,
        action="completed",
        at=now,
        campaigns_stopped=removal.campaigns_stopped,
    )
    session.flush()
    return removal
