"""R16, R17, R20 through the real worker: invitation workflows wait for an answer, refuse
what the store refuses (code, message, nothing stored), and an add-partner invitation
gathers every shop shared with the same BC until it is accepted."""

from __future__ import annotations

from typing import Any

import pytest
import pytest_asyncio
from sqlmodel import select

from client.access_requests import RequestService
from client.partners import PartnerService
from models.enums import MemberRole, Permission, RequestMethod
from models.errors import ErrorCode, Refusal
from models.messages import ApproveRequest
from models.partner_enums import AdAccountPermission, InvitationStatus
from models.partner_messages import AdAccountGrant, InvitationResult
from models.tables import Invitation
from store.db import read_session
from tests.conftest import (
    AGENCY,
    ANA,
    LEE,
    NIA,
    OLI,
    S1_SHOP,
    S2_SHOP,
    SAM,
    SUBAGENCY,
    WAIT_SECONDS,
    outbox_messages,
    wait_until,
)
from tests.partners_support import (
    AGENCY_ADS,
    approved_partner,
    load_extra,
    snapshot,
)


@pytest_asyncio.fixture(loop_scope="session")
async def partners(client, settings, engine, worker) -> PartnerService:
    return PartnerService(client, engine, settings.task_queue, timeout=WAIT_SECONDS)


def _subjects(settings) -> list[str]:
    return sorted(str(m["Subject"]).strip() for m in outbox_messages(settings))


async def test_r16_invites_several_addresses_at_once_each_with_its_link(
    partners: PartnerService, demo, settings
) -> None:
    grant = AdAccountGrant(ad_account_id=AGENCY_ADS, permission=AdAccountPermission.ANALYST)
    out = await partners.invite_members(
        bc_id=AGENCY,
        emails=["a@x.com", "B@x.com", "a@x.com"],
        role=MemberRole.ADMIN,
        ad_accounts=[grant],
        by=ANA,
    )
    assert sorted(o.email or "" for o in out) == ["a@x.com", "b@x.com"]
    assert {o.status for o in out} == {InvitationStatus.PENDING}
    # The e-mails are sent by the workflows after admission; wait for both.
    await wait_until(lambda: len(outbox_messages(settings)) == 2, what="both e-mails out")
    messages = outbox_messages(settings)
    assert sorted(m["To"] for m in messages) == ["a@x.com", "b@x.com"]
    body = messages[0].get_body(("plain",)).get_content()
    assert "/invitations/" in body and "Agency One - Ads SG" in body and "analyst" in body


async def test_r16_a_refused_invitation_stores_nothing(partners: PartnerService, demo) -> None:
    before = snapshot(demo)
    with pytest.raises(Refusal) as caught:
        await partners.invite_members(
            bc_id=AGENCY, emails=[SAM], role=MemberRole.STANDARD, ad_accounts=[], by=ANA
        )
    assert caught.value.code == ErrorCode.ALREADY_A_MEMBER
    assert "already a member" in caught.value.message
    assert snapshot(demo) == before


async def test_r16_a_wrong_answerer_is_refused_and_the_invitation_still_waits(
    partners: PartnerService, demo
) -> None:
    [inv] = await partners.invite_members(
        bc_id=AGENCY, emails=["c@x.com"], role=MemberRole.STANDARD, ad_accounts=[], by=ANA
    )
    with pytest.raises(Refusal) as caught:
        await partners.accept_invitation(inv.invitation_id, by=LEE)
    assert caught.value.code == ErrorCode.PERMISSION_DENIED
    assert "sent to another e-mail address" in caught.value.message
    with read_session(demo) as session:
        stored = session.get(Invitation, inv.invitation_id)
        assert stored is not None and stored.status is InvitationStatus.PENDING
    done = await partners.accept_invitation(inv.invitation_id, by="c@x.com")
    assert done.status is InvitationStatus.ACCEPTED
    handle = partners.client.get_workflow_handle(
        inv.workflow_id or "", result_type=InvitationResult
    )
    assert (await handle.result()).status == "accepted"
    with pytest.raises(Refusal) as again:
        await partners.accept_invitation(inv.invitation_id, by="c@x.com")
    assert again.value.code == ErrorCode.INVITATION_NOT_PENDING
    assert "is accepted" in again.value.message


async def test_r16_a_cancelled_invitation_ends_its_workflow(partners: PartnerService, demo) -> None:
    [inv] = await partners.invite_members(
        bc_id=AGENCY, emails=["d@x.com"], role=MemberRole.STANDARD, ad_accounts=[], by=ANA
    )
    with pytest.raises(Refusal) as caught:
        await partners.cancel_invitation(inv.invitation_id, by=SAM)
    assert caught.value.code == ErrorCode.NOT_BC_ADMIN
    out = await partners.cancel_invitation(inv.invitation_id, by=ANA)
    assert out.status is InvitationStatus.CANCELLED
    handle = partners.client.get_workflow_handle(
        inv.workflow_id or "", result_type=InvitationResult
    )
    assert (await handle.result()).status == "cancelled"


async def test_r17_shares_to_one_bc_join_one_invitation_until_accepted(
    service: RequestService, partners: PartnerService, demo, settings
) -> None:
    load_extra(demo)
    await approved_partner(service, bc_id=AGENCY, shop_code=S1_SHOP, admin=ANA, seller=OLI)
    sub = await service.submit(
        method=RequestMethod.REQUEST_ACCESS, bc_id=AGENCY, shop_code=S2_SHOP, by=ANA
    )
    await service.approve(
        sub.request_id, ApproveRequest(by=NIA, new_bc_name="Nia's BC", timezone="Asia/Singapore")
    )
    first = await partners.share_shop(
        bc_id=AGENCY,
        shop_code=S1_SHOP,
        partner_bc_id=SUBAGENCY,
        permission=Permission.AD_PROMOTION,
        by=ANA,
    )
    second = await partners.share_shop(
        bc_id=AGENCY,
        shop_code=S2_SHOP,
        partner_bc_id=SUBAGENCY,
        permission=Permission.AD_PROMOTION,
        by=ANA,
    )
    assert first.invitation_id == second.invitation_id and first.status == "invited"
    # A refused share to the open invitation leaves it as it was.
    with pytest.raises(Refusal) as caught:
        await partners.share_shop(
            bc_id=AGENCY,
            shop_code=S1_SHOP,
            partner_bc_id=SUBAGENCY,
            permission=Permission.MANAGER,
            by=ANA,
        )
    assert caught.value.code == ErrorCode.PERMISSION_DENIED
    answer = await partners.accept_invitation(first.invitation_id or "", by=LEE)
    assert len(answer.granted_shop_ids) == 2
    assert sorted(s.shop_code for s in partners.shops(SUBAGENCY)) == sorted([S1_SHOP, S2_SHOP])

    # Found by their keys: Sub-agency's admin reads Malay (its BC is in MY, R28).
    # The second share's e-mail is sent by the workflow after it joined: wait for it.
    def invites() -> list[Any]:
        found = [m for m in outbox_messages(settings) if ":shop-" in str(m["X-Shop-Access-Key"])]
        return found if len(found) >= 2 else []

    sent = await wait_until(invites, what="two invite e-mails")
    assert len(sent) == 2 and {str(m["To"]) for m in sent} == {LEE}  # one per shop
    # One invitation carried both shops.
    with read_session(demo) as session:
        assert len(session.exec(select(Invitation)).all()) == 1


async def test_r17_a_refused_first_share_starts_nothing(partners: PartnerService, demo) -> None:
    before = snapshot(demo)
    with pytest.raises(Refusal) as caught:
        await partners.share_shop(
            bc_id=AGENCY,
            shop_code=S1_SHOP,
            partner_bc_id=SUBAGENCY,
            permission=Permission.AD_PROMOTION,
            by=ANA,
        )
    assert caught.value.code == ErrorCode.SHOP_NOT_HELD
    assert snapshot(demo) == before
