"""The partner side's whole story, walked as a new user would, through the real worker and dev
server: after approval (R14) the agency invites a member (R16), assigns them, shares the
shop with a sub-agency (R17), both run campaigns (R18); the seller previews and removes the
agency (R19): the agency's and the sub-agency's campaigns stop and the shop leaves their
lists, while another agency's campaigns keep delivering (R19 "nothing else"), and the
seller's history says "revoked" (R15, R21).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from sqlmodel import select

from client.access_requests import RequestService
from client.partners import PartnerService
from models import i18n
from models.enums import MemberRole, Permission, RequestStatus
from models.errors import ErrorCode, Refusal
from models.partner_enums import AdAccountPermission, CampaignStatus
from models.partner_messages import AdAccountGrant
from models.tables import AccessRequest, MemberAssignment
from store.db import read_session
from tests.conftest import (
    AGENCY,
    ANA,
    LEE,
    OLI,
    S1_SHOP,
    SUBAGENCY,
    WAIT_SECONDS,
    outbox_messages,
)
from tests.partners_support import (
    AGENCY_ADS,
    NEW_MEMBER,
    OTHER_ADMIN,
    OTHER_ADS,
    OTHER_AGENCY,
    SUB_ADS,
    approved_partner,
    campaign_counts,
    load_extra,
)

HISTORIES = Path(__file__).resolve().parent / "histories"


@pytest_asyncio.fixture(loop_scope="session")
async def partners(client, settings, engine, worker) -> PartnerService:
    return PartnerService(client, engine, settings.task_queue, timeout=WAIT_SECONDS)


async def _record(partners: PartnerService, workflow_id: str, name: str) -> None:
    """Write a history for tests/test_replay.py (RECORD_HISTORIES=1 refreshes them)."""
    path = HISTORIES / f"{name}.json"
    if os.environ.get("RECORD_HISTORIES") != "1" and path.exists():
        return
    history = await partners.client.get_workflow_handle(workflow_id).fetch_history()
    HISTORIES.mkdir(exist_ok=True)
    path.write_text(json.dumps(json.loads(history.to_json()), indent=1))


async def test_r19_done_when_story(
    service: RequestService, partners: PartnerService, demo, settings
) -> None:
    load_extra(demo)
    agency_request = await approved_partner(
        service, bc_id=AGENCY, shop_code=S1_SHOP, admin=ANA, seller=OLI
    )
    await approved_partner(
        service, bc_id=OTHER_AGENCY, shop_code=S1_SHOP, admin=OTHER_ADMIN, seller=OLI
    )

    # R16: invite a new person with an ad account, they accept, then they are assigned.
    [invitation] = await partners.invite_members(
        bc_id=AGENCY,
        emails=[NEW_MEMBER],
        role=MemberRole.STANDARD,
        ad_accounts=[
            AdAccountGrant(ad_account_id=AGENCY_ADS, permission=AdAccountPermission.OPERATOR)
        ],
        by=ANA,
    )
    accepted = await partners.accept_invitation(invitation.invitation_id, by=NEW_MEMBER)
    assert accepted.status == "accepted"
    with pytest.raises(Refusal) as refused:  # R16 policy: never above the BC's own
        partners.assign_member(
            bc_id=AGENCY,
            shop_code=S1_SHOP,
            member=NEW_MEMBER,
            permission=Permission.MANAGER,
            by=ANA,
        )
    assert refused.value.code == ErrorCode.PERMISSION_DENIED
    partners.assign_member(
        bc_id=AGENCY,
        shop_code=S1_SHOP,
        member=NEW_MEMBER,
        permission=Permission.AD_PROMOTION,
        by=ANA,
    )

    # R17: the sub-agency is not yet a partner: an invitation carries the shop.
    shared = await partners.share_shop(
        bc_id=AGENCY,
        shop_code=S1_SHOP,
        partner_bc_id=SUBAGENCY,
        permission=Permission.AD_PROMOTION,
        by=ANA,
    )
    assert shared.status == "invited" and shared.invitation_id
    assert [s.shop_code for s in partners.shops(SUBAGENCY)] == []
    answer = await partners.accept_invitation(shared.invitation_id, by=LEE)
    assert answer.status == "accepted" and answer.granted_shop_ids
    [held] = partners.shops(SUBAGENCY)
    assert (held.shop_code, held.via, held.granted_by_bc_id) == (S1_SHOP, "share", AGENCY)

    # R18: everyone runs campaigns.
    for i in range(3):
        partners.create_campaign(
            ad_account_id=AGENCY_ADS, shop_code=S1_SHOP, name=f"Agency sale {i}", by=NEW_MEMBER
        )
    partners.create_campaign(ad_account_id=SUB_ADS, shop_code=S1_SHOP, name="Sub sale", by=LEE)
    partners.create_campaign(
        ad_account_id=OTHER_ADS, shop_code=S1_SHOP, name="Other sale", by=OTHER_ADMIN
    )

    # R19: the seller previews, then removes the agency.
    preview = partners.preview_removal(shop_code=S1_SHOP, partner_bc_id=AGENCY, by=OLI)
    assert (preview.delivering_campaigns, preview.total_delivering_campaigns) == (3, 4)
    assert [(d.bc_id, d.depth, d.delivering_campaigns) for d in preview.downstream] == [
        (SUBAGENCY, 1, 1)
    ]
    assert preview.member_assignments == 1
    ended, workflow_id = await partners.remove_access(
        shop_code=S1_SHOP, partner_bc_id=AGENCY, by=OLI
    )
    assert sorted(ended.lost_bc_ids) == sorted([AGENCY, SUBAGENCY])
    # At once: the shop is gone from both lists and no new campaign can use it.
    assert partners.shops(AGENCY) == [] and partners.shops(SUBAGENCY) == []
    with pytest.raises(Refusal) as refused:
        partners.create_campaign(ad_account_id=SUB_ADS, shop_code=S1_SHOP, name="Late", by=LEE)
    assert refused.value.code == ErrorCode.SHOP_NOT_HELD
    result = await partners.removal_result(workflow_id)
    assert (result.status, result.campaigns_stopped) == ("completed", 4)

    assert campaign_counts(demo, AGENCY) == {"delivering": 0, "stopped": 3}
    assert campaign_counts(demo, SUBAGENCY) == {"delivering": 0, "stopped": 1}
    assert campaign_counts(demo, OTHER_AGENCY) == {"delivering": 1, "stopped": 0}
    assert [s.shop_code for s in partners.shops(OTHER_AGENCY)] == [S1_SHOP]
    with read_session(demo) as session:
        request = session.get(AccessRequest, agency_request)
        assignments = session.exec(select(MemberAssignment)).all()
    assert request is not None and request.status is RequestStatus.REVOKED  # R15, R21
    assert [a.ended_at is not None for a in assignments] == [True]
    assert all(
        c.status is CampaignStatus.DELIVERING for c in partners.campaigns(bc_id=OTHER_AGENCY)
    )
    # R19's notice, each in its reader's language (R28): Sub-agency is in Malaysia.
    subject = "Access removed: %(bc_name)s no longer has access to %(shop_name)s"

    def notice_in(message: Any) -> bool:
        language = message["Content-Language"].replace("-", "_")
        prefix = i18n.gettext(language, subject).split("%(")[0]
        return str(message["Subject"]).strip().startswith(prefix)

    removed = {m["To"]: m["Content-Language"] for m in outbox_messages(settings) if notice_in(m)}
    assert removed == {ANA: "en", LEE: "ms"}

    await _record(partners, invitation.workflow_id or "", "MemberInvitation")
    await _record(partners, answer.workflow_id or "", "PartnerInvitation")
    await _record(partners, workflow_id, "RemovePartnerAccess")
