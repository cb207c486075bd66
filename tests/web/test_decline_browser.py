"""R22 in headless chromium: the seller opens the e-mailed link, types a reason, declines
beside Approve, and sees the declined outcome; the requester's mail carries the reason.
Screenshots go to test-artifacts/screenshots/."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine

from client.access_requests import RequestService
from models.enums import RequestStatus
from models.settings import Settings
from models.tables import AccessRequest
from store.db import read_session
from tests.conftest import ANA, OLI, S1_SHOP, outbox_messages, wait_until
from tests.web.conftest import LiveServer, screenshot, submit
from tests.web.test_browser import emailed_link, grants

pytestmark = pytest.mark.browser


async def test_r22_seller_declines_with_a_reason_from_the_email(
    live_server: LiveServer, page: Any, service: RequestService, settings: Settings,
    demo: Engine,
) -> None:  # fmt: skip
    sub = await submit(service, S1_SHOP)
    await page.goto(emailed_link(settings, sub.request_id, OLI))
    await page.get_by_role("heading", name="Or decline").wait_for()
    await page.get_by_label("Reason (optional)").fill("We only work with agencies we know")
    await screenshot(page, "r22-decline")
    await page.get_by_role("button", name="Decline", exact=True).click()
    await page.get_by_role("heading", name="You declined this request").wait_for()
    assert "We only work with agencies we know" in await page.content()
    await screenshot(page, "r22-declined")
    with read_session(demo) as session:
        row = session.get(AccessRequest, sub.request_id)
        assert row is not None and row.status is RequestStatus.DECLINED
    assert grants(demo, sub.request_id) == 0

    def declined_mail() -> list[Any]:
        return [
            m for m in outbox_messages(settings)
            if m["To"] == ANA and m["Subject"].startswith("Declined:")
        ]  # fmt: skip

    (mail,) = await wait_until(declined_mail, what="the requester's declined e-mail")
    assert "We only work with agencies we know" in mail.get_body(("plain",)).get_content()
