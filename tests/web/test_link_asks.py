"""The hourly cap on personal-link asks from a copied link (R7): at most
three asks per request and per address in any hour; past that, the same page and status
as any ask, and no e-mail. The count is in the store, so it holds across web processes."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
from sqlalchemy import Engine
from temporalio.api.enums.v1 import EventType

from client.access_requests import RequestService, Submitted
from models.enums import RequestMethod
from models.settings import Settings
from models.tables import utcnow
from store import link_asks
from tests.conftest import AGENCY, ANA, LEE, OLI, S1_SHOP, SUBAGENCY, outbox_messages
from tests.web.conftest import LiveServer, copy_path, csrf_in, snapshot, submit


async def ask(web: httpx.AsyncClient, settings: Settings, sub: Submitted, email: str) -> str:
    """Ask for a personal link as someone holding the copied link; the page, address
    replaced, so answers for different addresses compare."""
    path = copy_path(settings, sub.request_id)
    form = await web.get(path)
    answer = await web.post(
        path + "/personal-link", data={"csrf": csrf_in(form.text, "personal-link"), "email": email}
    )
    assert answer.status_code == 200
    return answer.text.replace(email.lower(), "ADDRESS")


def links_mailed_to(settings: Settings, address: str) -> list[str]:
    return [
        m.get_body(preferencelist=("plain",)).get_content()
        for m in outbox_messages(settings)
        if m["To"] == address and "Your link to review" in m["Subject"]
    ]


async def asks_sent(service: RequestService, sub: Submitted) -> int:
    """How many personal-link updates reached the request's workflow."""
    history = await service.client.get_workflow_handle(sub.workflow_id).fetch_history()
    return sum(
        1
        for event in history.events
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
        and event.workflow_execution_update_accepted_event_attributes.accepted_request.input.name
        == "send_personal_link"
    )


async def test_r7_the_fourth_ask_for_a_request_gets_the_same_page_and_no_mail(
    http: httpx.AsyncClient,
    live_server: LiveServer,
    service: RequestService,
    settings: Settings,
    demo: Engine,
) -> None:
    sub = await submit(service, S1_SHOP)
    async with httpx.AsyncClient(base_url=live_server.url) as other_process:
        # Two web apps over one store: the ASGI app here and the live server.
        first = await ask(http, settings, sub, "one@example.com")
        assert await ask(other_process, settings, sub, "two@example.com") == first
        assert await ask(http, settings, sub, "three@example.com") == first
        assert await asks_sent(service, sub) == 3
        before = snapshot(demo)
        fourth = await ask(other_process, settings, sub, OLI)  # a team member, capped
    assert fourth == first
    # The workflow never heard of it, so its run loop has nothing to mail.
    assert await asks_sent(service, sub) == 3
    assert links_mailed_to(settings, OLI) == []
    assert snapshot(demo) == before


async def test_r7_the_fourth_ask_for_an_address_in_an_hour_sends_nothing(
    http: httpx.AsyncClient, service: RequestService, settings: Settings, demo: Engine
) -> None:
    requests = [
        await submit(service, S1_SHOP, method=method, bc_id=bc_id, by=by)
        for method in (RequestMethod.REQUEST_ACCESS, RequestMethod.ADD_MY_SHOP)
        for bc_id, by in ((AGENCY, ANA), (SUBAGENCY, LEE))
    ]
    for sub in requests[:3]:
        await ask(http, settings, sub, OLI.upper())
    for _ in range(200):  # the three allowed asks are mailed
        if len(links_mailed_to(settings, OLI)) == 3:
            break
        await asyncio.sleep(0.05)
    assert len(links_mailed_to(settings, OLI)) == 3
    before = snapshot(demo)
    capped = await ask(http, settings, requests[3], OLI)
    assert await asks_sent(service, requests[3]) == 0  # nothing queued, nothing to mail
    assert len(links_mailed_to(settings, OLI)) == 3
    assert snapshot(demo) == before
    # The same page a stranger's (allowed) ask gets for that request.
    assert await ask(http, settings, requests[3], "stranger@example.com") == capped
    assert await asks_sent(service, requests[3]) == 1


def test_the_cap_slides_with_the_hour_and_refused_asks_count(demo: Engine) -> None:
    start = utcnow()

    def allowed(request_id: str, address: str, minutes: float) -> bool:
        return link_asks.record_and_allow(
            demo,
            request_id=request_id,
            address=address,
            per_hour=3,
            now=start + timedelta(minutes=minutes),
        )

    assert [allowed("req_a", f"{n}@example.com", n) for n in range(4)] == [
        True,
        True,
        True,
        False,
    ]
    assert allowed("req_a", "late@example.com", 50) is False  # the 4th counts too
    assert allowed("req_a", "later@example.com", 61) is False  # 2, 3, 50 and 61 in the hour
    assert allowed("req_a", "later@example.com", 120) is True
    # Per address, across requests, whatever the case.
    assert [allowed(f"req_{n}", "Some@Example.com", 200 + n) for n in range(4)] == [
        True,
        True,
        True,
        False,
    ]
