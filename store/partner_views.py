"""What the partner-side pages show (web/partners.py removal, web/invitations.py), read
from the store: the grant a removal would end, the removal that ended it, and what an
invitation offers. Reads only; the changes go through workflows (client/partners.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import Engine
from sqlmodel import select

from models.tables import AccessRemoval, BusinessCenter, Invitation, Shop, ShopGrant, utcnow
from store.db import read_session
from store.invitations import OfferedShop, find_invitation_details


@dataclass(frozen=True)
class GrantOfShop:
    """A grant (R17) with its shop and the name of the Business Center holding it."""

    shop: Shop
    grant: ShopGrant
    bc_name: str


def grant_of_shop(engine: Engine, shop_code: str, grant_id: int) -> GrantOfShop | None:
    """The grant ``grant_id`` if it is one of shop ``shop_code``'s (any case), else None."""
    with read_session(engine) as session:
        grant = session.get(ShopGrant, grant_id)
        shop = session.get(Shop, grant.shop_id) if grant else None
        bc = session.get(BusinessCenter, grant.bc_id) if grant else None
    if grant is None or shop is None or bc is None or shop.code != shop_code.upper():
        return None
    return GrantOfShop(shop=shop, grant=grant, bc_name=bc.name)


def removal_of(engine: Engine, shop_id: int, grant_id: int) -> AccessRemoval | None:
    """R19: the removal that ended ``grant_id`` (directly or downstream), if any."""
    with read_session(engine) as session:
        removals = session.exec(select(AccessRemoval).where(AccessRemoval.shop_id == shop_id))
        for removal in removals.all():
            if grant_id in json.loads(removal.ended_grant_ids):
                return removal
    return None


@dataclass(frozen=True)
class InvitationDetails:
    """R16, R17: an invitation, who sends it, and what accepting it would give."""

    invitation: Invitation
    inviter: BusinessCenter | None
    partner: BusinessCenter | None
    accounts: list[tuple[str, int, str]]  # (name, id, permission) of each ad account
    shops: list[ShopOnOffer]  # by shop code


class ShopOnOffer(NamedTuple):
    """A shop an add-partner invitation offers, as its page reads it (R17, R23)."""

    name: str
    code: str
    permission: str  # in words
    ends_at: datetime | None  # when the share ends once accepted, None: no end
    ended: bool  # that moment has passed: accepting no longer gives this shop


def shop_on_offer(shop: OfferedShop) -> ShopOnOffer:
    return ShopOnOffer(
        shop.name,
        shop.code,
        shop.permission.value.replace("_", " "),
        shop.ends_at,
        shop.ends_at is not None and shop.ends_at <= utcnow(),
    )


def invitation_details(engine: Engine, invitation_id: str) -> InvitationDetails | None:
    """Everything the invitation page shows, in one session; None for an unknown id. The
    same read as the invitation e-mails (store.invitations.find_invitation_details)."""
    with read_session(engine) as session:
        found = find_invitation_details(session, invitation_id)
    if found is None:
        return None
    return InvitationDetails(
        invitation=found.invitation,
        inviter=found.bc,
        partner=found.partner,
        accounts=[(a.name, a.id, a.permission.value) for a in found.ad_accounts],
        shops=[shop_on_offer(s) for s in found.shops],
    )
