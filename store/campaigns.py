"""Product Sales campaigns with a shop as product source (R18), and stopping them in
batches when access is removed (R19).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert, update
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from models.enums import MemberRole
from models.errors import ErrorCode, Refusal
from models.fields import require_display_name
from models.partner_enums import CAMPAIGN_WRITERS, PRODUCT_SALES, CampaignStatus
from models.partner_messages import CampaignView
from models.tables import AdAccount, Campaign, Shop, User, utcnow
from store import audit
from store.members import active_assignment, ad_account_permission
from store.partner_refusals import (
    no_campaign_permission,
    no_shop_permission,
    not_a_member_of_ad_account_bc,
)
from store.people import find_user, member_role, require_bc
from store.sharing import require_held, require_shop


def create_campaign(
    session: Session,
    *,
    ad_account_id: int,
    shop_id: int,
    name: str,
    by: str,
    now: datetime | None = None,
) -> Campaign:
    """R18: needs the ad account's BC to hold the shop, and the user to hold ``manager`` or
    ``ad_promotion`` on it (a BC admin holds what the BC holds; a standard member needs an
    assignment and an ad account permission that may write campaigns)."""
    now = now or utcnow()
    title = require_display_name("name", name, label="The campaign's name")
    account = session.get(AdAccount, ad_account_id)
    if account is None:
        raise Refusal(ErrorCode.UNKNOWN_AD_ACCOUNT, ad_account_id=ad_account_id)
    bc = require_bc(session, account.bc_id)
    user = find_user(session, by)
    role = member_role(session, bc.id, user.id) if user and user.id is not None else None
    if user is None or user.id is None or role is None:
        raise not_a_member_of_ad_account_bc(by, bc, ad_account_id)
    shop = require_shop(session, shop_id)
    # Locking the BC's grants makes a removal (R19) and this insert serialise: either the
    # campaign exists before the grant ends (and gets stopped) or it is refused.
    require_held(session, bc, shop, lock=True)
    if role is not MemberRole.ADMIN:
        if active_assignment(session, bc_id=bc.id, shop_id=shop_id, user_id=user.id) is None:
            raise no_shop_permission(user.email, bc, shop)
        if ad_account_permission(session, ad_account_id, user.id) not in CAMPAIGN_WRITERS:
            raise no_campaign_permission(user.email, ad_account_id)
    campaign = Campaign(
        ad_account_id=ad_account_id,
        bc_id=bc.id,
        shop_id=shop_id,
        name=title,
        objective=PRODUCT_SALES,
        created_by_user_id=user.id,
        created_at=now,
    )
    session.add(campaign)
    session.flush()
    audit.record(
        session,
        actor=user.email,
        entity="campaign",
        entity_id=campaign.id or 0,
        action="created",
        at=now,
        ad_account_id=ad_account_id,
        shop_code=shop.code,
        name=title,
    )
    return campaign


def bulk_insert_delivering(
    session: Session,
    *,
    ad_account_id: int,
    shop_id: int,
    created_by_user_id: int,
    count: int,
    name_prefix: str = "Campaign",
) -> None:
    """Insert ``count`` delivering campaigns at once, for imports, benchmarks and tests.

    Skips R18's per-campaign checks: the caller vouches for them.
    """
    account = session.get(AdAccount, ad_account_id)
    assert account is not None
    now = utcnow()
    rows = [
        {
            "ad_account_id": ad_account_id,
            "bc_id": account.bc_id,
            "shop_id": shop_id,
            "name": f"{name_prefix} {i + 1}",
            "objective": PRODUCT_SALES,
            "status": CampaignStatus.DELIVERING,
            "created_by_user_id": created_by_user_id,
            "created_at": now,
        }
        for i in range(count)
    ]
    for start in range(0, len(rows), 5000):
        session.execute(insert(Campaign), rows[start : start + 5000])


def _next_delivering(
    session: Session, *, shop_id: int, bc_ids: list[int], after_id: int, limit: int
) -> list[int | None]:
    """The next page of delivering campaigns' ids after ``after_id``, locked (PostgreSQL)."""
    return list(
        session.exec(
            select(Campaign.id)
            .where(
                Campaign.shop_id == shop_id,
                col(Campaign.bc_id).in_(bc_ids),
                Campaign.status == CampaignStatus.DELIVERING,
                col(Campaign.id) > after_id,
            )
            .order_by(col(Campaign.id))
            .limit(limit)
            .with_for_update()
        ).all()
    )


def stop_batch(
    session: Session,
    *,
    removal_id: str,
    shop_id: int,
    bc_ids: list[int],
    after_id: int,
    limit: int,
    now: datetime | None = None,
) -> tuple[list[int], int | None]:
    """R19: stop up to ``limit`` delivering campaigns of ``bc_ids`` on the shop with ids
    above ``after_id``, each with one audit event. Returns the ids stopped and the last id
    scanned (the next cursor), or ``([], None)`` when nothing is left.

    Only delivering rows change, so a batch repeated after a crash stops nothing twice.
    """
    now = now or utcnow()
    ids = _next_delivering(session, shop_id=shop_id, bc_ids=bc_ids, after_id=after_id, limit=limit)
    if not ids:
        return [], None
    stopped = (
        session.execute(
            update(Campaign)
            .where(col(Campaign.id).in_(ids), col(Campaign.status) == CampaignStatus.DELIVERING)
            .values(status=CampaignStatus.STOPPED, stopped_at=now, stopped_by_removal_id=removal_id)
            .returning(col(Campaign.id))
        )
        .scalars()
        .all()
    )
    done = sorted(int(i) for i in stopped)
    if done:
        audit.record_many(
            session,
            (
                audit.Change("system", "campaign", i, "stopped", now, {"removal_id": removal_id})
                for i in done
            ),
        )
    last = ids[-1]
    assert last is not None
    return done, int(last)


def _views_query() -> Any:
    creator = aliased(User)
    return (
        select(Campaign, Shop.code, creator.email)  # type: ignore[call-overload]
        .join(Shop, col(Shop.id) == col(Campaign.shop_id))
        .join(creator, col(creator.id) == col(Campaign.created_by_user_id))
        .order_by(col(Campaign.id))
    )


def _views(session: Session, query: Any) -> list[CampaignView]:
    return [
        CampaignView(
            campaign_id=c.id or 0,
            name=c.name,
            status=c.status,
            ad_account_id=c.ad_account_id,
            bc_id=c.bc_id,
            shop_code=code,
            created_by=email,
            created_at=c.created_at,
            stopped_at=c.stopped_at,
        )
        for c, code, email in session.exec(query).all()
    ]


def list_campaigns(
    session: Session, *, bc_id: int | None = None, shop_id: int | None = None
) -> list[CampaignView]:
    query = _views_query()
    if bc_id is not None:
        require_bc(session, bc_id)
        query = query.where(Campaign.bc_id == bc_id)
    if shop_id is not None:
        query = query.where(Campaign.shop_id == shop_id)
    return _views(session, query)


def campaign_view(session: Session, campaign_id: int) -> CampaignView:
    """One campaign as list_campaigns shows it; the campaign must exist."""
    views = _views(session, _views_query().where(Campaign.id == campaign_id))
    assert views, f"no campaign {campaign_id}"
    return views[0]
