"""Webhook activities (R26): wait for a subscription's next events, POST one signed, give
up on one after 3 days. Thin over store/webhooks.py; the dispatcher workflow orders them.

Waiting is an async activity that, every ``POLL_S``, reads the subscription, the audit
chain's one-row head and the log's replay flags (three primary-key or indexed reads, in a
thread of the event loop's default pool) and reads the scope's events only when the head
moved. So an idle subscription costs those reads twice a second on the worker and one
activity per ``max_wait_s`` in its history, and holds no activity slot's thread.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request

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
from store import webhooks
from store.db import read_session, write_session

POLL_S = 0.5
POST_TIMEOUT_S = 10.0
USER_AGENT = "shop-access-webhooks/1"


class WebhookActivities:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

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

    @activity.defn(name=WebhookActivity.DELIVER)
    @refusals_as_errors
    def deliver(self, input: DeliverEvent) -> Delivered:
        with read_session(self._engine) as session:
            sub = webhooks.require_subscription(session, input.subscription_id)
            row = webhooks.event_row(session, input.seq)
            body = json.dumps(webhooks.event_body(row, sub), sort_keys=True).encode()
        if sub.removed_at is not None:
            return Delivered(skipped=True)
        request = urllib.request.Request(
            sub.url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "User-Agent": USER_AGENT,
                webhooks.EVENT_ID_HEADER: webhooks.event_id(row.seq),
                webhooks.SIGNATURE_HEADER: webhooks.sign(sub.secret, body),
            },
        )
        status: int | None = None
        error: str | None = None
        try:
            with urllib.request.urlopen(request, timeout=POST_TIMEOUT_S) as response:
                status = int(response.status)
        except urllib.error.HTTPError as err:
            status, error = err.code, f"the receiver answered {err.code}"
        except (OSError, ValueError) as err:  # refused, reset, timed out, bad address
            error = f"no answer from the receiver: {err}"
        if error is None and not 200 <= (status or 0) < 300:
            error = f"the receiver answered {status}"
        with write_session(self._engine) as session:
            webhooks.record_attempt(session, sub=sub, row=row, status_code=status, error=error)
        if error is not None:
            # Retried by the dispatcher's policy: backing off, for up to 3 days.
            raise ApplicationError(error, type="webhook_not_accepted")
        return Delivered(status_code=status)

    @activity.defn(name=WebhookActivity.GIVE_UP)
    @refusals_as_errors
    def give_up(self, input: GiveUpEvent) -> None:
        with write_session(self._engine) as session:
            webhooks.give_up(session, input.subscription_id, input.seq, input.reason)
