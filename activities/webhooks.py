"""Webhook activities (R26): wait for a subscription's next events, POST one signed
(Standard Webhooks, R30) to a checked target (R31), give up on one after 3 days. Thin over
store/webhooks.py and service/safe_targets.py; the dispatcher workflow orders them.

All three are async and run on the webhook task queue (``webhook_task_queue``), served by
a worker of their own whose slots are coroutines, not threads: an idle subscription's wait
holds none of the slots e-mails, grants and the request workflows' activities need.

Waiting reads, every ``POLL_S``, the subscription, the audit chain's one-row head and the
log's replay flags (three primary-key or indexed reads, in a thread of the event loop's
default pool) and reads the scope's events only when the head moved. So an idle
subscription costs those reads twice a second on the worker and one activity per
``max_wait_s`` in its history.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass

from sqlalchemy import Engine
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.refusals import refusals_as_errors
from models.names import WebhookActivity
from models.webhook_messages import (
    Delivered,
    DeliverEvent,
    EventBatch,
    GiveUpEvent,
    WaitForEvents,
)
from service.safe_targets import TargetPolicy
from store import webhooks
from store.db import read_session, write_session

POLL_S = 0.5


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

    def _next(self, input: WaitForEvents, last_head: int | None) -> tuple[EventBatch | None, int]:
        with read_session(self._engine) as session:
            sub = webhooks.require_subscription(session, input.subscription_id)
            if sub.removed_at is not None:
                return EventBatch(removed=True), last_head or 0
            head = webhooks.head_seq(session)
            replays = webhooks.replays(session, sub.id)
            seqs = (
                webhooks.events_after(session, sub, input.after_seq, input.limit)
                if head != last_head
                else []
            )
        if seqs or replays:
            return EventBatch(seqs=seqs, replays=replays), head
        return None, head

    @activity.defn(name=WebhookActivity.WAIT_FOR_EVENTS)
    async def wait_for_events(self, input: WaitForEvents) -> EventBatch:
        deadline = time.monotonic() + input.max_wait_s
        head: int | None = None
        while True:
            batch, head = await asyncio.to_thread(self._next, input, head)
            if batch is not None:
                return batch
            if time.monotonic() >= deadline:
                return EventBatch()
            activity.heartbeat()
            await asyncio.sleep(POLL_S)

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
