"""R16/R17 invitation pages: the link in the invitation e-mail shows what is offered (GET
changes nothing), and accepting or declining is a signed POST answered by the same
workflow as the CLI. Over HTTP, then in headless chromium like the approval pages."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, create_engine, text
from sqlmodel import select

from client.access_requests import RequestService
from client.partners import PartnerService
from models.enums import MemberRole, Permission
from models.partner_enums import AdAccountPermission
from models.partner_messages import AdAccountGrant
from models.settings import Settings
from models.tables import BCMember, User
from store.db import read_session
from tests.conftest import (
    AGENCY,
    ANA,
    LEE,
    OLI,
    S1_SHOP,
    SUBAGENCY,
    outbox_messages,
    wait_until,
)
from tests.partners_support import (
    AGENCY_ADS,
    NEW_MEMBER,
    approved_partner,
    snapshot,
)
from tests.web import conftest as web


async def emailed_invitation(settings: Settings, to: str) -> str:
    """The accept link in the invitation e-mail ``to`` received (sent by the workflow), once
    the store also records it sent: the outbox file is written before its delivery row
    commits, and a test that snapshots the store next must see that row already there."""
    engine = create_engine(settings.database_url)

    def sent_link() -> str:
        for message in outbox_messages(settings):
            body = message.get_body(preferencelist=("plain",)).get_content()
            if message["To"] != to or "/invitations/" not in body:
                continue
            with engine.connect() as conn:
                recorded = conn.execute(
                    text(
                        "SELECT 1 FROM email_delivery WHERE message_id = :m AND sent_at IS NOT NULL"
                    ),
                    {"m": message["Message-ID"]},
                ).first()
            if recorded:
                return next(line.strip() for line in body.splitlines() if "/invitations/" in line)
        return ""

    try:
        link: str = await wait_until(sent_link, what=f"an invitation e-mail to {to}, recorded sent")
    finally:
        engine.dispose()
    return link


def _path(link: str) -> str:
    return "/invitations/" + link.split("/invitations/", 1)[1]


async def test_r16_invitee_accepts_from_the_emailed_link(
    http: httpx.AsyncClient, service: RequestService, settings: Settings, demo: Engine
) -> None:
    partners = PartnerService(service.client, demo, settings.task_queue, timeout=20)
    await partners.invite_members(
        bc_id=AGENCY,
        emails=[NEW_MEMBER],
        role=MemberRole.STANDARD,
        by=ANA,
        ad_accounts=[
            AdAccountGrant(ad_account_id=AGENCY_ADS, permission=AdAccountPermission.OPERATOR)
        ],
    )
    path = _path(await emailed_invitation(settings, NEW_MEMBER))
    before = snapshot(demo)
    shown = await http.get(path)
    assert shown.status_code == 200 and snapshot(demo) == before
    assert "Join Agency One on Business Center" in shown.text and "operator" in shown.text

    assert (await http.get(path[:-4] + "AAAA")).status_code == 400  # tampered link
    assert (await http.post(path + "/accept", data={"csrf": "x"})).status_code == 403
    assert snapshot(demo) == before

    csrf = web.csrf_in(shown.text, "accept")
    done = await http.post(path + "/accept", data={"csrf": csrf})
    assert done.status_code == 200 and "Invitation accepted</h1>" in done.text
    with read_session(demo) as session:
        user = session.exec(select(User).where(User.email == NEW_MEMBER)).one()
        assert session.get(BCMember, (AGENCY, user.id)) is not None
    again = await http.post(path + "/accept", data={"csrf": csrf})
    assert "This invitation was accepted" in again.text


async def test_r17_partner_admin_declines_and_nothing_is_shared(
    http: httpx.AsyncClient, service: RequestService, settings: Settings, demo: Engine
) -> None:
    await approved_partner(service, bc_id=AGENCY, shop_code=S1_SHOP, admin=ANA, seller=OLI)
    partners = PartnerService(service.client, demo, settings.task_queue, timeout=20)
    await partners.share_shop(
        bc_id=AGENCY,
        shop_code=S1_SHOP,
        partner_bc_id=SUBAGENCY,
        permission=Permission.AD_PROMOTION,
        by=ANA,
    )
    path = _path(await emailed_invitation(settings, LEE))
    shown = await http.get(path)
    assert "Become Agency One's partner" in shown.text and S1_SHOP in shown.text
    done = await http.post(path + "/decline", data={"csrf": web.csrf_in(shown.text, "decline")})
    assert "Invitation declined" in done.text
    assert partners.shops(SUBAGENCY) == []


@pytest.mark.browser
async def test_r17_partner_accepts_in_the_browser(
    live_server: Any, page: Any, service: RequestService, settings: Settings, demo: Engine
) -> None:
    await approved_partner(service, bc_id=AGENCY, shop_code=S1_SHOP, admin=ANA, seller=OLI)
    partners = PartnerService(service.client, demo, settings.task_queue, timeout=20)
    await partners.share_shop(
        bc_id=AGENCY,
        shop_code=S1_SHOP,
        partner_bc_id=SUBAGENCY,
        permission=Permission.AD_PROMOTION,
        by=ANA,
    )
    await page.goto(await emailed_invitation(settings, LEE))
    await page.get_by_role("heading", name="Become Agency One's partner").wait_for()
    await web.screenshot(page, "r17-partner-invitation")
    await page.get_by_role("button", name="Accept invitation").click()
    await page.get_by_role("heading", name="Invitation accepted").wait_for()
    await web.screenshot(page, "r17-partner-invitation-accepted")
    assert [s.shop_code for s in partners.shops(SUBAGENCY)] == [S1_SHOP]
