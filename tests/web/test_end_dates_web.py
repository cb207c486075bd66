"""R23 on the web: the approval page's optional end date (S1 here; the field is the same
include in S2 and S3), and the seller changing or clearing it on partner management. A
date refused, or a forged form, changes nothing."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import httpx
from sqlalchemy import Engine
from sqlmodel import select
from temporalio.client import WorkflowExecutionStatus
from temporalio.service import RPCError

from client.access_requests import RequestService
from models.end_date_messages import EndDateState
from models.names import EndDateName, access_end_workflow_id
from models.settings import Settings
from models.tables import ShopGrant
from store.db import read_session
from tests.conftest import AGENCY, OLI, S1_SHOP, wait_until
from tests.web.conftest import csrf_in, personal_path, snapshot, submit


def _grant(demo: Engine) -> ShopGrant:
    with read_session(demo) as session:
        return session.exec(select(ShopGrant).where(ShopGrant.bc_id == AGENCY)).one()


def _midnight_after(day: date) -> datetime:
    return datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=UTC)


async def test_r23_approve_with_an_end_date_then_change_and_clear_it_on_partner_management(
    http: httpx.AsyncClient, service: RequestService, settings: Settings, demo: Engine
) -> None:
    sub = await submit(service, S1_SHOP)
    link = personal_path(settings, sub.request_id, OLI)
    page = await http.get(link)
    assert 'name="until" type="date"' in page.text  # optional: no "required"

    # A date already past re-shows the form (422) and decides nothing.
    before = snapshot(demo)
    past = await http.post(link, data={"csrf": csrf_in(page.text), "until": "2001-01-01"})
    assert past.status_code == 422 and "already passed" in past.text
    assert snapshot(demo) == before

    day = date.today() + timedelta(days=30)
    done = await http.post(link, data={"csrf": csrf_in(page.text), "until": day.isoformat()})
    assert done.status_code == 200 and "<h1>Approved</h1>" in done.text
    grant = _grant(demo)
    assert grant.ends_at == _midnight_after(day) and grant.id is not None
    timer = service.client.get_workflow_handle(access_end_workflow_id(grant.id))

    async def armed_at(moment: datetime | None) -> bool:
        # The request workflow starts the timer after the decision (R23): not there yet
        # is a state to wait through, not a failure.
        try:
            state = await timer.query(EndDateName.STATE, result_type=EndDateState)
        except RPCError:
            return False
        return state.ends_at == moment

    await wait_until(lambda: armed_at(_midnight_after(day)), what="the timer armed")

    signin = await http.post(link + "/signin", data={"csrf": csrf_in(done.text, "signin")})
    assert signin.status_code == 303
    listing = (await http.get("/partners")).text
    assert f'data-ends-at="{_midnight_after(day).isoformat()}"' in listing
    action = f"/partners/{S1_SHOP}/grants/{grant.id}/until"
    token = listing.split(f'action="{action}"')[1].split('name="csrf" value="')[1].split('"')[0]

    before = snapshot(demo)
    forged = await http.post(action, data={"csrf": "forged", "until": "2030-01-01"})
    assert forged.status_code == 403 and snapshot(demo) == before
    bad = await http.post(action, data={"csrf": token, "until": "2001-01-01"})
    assert bad.status_code == 422 and "already passed" in bad.text
    assert snapshot(demo) == before

    later = day + timedelta(days=30)
    changed = await http.post(action, data={"csrf": token, "until": later.isoformat()})
    assert changed.status_code == 303
    assert _grant(demo).ends_at == _midnight_after(later)
    await wait_until(lambda: armed_at(_midnight_after(later)), what="the timer re-armed")

    cleared = await http.post(action, data={"csrf": token, "clear": "1"})
    assert cleared.status_code == 303
    assert _grant(demo).ends_at is None
    assert 'data-ends-at=""' in (await http.get("/partners")).text

    async def timer_closed() -> bool:
        return (await timer.describe()).status is WorkflowExecutionStatus.COMPLETED

    await wait_until(timer_closed, what="the timer ended")
