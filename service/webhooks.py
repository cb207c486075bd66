"""Webhook subscriptions (R26, docs/audit.md) for the CLI and the API alike: the checks,
the writes, starting a subscription's dispatcher workflow, and the public views."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from anyio import to_thread
from pydantic import BaseModel, Field
from sqlalchemy import Engine
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy

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
    secret: str = Field(description="The signing secret: shown this once, never again.")
    workflow_id: str = Field(description="The subscription's dispatcher workflow.")


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


async def add_subscription(
    engine: Engine,
    connect: Callable[[], Awaitable[Client]],
    task_queue: str,
    *,
    scope: Scope,
    url: str,
    secret: str | None,
    by: str,
) -> AddedSubscription:
    """Check, connect to Temporal, write, then start the dispatcher: no subscription is
    written while Temporal is out of reach, and none without its dispatcher started."""

    def check() -> None:
        with read_session(engine) as session:
            webhooks.check_subscription(session, scope=scope, url=url, secret=secret)

    def write() -> WebhookSubscription:
        with write_session(engine) as session:
            return webhooks.add_subscription(
                session, scope=scope, url=url, created_by=by, secret=secret
            )

    await to_thread.run_sync(check)
    client = await connect()
    sub = await to_thread.run_sync(write)
    workflow_id = await start_dispatcher(client, task_queue, sub.id, sub.start_seq)
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


def replay(engine: Engine, subscription_id: str, event_id: str) -> DeliveryView:
    """Mark one logged event to be sent again, with the same id."""
    with write_session(engine) as session:
        return delivery_view(webhooks.ask_replay(session, subscription_id, event_id))
