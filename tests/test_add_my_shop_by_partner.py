"""The decision on "Add my shop" by a BC that already holds the shop as a partner
(docs/decisions.md): it is an upgrade to owner, not R6's "already holds the shop".

End to end through the real worker: the partner grant gives way to one owner grant
(R14), the BC's shop list shows the shop once, as owner (R8), and the seller's history
keeps both approvals (R15, R21). A BC that already owns the shop is still refused (R6).
"""

from __future__ import annotations

from sqlalchemy import Engine
from sqlmodel import col, select

from client.access_requests import RequestService
from models.enums import Permission, Relationship, RequestMethod, RequestStatus
from models.errors import ErrorCode, Refusal
from models.messages import ApproveRequest
from models.tables import AccessRequest, AuditEvent, ShopGrant
from store.db import read_session
from store.people import find_shop_by_code
from store.queries import requests_for_shop
from store.sharing import shops_for_bc
from tests.conftest import AGENCY, ANA, RAJ, RAJ_BC, S3_SHOP

RA, AMS = RequestMethod.REQUEST_ACCESS, RequestMethod.ADD_MY_SHOP


def grants(engine: Engine) -> list[ShopGrant]:
    with read_session(engine) as session:
        shop = find_shop_by_code(session, S3_SHOP)
        assert shop is not None
        return list(
            session.exec(
                select(ShopGrant)
                .where(ShopGrant.bc_id == AGENCY, ShopGrant.shop_id == shop.id)
                .order_by(col(ShopGrant.id))
            ).all()
        )


async def test_add_my_shop_by_a_partner_upgrades_its_grant_to_owner(
    service: RequestService, demo: Engine
) -> None:
    asked = await service.submit(method=RA, bc_id=AGENCY, shop_code=S3_SHOP, by=ANA)
    await service.approve(asked.request_id, ApproveRequest(by=RAJ, bc_id=RAJ_BC))
    [partner] = grants(demo)
    assert (partner.relationship, partner.permission, partner.revoked_at) == (
        Relationship.PARTNER,
        Permission.AD_PROMOTION,
        None,
    )

    # Not refused as "already has access": a partner may claim its own shop.
    claim = await service.submit(method=AMS, bc_id=AGENCY, shop_code=S3_SHOP, by=ANA)
    assert claim.status == RequestStatus.PENDING
    result = await service.approve(claim.request_id, ApproveRequest(by=RAJ))
    assert result.status is RequestStatus.APPROVED

    # One active grant, the owner's; the partner grant stays as history, ended.
    ended, owner = grants(demo)
    assert ended.id == partner.id and ended.revoked_at is not None
    assert (owner.relationship, owner.permission, owner.revoked_at) == (
        Relationship.OWNER,
        Permission.MANAGER,
        None,
    )
    assert owner.source_request_id == claim.request_id
    with read_session(demo) as session:
        held = shops_for_bc(session, AGENCY)
        assert [(h.shop_code, h.relationship) for h in held] == [(S3_SHOP, Relationship.OWNER)]
        # R15/R21: the seller's history keeps both approvals; the audit says why the
        # partner grant ended.
        shop = find_shop_by_code(session, S3_SHOP)
        assert shop is not None and shop.id is not None
        history = {(v.method, v.status) for v in requests_for_shop(session, shop.id)}
        assert history == {(RA, RequestStatus.APPROVED), (AMS, RequestStatus.APPROVED)}
        upgraded = session.exec(
            select(AuditEvent).where(
                AuditEvent.entity == "shop_grant",
                AuditEvent.entity_id == str(partner.id),
                AuditEvent.action == "upgraded_to_owner",
            )
        ).all()
        assert len(upgraded) == 1

    # R6: now it owns the shop, asking again either way is refused and changes nothing.
    for method in (AMS, RA):
        try:
            await service.submit(method=method, bc_id=AGENCY, shop_code=S3_SHOP, by=ANA)
        except Refusal as refusal:
            assert refusal.code == ErrorCode.ALREADY_HAS_ACCESS
            assert "already has access" in refusal.message
        else:
            raise AssertionError(f"{method} was admitted for a shop the BC owns")
    assert len(grants(demo)) == 2
    with read_session(demo) as session:
        rows = session.exec(select(AccessRequest).where(AccessRequest.bc_id == AGENCY)).all()
        assert len(rows) == 2
