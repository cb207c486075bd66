"""Waiting for events holds no worker capacity (R26 beside R7), on both stores.

More subscriptions than the worker has activity slots wait for events that never come,
each for far longer than this test waits for anything. A new request's first e-mail
(R7) must still go out, and an active subscription's event must still be delivered: with
the waits on the main task queue, the e-mail would wait for a slot until the first wait
ended (``IDLE_WAIT_S``), and the test's ``WAIT_SECONDS`` would run out long before.
"""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from temporalio.api.enums.v1 import PendingActivityState
from temporalio.client import Client

from client.access_requests import RequestService
from client.webhooks import start_dispatcher
from models.enums import RequestMethod
from models.names import webhook_dispatcher_id
from models.settings import Settings
from store import webhooks
from store.audit_export import Scope
from store.db import write_session
from tests.conftest import (
    AGENCY,
    ANA,
    S1_SHOP,
    S4_SHOP,
    WAIT_SECONDS,
    load_demo,
    outbox_messages,
    wait_until,
)
from tests.test_webhooks import SECRET, Receiver, receiver

__all__ = ["receiver"]  # the loopback receiver fixture

IDLE_WAIT_S = 3600.0
assert IDLE_WAIT_S > 10 * WAIT_SECONDS  # a wait ends only long after any test deadline


async def waits_started(client: Client, sub_ids: list[str]) -> int:
    """How many of the subscriptions' dispatchers have a wait running (holding a slot)."""
    started = 0
    for sub_id in sub_ids:
        desc = await client.get_workflow_handle(webhook_dispatcher_id(sub_id)).describe()
        started += sum(
            1
            for a in desc.raw_description.pending_activities
            if a.state == PendingActivityState.PENDING_ACTIVITY_STATE_STARTED
        )
    return started


def subscribe(engine: Engine, scope: Scope, url: str) -> Any:
    with write_session(engine) as session:
        sub = webhooks.add_subscription(
            session, scope=scope, url=url, created_by="ops", secret=SECRET
        )
        return sub.id, sub.start_seq


async def test_r26_idle_subscriptions_leave_a_first_email_and_deliveries_their_pace(
    store_engine: Engine, client: Client, tmp_path: Path, receiver: Receiver
) -> None:
    from worker import build_worker

    engine = store_engine
    load_demo(engine)
    settings = Settings(
        database_url=engine.url.render_as_string(hide_password=False),
        task_queue=f"test-{uuid.uuid4().hex[:10]}",
        mail_outbox_dir=tmp_path / "outbox",
        dev_mode=True,
    )
    slots = settings.activity_threads  # 2 on SQLite, 4 on PostgreSQL
    idle: list[str] = []
    active: list[str] = []
    with ThreadPoolExecutor(max_workers=slots) as executor:
        async with build_worker(client, settings, engine, executor):
            try:
                # More idle subscriptions than slots: a shop nobody asks for here.
                for _ in range(slots + 2):
                    sub_id, start = subscribe(engine, Scope(shop_code=S4_SHOP), receiver.url)
                    await start_dispatcher(
                        client, settings.task_queue, sub_id, start, max_wait_s=IDLE_WAIT_S
                    )
                    idle.append(sub_id)
                # ... and one that will have something to send.
                sub_id, start = subscribe(engine, Scope(shop_code=S1_SHOP), receiver.url)
                await start_dispatcher(client, settings.task_queue, sub_id, start, max_wait_s=5)
                active.append(sub_id)

                async def waiting(count: int) -> bool:
                    return await waits_started(client, idle) >= count

                # As many waits as the worker has slots: on the main queue, that is all.
                await wait_until(lambda: waiting(slots), what=f"{slots} idle waits running")

                service = RequestService(client, engine, settings.task_queue, timeout=WAIT_SECONDS)
                await service.submit(
                    method=RequestMethod.REQUEST_ACCESS, bc_id=AGENCY, shop_code=S1_SHOP, by=ANA
                )
                # R7's first e-mail, long before any idle wait could have ended.
                await wait_until(
                    lambda: outbox_messages(settings), what="the request's first e-mail (R7)"
                )
                await wait_until(
                    lambda: "access_request.requested" in receiver.types(),
                    what="the active subscription's event",
                )
                # Every idle wait runs at once, none of them ended: each holds a coroutine.
                await wait_until(lambda: waiting(len(idle)), what="every idle wait running")
            finally:
                with write_session(engine) as session:
                    for sub_id in [*idle, *active]:
                        webhooks.remove_subscription(session, sub_id, "ops")


async def test_r26_a_stopping_worker_ends_its_waits_at_once(
    demo: Engine, client: Client, settings: Settings
) -> None:
    """A worker shutting down completes its idle waits with nothing rather than holding
    its shutdown for them; the dispatcher then schedules the next wait for another
    worker. The history shows the wait completed, not cancelled or timed out."""
    from temporalio.api.enums.v1 import EventType

    from worker import build_worker

    sub_id, start = subscribe(demo, Scope(shop_code=S4_SHOP), "http://127.0.0.1:9/h")
    handle = client.get_workflow_handle(webhook_dispatcher_id(sub_id))
    with ThreadPoolExecutor(max_workers=settings.activity_threads) as executor:
        async with build_worker(client, settings, demo, executor):
            await start_dispatcher(
                client, settings.task_queue, sub_id, start, max_wait_s=IDLE_WAIT_S
            )
            await wait_until(lambda: waits_started(client, [sub_id]), what="the wait")

    async def wait_completed() -> bool:
        history = await handle.fetch_history()
        kinds = [e.event_type for e in history.events]
        return EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED in kinds

    assert await wait_completed()  # reported before the worker finished stopping
