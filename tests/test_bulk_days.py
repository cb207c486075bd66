"""R24 with R4: a bulk request of 50 shop codes walked across two simulated days on the
time-skipping test server.

The BC already made 5 requests today, so the bulk admits 15 on day one (R4's 20 counts
every request of the BC), sleeps on a durable timer until midnight in the BC's timezone,
admits 20 on day two, sleeps again, and admits the rest on day three. The worker is
replaced while the bulk sleeps: the new one carries on, nothing admitted twice.

The store's clock is made to read the test server's clock (the store counts R4 days by
it); the test server has no custom search attributes, so, as in test_r9_no_expiry.py,
workflows start without them and their upserts are no-ops.
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine
from temporalio import workflow
from temporalio.common import TypedSearchAttributes
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

import client.access_requests
import store.admission
import store.quota
from client.access_requests import RequestService
from client.bulk import BulkService, parse_shop_codes
from models.bulk_messages import BulkProgress
from models.enums import RequestMethod
from models.names import BulkMessage, bulk_workflow_id
from models.settings import Settings
from store.db import read_session
from store.quota import quota_today
from tests.bulk_support import (
    BULK_ADMIN,
    BULK_BC,
    BULK_SHOPS,
    admitted_per_shop,
    bulk_data,
    rows,
    timezone_far_from_midnight,
)
from tests.conftest import WAIT_SECONDS, load_data, time_skipping_worker, wait_until
from worker import WORKFLOWS

SINGLES = BULK_SHOPS[:5]  # asked one by one before the bulk, on day one
# 48 new shops, one already pending (a single), one unknown code: 50 lines.
# Past the reset: the sleep's remainder passes in real time once the bulk is busy again
# (the test server does not skip time while activities run), so keep it short.
MARGIN = timedelta(seconds=1)
FILE = "\n".join(["shop_code", SINGLES[0], "UNKNOWN0000", *BULK_SHOPS[5:53]]) + "\n"


async def wait_status(bulk: BulkService, bulk_id: str, status: str, admitted: int) -> BulkProgress:
    async def reached() -> BulkProgress | None:
        step = await bulk.progress(bulk_id)
        return step if (step.status, step.admitted) == (status, admitted) else None

    found: BulkProgress | None = await wait_until(
        reached, timeout=3 * WAIT_SECONDS, interval=0.2, what=f"{status} with {admitted}"
    )
    assert found is not None
    return found


@pytest.mark.slow
async def test_r24_fifty_codes_walk_across_two_days_at_the_bcs_midnight(
    time_skipping_env: WorkflowEnvironment,
    engine: Engine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = time_skipping_env
    zone = timezone_far_from_midnight(await env.get_current_time())
    load_data(engine, bulk_data(zone))
    loop = asyncio.get_running_loop()

    def server_clock() -> datetime:
        # Called from activity threads, while the loop awaits them.
        return asyncio.run_coroutine_threadsafe(env.get_current_time(), loop).result(30)

    monkeypatch.setattr(store.admission, "utcnow", server_clock)
    monkeypatch.setattr(store.quota, "utcnow", server_clock)
    monkeypatch.setattr(workflow, "upsert_search_attributes", lambda *a, **k: None)
    monkeypatch.setattr(
        client.access_requests, "TypedSearchAttributes", lambda _pairs: TypedSearchAttributes.empty
    )
    settings = Settings(
        database_url=engine.url.render_as_string(hide_password=False),
        task_queue=f"bulk-days-{uuid.uuid4().hex[:10]}",
        mail_outbox_dir=tmp_path / "outbox",
        dev_mode=True,
    )
    requests = RequestService(env.client, engine, settings.task_queue, timeout=WAIT_SECONDS)
    bulk = BulkService(env.client, engine, settings.task_queue, timeout=WAIT_SECONDS)
    codes = parse_shop_codes(FILE)
    assert len(codes) == 50

    async with time_skipping_worker(env.client, settings, engine):
        for code in SINGLES:
            await requests.submit(
                method=RequestMethod.REQUEST_ACCESS, bc_id=BULK_BC, shop_code=code, by=BULK_ADMIN
            )
        bulk_id = await bulk.start(
            method=RequestMethod.REQUEST_ACCESS, bc_id=BULK_BC, shop_codes=codes, by=BULK_ADMIN
        )
        day1 = await wait_status(bulk, bulk_id, "waiting", 15)
        assert (day1.refused, day1.total) == (2, 50)
        refused = {r.shop_code: r.refusal_code for r in day1.results if r.outcome == "refused"}
        assert refused == {
            SINGLES[0]: "request_already_pending",
            "UNKNOWN0000": "unknown_shop_code",
        }
        # R4: it waits for midnight in the BC's timezone, not for 24 hours.
        assert day1.waiting_until is not None
        assert day1.waiting_until.astimezone(ZoneInfo(zone)).time().isoformat() == "00:00:00"
        with read_session(engine) as session:
            now = await env.get_current_time()
            assert quota_today(session, BULK_BC, now=now).remaining == 0
        assert len(rows(engine)) == 20

    # A new worker picks the sleeping bulk up; the timer is the server's, not the worker's.
    async with time_skipping_worker(env.client, settings, engine):
        await env.sleep(day1.waiting_until - await env.get_current_time() + MARGIN)
        day2 = await wait_status(bulk, bulk_id, "waiting", 35)
        assert day2.waiting_until is not None
        assert day2.waiting_until - day1.waiting_until == timedelta(days=1)
        await env.sleep(day2.waiting_until - await env.get_current_time() + MARGIN)
        done = await wait_status(bulk, bulk_id, "completed", 48)
        handle = env.client.get_workflow_handle(bulk_workflow_id(bulk_id), result_type=BulkProgress)
        assert await handle.result() == done
        assert await handle.query(BulkMessage.PROGRESS, result_type=BulkProgress) == done
        history = await handle.fetch_history()

    # The two days replay on today's code (a committed copy lives in tests/histories,
    # written when BULK_HISTORY_OUT names a directory).
    replayed = await Replayer(
        workflows=WORKFLOWS, data_converter=pydantic_data_converter
    ).replay_workflow(history, raise_on_replay_failure=False)
    assert replayed.replay_failure is None, replayed.replay_failure
    if out := os.environ.get("BULK_HISTORY_OUT"):
        path = Path(out) / "BulkAccessRequest_two_days.json"
        path.write_text(json.dumps(json.loads(history.to_json()), indent=1) + "\n")

    found = rows(engine)
    per_day = Counter(day for _id, _code, day in found)
    assert sorted(per_day.values(), reverse=True) == [20, 20, 13]  # days one, two, three
    assert len(per_day) == 3
    assert set(admitted_per_shop(engine).values()) == {1}  # none admitted twice
    admitted = {r.shop_code: r.request_id for r in done.results if r.outcome == "admitted"}
    assert set(admitted) == set(BULK_SHOPS[5:53])  # none skipped
    # Ordinary requests: the rows the bulk reports are the store's rows.
    assert set(admitted.values()) <= {request_id for request_id, _code, _day in found}
