"""Helpers shared by the partner-side tests (R16-R19): an approved partner, a third agency,
counting stopped campaigns. Plain functions; each test module declares its own fixtures.
"""

from __future__ import annotations

from sqlalchemy import Engine
from sqlmodel import func, select

from client.access_requests import RequestService
from models.enums import RequestMethod
from models.messages import ApproveRequest
from models.partner_enums import CampaignStatus
from models.tables import AuditEvent, Campaign
from tests.conftest import load_data

OTHER_AGENCY = 7100000000000000009
OTHER_ADMIN = "max@other-agency.com"
AGENCY_ADS = 7200000000000000001
SUB_ADS = 7200000000000000002
OTHER_ADS = 7200000000000000009
SUB_SUB = 7100000000000000010  # a partner of the sub-agency (two levels of onward shares)
SUB_SUB_ADMIN = "zoe@subsub.com"
SUB_SUB_ADS = 7200000000000000010
NEW_MEMBER = "new@agency-one.com"

EXTRA = {
    "users": [
        {"email": OTHER_ADMIN, "name": "Max (Other Agency admin)"},
        {"email": SUB_SUB_ADMIN, "name": "Zoe (Sub-sub-agency admin)"},
    ],
    "business_centers": [
        {
            "id": OTHER_AGENCY,
            "name": "Other Agency",
            "type": "agency",
            "country": "GB",
            "timezone": "Europe/London",
            "members": [{"email": OTHER_ADMIN, "role": "admin"}],
            "ad_accounts": [{"id": OTHER_ADS, "name": "Other Agency - Ads"}],
        },
        {
            "id": SUB_SUB,
            "name": "Sub-sub-agency",
            "type": "regular",
            "country": "VN",
            "timezone": "Asia/Ho_Chi_Minh",
            "members": [{"email": SUB_SUB_ADMIN, "role": "admin"}],
            "ad_accounts": [{"id": SUB_SUB_ADS, "name": "Sub-sub - Ads"}],
        },
    ],
}


def load_extra(engine: Engine) -> None:
    load_data(engine, EXTRA)


async def approved_partner(
    requests: RequestService, *, bc_id: int, shop_code: str, admin: str, seller: str
) -> str:
    """R14: ``bc_id`` asks for the shop and the seller approves; returns the request id."""
    sub = await requests.submit(
        method=RequestMethod.REQUEST_ACCESS, bc_id=bc_id, shop_code=shop_code, by=admin
    )
    await requests.approve(sub.request_id, ApproveRequest(by=seller))
    return sub.request_id


def campaign_counts(engine: Engine, bc_id: int) -> dict[str, int]:
    from store.db import read_session

    with read_session(engine) as session:
        rows = session.exec(
            select(Campaign.status, func.count())
            .where(Campaign.bc_id == bc_id)
            .group_by(Campaign.status)  # type: ignore[arg-type]
        ).all()
    counts = {s.value: 0 for s in CampaignStatus}
    counts.update({str(getattr(s, "value", s)): int(n) for s, n in rows})
    return counts


def stop_events_per_campaign(engine: Engine) -> dict[str, int]:
    """How many 'stopped' audit events each campaign has (R21: exactly one each)."""
    from store.db import read_session

    with read_session(engine) as session:
        rows = session.exec(
            select(AuditEvent.entity_id, func.count())
            .where(AuditEvent.entity == "campaign", AuditEvent.action == "stopped")
            .group_by(AuditEvent.entity_id)  # type: ignore[arg-type]
        ).all()
    return {str(i): int(n) for i, n in rows}


# --- store-level helpers ------------------------------------------------------------------


def grant_in_store(
    engine: Engine,
    *,
    bc_id: int,
    shop_code: str,
    admin: str,
    seller: str,
    method: RequestMethod = RequestMethod.REQUEST_ACCESS,
) -> str:
    """R14 without Temporal: admit and approve (S1, which grants) in the store; returns
    the request."""
    import uuid

    from store.admission import admit_request
    from store.approval import decide_approval
    from store.db import write_session
    from store.people import find_shop_by_code

    request_id = "req_" + uuid.uuid4().hex[:20]
    with write_session(engine) as session:
        shop = find_shop_by_code(session, shop_code)
        assert shop is not None and shop.id is not None
        admit_request(
            session,
            request_id=request_id,
            method=method,
            bc_id=bc_id,
            shop_id=shop.id,
            requested_by=admin,
            workflow_id="wf-" + request_id,
        )
    with write_session(engine) as session:
        # R14: approving writes the grant in the same transaction.
        decide_approval(session, request_id=request_id, by=seller)
    return request_id


def shop_id_of(engine: Engine, code: str) -> int:
    from store.db import read_session
    from store.people import find_shop_by_code

    with read_session(engine) as session:
        shop = find_shop_by_code(session, code)
    assert shop is not None and shop.id is not None
    return shop.id


def snapshot(engine: Engine) -> dict[str, list[dict[str, object]]]:
    """Every row of every table a partner-side refusal could touch (R21: nothing changed)."""
    from sqlmodel import SQLModel, text

    from store.db import read_session

    out: dict[str, list[dict[str, object]]] = {}
    with read_session(engine) as session:
        for name in sorted(SQLModel.metadata.tables):
            rows = session.execute(text(f'SELECT * FROM "{name}" ORDER BY 1')).mappings()
            out[name] = [dict(r) for r in rows]
    return out


def refused_without_change(engine: Engine, fn: object, code: str, *phrases: str) -> None:
    """Call ``fn`` in a write transaction; it must refuse with ``code``, say ``phrases``, and
    leave every table as it was."""
    import pytest

    from models.errors import Refusal
    from store.db import write_session

    before = snapshot(engine)
    with pytest.raises(Refusal) as caught, write_session(engine) as session:
        fn(session)  # type: ignore[operator]
    assert caught.value.code == code, caught.value.message
    for phrase in phrases:
        assert phrase in caught.value.message, caught.value.message
    assert snapshot(engine) == before
