"""What the seller's pages show (web/approval.py, web/partners.py), read from the store.

The record is the store; Temporal is never asked. Each function reads in one session and
returns plain dataclasses or views, so a page never holds a session open while it renders.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from models.enums import (
    MemberRole,
    Permission,
    Relationship,
    RequestStatus,
    Scenario,
    TeamRole,
)
from models.errors import Refusal
from models.tables import BusinessCenter, Shop, ShopGrant, ShopTeamMember, User
from models.views import RequestView
from store import history, queries
from store.db import read_session
from store.people import bc_admin_emails, find_user, normalise_email
from store.scenarios import scenario_for, seller_bcs


def request_view(engine: Engine, request_id: str) -> RequestView | None:
    with read_session(engine) as session:
        return _view(session, request_id)


def _view(session: Session, request_id: str) -> RequestView | None:
    # The pages never list a request's sends: leave out that query.
    try:
        return queries.request_view(session, request_id, with_sends=False)
    except Refusal:
        return None


@dataclass(frozen=True)
class Outcome:
    """What the outcome page of a decided request shows, read in one session."""

    view: RequestView
    winner: RequestView | None  # R11: the other method's request that was approved first
    viewer_on_team: bool
    approving_bc_name: str | None


def outcome(engine: Engine, view: RequestView, viewer: str | None, *, reread: bool) -> Outcome:
    """The outcome of ``view``'s request; ``reread`` after a decision that may have moved it."""
    with read_session(engine) as session:
        if reread:
            view = _view(session, view.request_id) or view
        if view.status is not RequestStatus.PENDING:  # R21: say when it ended and by whom
            view = history.with_transitions(session, [view])[0]
        winner = (
            _view(session, view.superseded_by)
            if view.status is RequestStatus.EXPIRED and view.superseded_by
            else None
        )
        approving = (
            session.get(BusinessCenter, view.approving_bc_id)
            if view.approving_bc_id is not None
            else None
        )
        return Outcome(
            view=view,
            winner=winner,
            viewer_on_team=viewer is not None and on_team(session, view.shop_code, viewer),
            approving_bc_name=approving.name if approving else None,
        )


@dataclass
class Approver:
    """The seller opening a personal link, and which of R12's scenarios they are in."""

    email: str
    name: str
    on_team: bool
    scenario: Scenario | None = None
    linked_bc: BusinessCenter | None = None  # S1
    admin_bcs: list[BusinessCenter] = field(default_factory=list)  # S3
    member_bcs: list[BusinessCenter] = field(default_factory=list)  # S4
    bc_admins: list[str] = field(default_factory=list)  # S4: whom to ask


def approver(engine: Engine, shop_code: str, email: str) -> Approver:
    with read_session(engine) as session:
        shop = session.exec(select(Shop).where(Shop.code == shop_code)).first()
        user = find_user(session, email)
        if (
            shop is None
            or user is None
            or user.id is None
            or not on_team(session, shop_code, email)
        ):
            return Approver(email=email, name=email, on_team=False)
        found = Approver(
            email=email, name=user.name, on_team=True,
            scenario=scenario_for(session, shop, user.id),
        )  # fmt: skip
        if found.scenario is Scenario.S1 and shop.linked_bc_id is not None:
            found.linked_bc = session.get(BusinessCenter, shop.linked_bc_id)
        bcs = seller_bcs(session, user.id)
        found.admin_bcs = [bc for bc, role in bcs if role is MemberRole.ADMIN]
        found.member_bcs = [bc for bc, role in bcs if role is not MemberRole.ADMIN]
        if found.scenario is Scenario.S4:
            found.bc_admins = sorted(
                {e for bc in found.member_bcs for e in bc_admin_emails(session, bc.id)}
            )
        return found


def is_on_team(engine: Engine, shop_code: str, email: str) -> bool:
    """R13: is ``email`` the shop's owner, a main admin or an ad manager?"""
    with read_session(engine) as session:
        return on_team(session, shop_code, email)


def on_team(session: Session, shop_code: str, email: str) -> bool:
    """R13 in one query: the one team check every page uses (sign-in, approval, removal)."""
    found = session.exec(
        select(ShopTeamMember.user_id)
        .join(Shop, Shop.id == ShopTeamMember.shop_id)  # type: ignore[arg-type]
        .join(User, User.id == ShopTeamMember.user_id)  # type: ignore[arg-type]
        .where(Shop.code == shop_code, User.email == normalise_email(email))
    ).first()
    return found is not None


@dataclass(frozen=True)
class Holder:
    """A BC holding the shop now: an active grant (R14, R17)."""

    grant_id: int
    bc_id: int
    bc_name: str
    relationship: Relationship
    permission: Permission
    since: object
    source_request_id: str | None


@dataclass
class SellerShop:
    shop: Shop
    role: str
    requests: list[RequestView]  # each with its transitions (store/history.py)
    holders: list[Holder]
    # R12 S4: the viewer cannot approve from any BC yet; whom to ask (empty otherwise).
    cannot_approve: bool = False
    member_bcs: list[BusinessCenter] = field(default_factory=list)
    bc_admins: list[str] = field(default_factory=list)
    # R28: the shop's times are shown in its linked BC's timezone, as its approval page
    # shows them (web.locale.refine); None: UTC.
    timezone: str | None = None


def seller_shops(engine: Engine, email: str) -> list[SellerShop]:
    """R15: every shop the seller is on the team of, with its whole request history."""
    with read_session(engine) as session:
        user = find_user(session, email)
        if user is None:
            return []
        rows = session.exec(
            select(Shop, ShopTeamMember.role)
            .join(ShopTeamMember, ShopTeamMember.shop_id == Shop.id)  # type: ignore[arg-type]
            .where(ShopTeamMember.user_id == user.id)
            .order_by(Shop.name)
        ).all()
        shops = []
        for shop, role in rows:
            assert shop.id is not None
            found = SellerShop(
                shop=shop,
                role=TeamRole(role).value.replace("_", " "),
                requests=history.with_transitions(
                    session, queries.requests_for_shop(session, shop.id)
                ),
                holders=_holders(session, shop.id),
                timezone=_shop_timezone(session, shop),
            )
            if any(r.status is RequestStatus.PENDING for r in found.requests):
                _who_may_approve(session, found, user.id or 0)
            shops.append(found)
        return shops


def _shop_timezone(session: Session, shop: Shop) -> str | None:
    linked = session.get(BusinessCenter, shop.linked_bc_id) if shop.linked_bc_id else None
    return linked.timezone if linked is not None else None


def _who_may_approve(session: Session, found: SellerShop, user_id: int) -> None:
    """R12 S4 on partner management: the same test as the approval page, so the list
    never offers an approval the page would refuse."""
    if scenario_for(session, found.shop, user_id) is not Scenario.S4:
        return
    found.cannot_approve = True
    found.member_bcs = [bc for bc, role in seller_bcs(session, user_id)]
    found.bc_admins = sorted(
        {e for bc in found.member_bcs for e in bc_admin_emails(session, bc.id)}
    )


def _holders(session: Session, shop_id: int) -> list[Holder]:
    rows = session.exec(
        select(ShopGrant, BusinessCenter)
        .join(BusinessCenter, BusinessCenter.id == ShopGrant.bc_id)  # type: ignore[arg-type]
        .where(ShopGrant.shop_id == shop_id, col(ShopGrant.revoked_at).is_(None))
        .order_by(col(ShopGrant.created_at))
    ).all()
    return [
        Holder(
            grant_id=grant.id or 0,
            bc_id=bc.id,
            bc_name=bc.name,
            relationship=grant.relationship,
            permission=grant.permission,
            since=grant.created_at,
            source_request_id=grant.source_request_id,
        )
        for grant, bc in rows
    ]
