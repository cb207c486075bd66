"""Importing reference data (users, BCs with members and ad accounts, shops with teams).

Idempotent: loading the same file twice changes nothing the second time; loading an
edited file updates names, roles and links in place. It never removes rows, because
requests and grants refer to them.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session

from models.reference import BusinessCenterIn, ReferenceData, ShopIn
from models.tables import AdAccount, BCMember, BusinessCenter, Shop, ShopTeamMember, User
from store import audit
from store.people import find_shop_by_code, find_user, normalise_email


@dataclass
class LoadCounts:
    users: int = 0
    business_centers: int = 0
    shops: int = 0


class _Users:
    """Users by address, created on first mention; one look-up per address per load."""

    def __init__(self, session: Session, actor: str) -> None:
        self._session = session
        self._actor = actor
        self._seen: dict[str, User] = {}

    def get(self, email: str, name: str | None = None) -> User:
        key = normalise_email(email)
        if key in self._seen:
            return self._seen[key]
        user = find_user(self._session, key)
        if user is None:
            user = User(email=key, name=name or key.split("@")[0])
            self._session.add(user)
            self._session.flush()
            audit.record(
                self._session,
                actor=self._actor,
                entity="user",
                entity_id=user.id or 0,
                action="created",
                email=key,
            )
        elif name and user.name != name:
            user.name = name
            self._session.add(user)
        self._seen[key] = user
        return user


def _load_bc(session: Session, b: BusinessCenterIn, users: _Users, actor: str) -> None:
    bc = session.get(BusinessCenter, b.id)
    if bc is None:
        bc = BusinessCenter(
            id=b.id, name=b.name, timezone=b.timezone, type=b.type, country=b.country
        )
        audit.record(
            session, actor=actor, entity="business_center", entity_id=b.id, action="created",
            name=b.name,
        )  # fmt: skip
    else:
        bc.name, bc.timezone, bc.type, bc.country = b.name, b.timezone, b.type, b.country
    session.add(bc)
    session.flush()
    for m in b.members:
        user = users.get(m.email)
        assert user.id is not None
        member = session.get(BCMember, (b.id, user.id))
        if member is None:
            session.add(BCMember(bc_id=b.id, user_id=user.id, role=m.role))
        elif member.role is not m.role:
            member.role = m.role
            session.add(member)
    for a in b.ad_accounts:
        account = session.get(AdAccount, a.id)
        if account is None:
            session.add(AdAccount(id=a.id, bc_id=b.id, name=a.name))
        else:
            account.name, account.bc_id = a.name, b.id
            session.add(account)


def _load_shop(session: Session, s: ShopIn, users: _Users, actor: str) -> None:
    code = s.code.upper()
    shop = find_shop_by_code(session, code)
    if shop is None:
        shop = Shop(code=code, name=s.name, location=s.location, linked_bc_id=s.linked_bc)
        audit.record(session, actor=actor, entity="shop", entity_id=code, action="created")
    else:
        shop.name, shop.location, shop.linked_bc_id = s.name, s.location, s.linked_bc
    session.add(shop)
    session.flush()
    assert shop.id is not None
    for t in s.team:
        user = users.get(t.email)
        assert user.id is not None
        member_row = session.get(ShopTeamMember, (shop.id, user.id))
        if member_row is None:
            session.add(ShopTeamMember(shop_id=shop.id, user_id=user.id, role=t.role))
        elif member_row.role is not t.role:
            member_row.role = t.role
            session.add(member_row)


def load_reference(session: Session, data: ReferenceData, *, actor: str = "ops") -> LoadCounts:
    users = _Users(session, actor)
    for u in data.users:
        users.get(u.email, u.name)
    for b in data.business_centers:
        _load_bc(session, b, users, actor)
    for s in data.shops:
        _load_shop(session, s, users, actor)
    session.flush()
    return LoadCounts(
        users=len(data.users), business_centers=len(data.business_centers), shops=len(data.shops)
    )
