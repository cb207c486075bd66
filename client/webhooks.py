"""Webhook subscriptions (R26, R30, R31; docs/webhooks.md) for the CLI and the API alike:
the checks (a target R31 refuses is ``invalid_input`` naming the rule), the writes,
starting a subscription's dispatcher workflow, secret rotation, and the public views."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from anyio import to_thread
from pydantic import BaseModel, Field
from sqlalchemy import Engine
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy

from client.safe_targets import TargetPolicy, TargetRefused
from models.errors import ErrorCode, Refusal
from models.names import WebhookWorkflowType, webhook_dispatcher_id
from models.tables import WebhookDelivery, WebhookSubscription
from models.views import ScopeView
from models.webhook_messages import DispatchInput, DispatchResult
from store import webhooks
from store.audit_export import Scope
from store.db import read_session, write_session

OPS = "ops"
"""The actor of the CLI's webhook commands, which name no user (the API names its token)."""


class SubscriptionView(BaseModel):
    """A subscription as shown: never its secret."""

    id: str
    scope: ScopeView = Field(description='{"shop_code": ...} or {"bc_id": "..."}')
    url: str
    created_at: str
    removed_at: str | None


class AddedSubscription(SubscriptionView):
    secret: str = Field(
        description="The signing secret (whsec_<base64>, Standard Webhooks): shown this "
        "once, never again."
    )
    workflow_id: str = Field(description="The subscription's dispatcher workflow.")


class RotatedSecret(SubscriptionView):
    secret: str = Field(description="The new signing secret: shown this once, never again.")
    previous_secret_until: str | None = Field(
        description="Until then every event carries two signatures, by the new secret and "
        "the previous one; null: the previous secret stopped signing at once."
    )


class DeliveryView(BaseModel):
    """One event in a subscription's delivery log."""

    event_id: str
    type: str
    status: str = Field(description="pending, delivered, failed or replay.")
    attempts: int
    last_status_code: int | None
    last_error: str | None
    last_attempt_at: str | None
    delivered_at: str | None


def subscription_view(sub: WebhookSubscription) -> SubscriptionView:
    return SubscriptionView(
        id=sub.id,
        scope=ScopeView.model_validate(webhooks.scope_of(sub).as_json()),
        url=sub.url,
        created_at=sub.created_at.isoformat(),
        removed_at=sub.removed_at.isoformat() if sub.removed_at else None,
    )


def delivery_view(entry: WebhookDelivery) -> DeliveryView:
    return DeliveryView(
        event_id=entry.event_id,
        type=entry.event_type,
        status=entry.status,
        attempts=entry.attempts,
        last_status_code=entry.last_status_code,
        last_error=entry.last_error,
        last_attempt_at=entry.last_attempt_at.isoformat() if entry.last_attempt_at else None,
        delivered_at=entry.delivered_at.isoformat() if entry.delivered_at else None,
    )


async def start_dispatcher(
    client: Client, task_queue: str, subscription_id: str, after_seq: int, **tuning: Any
) -> str:
    """Start the dispatcher, or find it running (starting twice is safe); its id."""
    workflow_id = webhook_dispatcher_id(subscription_id)
    await client.start_workflow(
        WebhookWorkflowType.DISPATCHER,
        DispatchInput(subscription_id=subscription_id, after_seq=after_seq, **tuning),
        id=workflow_id,
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        result_type=DispatchResult,
        static_summary=f"Webhook deliveries of {subscription_id}",
    )
    return workflow_id


def check_target(targets: TargetPolicy, url: str) -> None:
    """R31 at subscription: where the URL leads, resolved now (blocking)."""
    try:
        targets.check(url)
    except TargetRefused as refused:
        raise Refusal(ErrorCode.INVALID_INPUT, f"--url: {refused}.", field="url") from None


async def add_subscription(
    engine: Engine,
    connect: Callable[[], Awaitable[Client]],
    task_queue: str,
    *,
    scope: Scope,
    url: str,
    secret: str | None,
    by: str,
    targets: TargetPolicy,
    subscription_id: str | None = None,
) -> AddedSubscription:
    """Check, connect to Temporal, write, then start the dispatcher: no subscription is
    written while Temporal is out of reach. Should the start fail after the write, a
    retry naming the same ``subscription_id`` (a keyed API call) finds the row and starts
    its dispatcher; with no such id no retry can, so the row is marked removed rather
    than listed as active with nothing sending. Every delivery checks the target again
    (activities/webhooks.py)."""

    def check() -> None:
        with read_session(engine) as session:
            checked = webhooks.check_subscription(session, scope=scope, url=url, secret=secret)
        check_target(targets, checked)

    def write() -> WebhookSubscription:
        with write_session(engine) as session:
            return webhooks.add_subscription(
                session, scope=scope, url=url, created_by=by, secret=secret,
                subscription_id=subscription_id,
            )  # fmt: skip

    await to_thread.run_sync(check)
    client = await connect()
    sub = await to_thread.run_sync(write)
    try:
        workflow_id = await start_dispatcher(client, task_queue, sub.id, sub.start_seq)
    except Exception:
        if subscription_id is None:
            # Best effort: the start's own error is what the caller must see.
            with contextlib.suppress(Exception):
                await to_thread.run_sync(remove_subscription, engine, sub.id, by)
        raise
    return AddedSubscription(
        **subscription_view(sub).model_dump(), secret=sub.secret, workflow_id=workflow_id
    )


def subscription(engine: Engine, subscription_id: str) -> SubscriptionView:
    with read_session(engine) as session:
        return subscription_view(webhooks.require_subscription(session, subscription_id))


def subscriptions(engine: Engine) -> list[SubscriptionView]:
    """Every subscription, removed ones included, oldest first."""
    with read_session(engine) as session:
        return [subscription_view(s) for s in webhooks.subscriptions(session)]


def remove_subscription(engine: Engine, subscription_id: str, by: str) -> SubscriptionView:
    """Stop sending (idempotent); the dispatcher ends within a second or so."""
    with write_session(engine) as session:
        return subscription_view(webhooks.remove_subscription(session, subscription_id, by))


def deliveries(engine: Engine, subscription_id: str, limit: int = 100) -> list[DeliveryView]:
    """The delivery log, newest first."""
    with read_session(engine) as session:
        return [delivery_view(e) for e in webhooks.deliveries(session, subscription_id, limit)]


def replay(engine: Engine, subscription_id: str, event_id: str, by: str) -> DeliveryView:
    """Mark one logged event to be sent again, with the same id."""
    with write_session(engine) as session:
        return delivery_view(webhooks.ask_replay(session, subscription_id, event_id, by))


def rotate_secret(
    engine: Engine, subscription_id: str, *, by: str, overlap_hours: float, secret: str | None
) -> RotatedSecret:
    """A new signing secret; the previous one signs beside it for ``overlap_hours``."""
    limit = webhooks.MAX_OVERLAP / timedelta(hours=1)
    if not 0 <= overlap_hours <= limit:  # NaN too
        raise Refusal(
            ErrorCode.INVALID_INPUT,
            f"--overlap-hours must be from 0 to {limit:g}.",
            field="overlap_hours",
        )
    with write_session(engine) as session:
        sub = webhooks.rotate_secret(
            session,
            subscription_id,
            by=by,
            overlap=timedelta(hours=overlap_hours),
            secret=secret,
        )
        until = sub.previous_secret_until
        return RotatedSecret(
            **subscription_view(sub).model_dump(),
            secret=sub.secret,
            previous_secret_until=until.isoformat() if until else None,
        )
