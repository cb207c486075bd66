"""A request walked end to end through the real worker and dev server (R7, R12 S1, R14),
on each store engine."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine
from sqlmodel import select

from client.access_requests import RequestService
from models.enums import Permission, Relationship, RequestMethod, RequestStatus
from models.messages import ApproveRequest, RequestResult
from models.tables import ShopGrant
from store.db import read_session
from tests.conftest import AGENCY, ANA, OLI, S1_SHOP, outbox_messages


@pytest.fixture()
def engine(store_engine: Engine) -> Engine:
    """Run this module's workflows on SQLite and on PostgreSQL."""
    return store_engine


async def test_r14_s1_approval_makes_the_agency_a_partner(
    service: RequestService, demo, settings
) -> None:
    sub = await service.submit(
        method=RequestMethod.REQUEST_ACCESS, bc_id=AGENCY, shop_code=S1_SHOP, by=ANA
    )
    assert sub.status == "pending"
    outcome = await service.approve(sub.request_id, ApproveRequest(by=OLI))
    assert outcome.status is RequestStatus.APPROVED
    assert (outcome.relationship, outcome.permission) == (
        Relationship.PARTNER,
        Permission.AD_PROMOTION,
    )
    handle = service.client.get_workflow_handle(sub.workflow_id, result_type=RequestResult)
    result = await handle.result()
    assert result.status == "approved"
    with read_session(demo) as session:
        grants = session.exec(select(ShopGrant).where(ShopGrant.bc_id == AGENCY)).all()
    assert len(grants) == 1
    subjects = sorted(m["Subject"] for m in outbox_messages(settings))
    assert any(s.startswith("Approved:") for s in subjects)
    assert any("asks for access" in s for s in subjects)
