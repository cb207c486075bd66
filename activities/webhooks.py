"""Webhook activities (R26): wait for a subscription's next events, POST one signed
(Standard Webhooks, R30) to a checked target (R31), give up on one after 3 days. Thin over
store/webhooks.py and client/safe_targets.py; the dispatcher workflow orders them.

All three are async and run on the webhook task queue (``webhook_task_queue``), served by
a worker of their own whose slots are coroutines, not threads: an idle subscription's wait
holds none of the slots e-mails, grants and the request workflows' activities need.

Waiting costs one read per process, not per subscription: a :class:`HeadWatch` reads the
audit chain's one-row head every ``POLL_S`` while anything waits, and a wait reads its
subscription, replay flags and scope (three indexed reads) only when the head moved. Every
change a wait must see moves the head: new events, and the audit rows of a replay asked
or a subscription removed. So an idle subscription costs a coroutine and one activity
per ``max_wait_s`` in its history, whatever their number.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass

from sqlalchemy import Engine
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.refusals import refusals_as_errors
from client.safe_targets import TargetPolicy
from models.names import WebhookActivity
from models.webhook_messages import (
    Delivered,
    DeliverEvent,
    EventBatch,
    GiveUpEvent,
    WaitForEvents,
)
from store import webhooks
from store.db import read_session, write_session

log = logging.getLogger(__name__)

POLL_S = 0.5
HEARTBEAT_S = 2.0
"""How often a wait tells Temporal it is alive (the preset's heartbeat timeout is 10 s)."""


class HeadWatch:
    """The audit chain's head, read every ``POLL_S`` by one task while any wait waits,
    shared by every wait of the process."""

    def __init__(self, engine: Engine, interval: float = POLL_S) -> None:
        self._engine = engine
        self._interval = interval
        self.seq: int | None = None
        self.polls = 0
        self.waiting = 0
        self._moved: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None

    def _read(self) -> int:
        with read_session(self._engine) as session:
            return webhooks.head_seq(session)

    async def changed(self, since: int | None, timeout: float) -> bool:
        """True as soon as the head is not ``since`` (at once if it already is not),
        False after ``timeout``. Take ``since`` from :attr:`seq` before reading what the
        head guards, so a change between the two is never missed."""
        if self._moved is None:
            self._moved = asyncio.Event()
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="webhook-head-watch")
        self.waiting += 1
        try:
            async with asyncio.timeout(timeout):
                while self.seq == since:
                    await self._moved.wait()
            return True
        except TimeoutError:
            return False
        finally:
            self.waiting -= 1

    async def _run(self) -> None:
        while self.waiting:
            try:
                seq = await asyncio.to_thread(self._read)
            except Exception as err:  # the store away for a moment: waits time out meanwhile
                log.warning("webhook waits: reading the audit chain's head failed: %s", err)
                await asyncio.sleep(self._interval)
                continue
            self.polls += 1
            if seq != self.seq and self._moved is not None:
                self.seq, moved = seq, self._moved
                self._moved = asyncio.Event()
                moved.set()
            await asyncio.sleep(self._interval)


@dataclass(frozen=True)
class _Outgoing:
    """What one attempt sends, read in one session."""

    url: str
    keys: list[str]
    event_id: str
    body: bytes
    removed: bool


class WebhookActivities:
    def __init__(self, engine: Engine, targets: TargetPolicy) -> None:
        self._engine = engine
        self._targets = targets
        self.head = HeadWatch(engine)

    def _next(self, input: WaitForEvents) -> EventBatch | None:
        with read_session(self._engine) as session:
            sub = webhooks.require_subscription(session, input.subscription_id)
            if sub.removed_at is not None:
                return EventBatch(removed=True)
            replays = webhooks.replays(session, sub.id)
            seqs = webhooks.events_after(session, sub, input.after_seq, input.limit)
        return EventBatch(seqs=seqs, replays=replays) if seqs or replays else None

    @activity.defn(name=WebhookActivity.WAIT_FOR_EVENTS)
    async def wait_for_events(self, input: WaitForEvents) -> EventBatch:
        deadline = time.monotonic() + input.max_wait_s
        while True:
            seen = self.head.seq  # before reading: a change after this wakes us
            batch = await asyncio.to_thread(self._next, input)
            if batch is not None:
                return batch
            while not await self.head.changed(seen, min(HEARTBEAT_S, deadline - time.monotonic())):
                # A stopping worker ends its waits at once (nothing is lost: the dispatcher
                # schedules the next wait, which another worker takes) instead of holding
                # the shutdown for its grace period.
                if time.monotonic() >= deadline or activity.is_worker_shutdown():
                    return EventBatch()
                activity.heartbeat()

    def _outgoing(self, input: DeliverEvent) -> _Outgoing:
        with read_session(self._engine) as session:
            sub = webhooks.require_subscription(session, input.subscription_id)
            row = webhooks.event_row(session, input.seq)
            return _Outgoing(
                url=sub.url,
                keys=webhooks.signing_secrets(sub),
                event_id=webhooks.event_id(row.seq),
                body=json.dumps(webhooks.event_body(row, sub), sort_keys=True).encode(),
                removed=sub.removed_at is not None,
            )

    def _record(self, input: DeliverEvent, status: int | None, error: str | None) -> None:
        with write_session(self._engine) as session:
            sub = webhooks.require_subscription(session, input.subscription_id)
            row = webhooks.event_row(session, input.seq)
            webhooks.record_attempt(session, sub=sub, row=row, status_code=status, error=error)

    @activity.defn(name=WebhookActivity.DELIVER)
    async def deliver(self, input: DeliverEvent) -> Delivered:
        out = await asyncio.to_thread(refusals_as_errors(self._outgoing), input)
        if out.removed:
            return Delivered(skipped=True)
        # Signed per attempt: receivers refuse a timestamp older than a few minutes.
        headers = webhooks.signed_headers(out.keys, out.event_id, out.body, int(time.time()))
        answer = await self._targets.post(out.url, headers, out.body)
        await asyncio.to_thread(
            refusals_as_errors(self._record), input, answer.status, answer.error
        )
        if answer.error is not None:
            # Retried by the dispatcher's policy: backing off, for up to 3 days.
            raise ApplicationError(answer.error, type="webhook_not_accepted")
        return Delivered(status_code=answer.status)

    def _give_up(self, input: GiveUpEvent) -> None:
        with write_session(self._engine) as session:
            webhooks.give_up(session, input.subscription_id, input.seq, input.reason)

    @activity.defn(name=WebhookActivity.GIVE_UP)
    async def give_up(self, input: GiveUpEvent) -> None:
        await asyncio.to_thread(refusals_as_errors(self._give_up), input)
