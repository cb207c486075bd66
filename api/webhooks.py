"""Webhook subscriptions over HTTP (R26, R30, R31; docs/webhooks.md): subscribe a URL to a
shop's or a BC's changes, list, remove, read the delivery log, replay one event, rotate
the signing secret. The CLI's ``webhook add|list|remove|deliveries|replay|rotate-secret``,
over the same service (client/webhooks.py).

These are ops calls with no acting user: what they record names the token,
``api:<token name>`` (the CLI records ``ops``)."""

from __future__ import annotations

from typing import Annotated

from anyio import to_thread
from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, Field
from temporalio.client import Client

from api.access_request_routes import ACTING_KEYED, CALLER, ShopCode
from api.deps import Actor, Body, Reader, Remover, State, Store, keyed_id
from api.errors import documented
from api.gate import Caller
from client import webhooks
from client.audit import pick_scope
from client.safe_targets import policy_from
from client.webhooks import AddedSubscription, DeliveryView, RotatedSecret, SubscriptionView
from models.errors import ErrorCode as E
from models.fields import DbId

router = APIRouter(tags=["webhooks"])

# DELETE needs ``act`` but takes no Idempotency-Key (removing twice is removing once).
SubscriptionId = Annotated[
    str, Path(min_length=1, max_length=64, examples=["whk_0123456789abcdef0123"])
]
EventId = Annotated[str, Path(min_length=1, max_length=32, examples=["evt_1234"])]


def actor_of(caller: Caller) -> str:
    """Who the audit trail names for an ops call: the token, by its name."""
    return f"api:{caller.token.name}"


class NewSubscription(Body):
    """Exactly one of ``shop_code`` or ``bc_id``."""

    shop_code: ShopCode | None = Field(default=None, description="Send this shop's changes.")
    bc_id: DbId | None = Field(default=None, description="Send this BC's changes.")
    url: str = Field(
        min_length=1,
        max_length=2000,
        description="Where to POST the events: a public https address (R31); http and "
        "internal addresses only in networks the operator allowed (WEBHOOK_ALLOWED_NETWORKS).",
    )
    secret: str | None = Field(
        default=None,
        max_length=200,
        description="The signing secret, whsec_ and 24-64 bytes in base64 (Standard "
        "Webhooks); left out, a random one is made.",
    )


class NewSecret(Body):
    overlap_hours: float = Field(
        default=24.0,
        description="How long the previous secret keeps signing beside the new one (0-720).",
    )
    secret: str | None = Field(
        default=None,
        max_length=200,
        description="The new secret (whsec_...); left out, a random one is made.",
    )


class SubscriptionList(BaseModel):
    subscriptions: list[SubscriptionView]


class DeliveryLog(BaseModel):
    deliveries: list[DeliveryView] = Field(description="Newest first.")


class ReplayAccepted(DeliveryView):
    status_url: str = Field(description="The delivery log, to see the event sent again.")


@router.post(
    "/webhooks",
    status_code=201,
    response_model=AddedSubscription,
    responses=documented(*ACTING_KEYED, E.UNKNOWN_SHOP_CODE, E.UNKNOWN_BC),
    summary="Subscribe a URL to a shop's or a BC's changes (R26); the secret is shown once",
)
async def add_webhook(
    body: NewSubscription, caller: Actor, state: State, response: Response
) -> AddedSubscription:
    async def connected() -> Client:
        return state.requests.client  # the link handler's own connection

    added = await webhooks.add_subscription(
        state.engine,
        connected,
        state.settings.task_queue,
        scope=pick_scope(body.shop_code, body.bc_id),
        url=body.url,
        secret=body.secret,
        by=actor_of(caller),
        targets=policy_from(state.settings),
        subscription_id=keyed_id(caller, "whk_"),
    )
    response.headers["Location"] = f"/api/v1/webhooks/{added.id}"
    return added


@router.get(
    "/webhooks",
    response_model=SubscriptionList,
    responses=documented(*CALLER),
    summary="Every subscription, removed ones included (never a secret)",
)
async def list_webhooks(_caller: Reader, store: Store) -> SubscriptionList:
    return SubscriptionList(subscriptions=await to_thread.run_sync(webhooks.subscriptions, store))


@router.get(
    "/webhooks/{subscription_id}",
    response_model=SubscriptionView,
    responses=documented(*CALLER, E.INVALID_INPUT, E.UNKNOWN_WEBHOOK),
    summary="One subscription (never its secret)",
)
async def get_webhook(
    subscription_id: SubscriptionId, _caller: Reader, store: Store
) -> SubscriptionView:
    return await to_thread.run_sync(webhooks.subscription, store, subscription_id)


@router.delete(
    "/webhooks/{subscription_id}",
    response_model=SubscriptionView,
    responses=documented(*CALLER, E.INVALID_INPUT, E.UNKNOWN_WEBHOOK),
    summary="Stop sending; removing twice is removing once",
)
async def remove_webhook(
    subscription_id: SubscriptionId, caller: Remover, store: Store
) -> SubscriptionView:
    by = actor_of(caller)
    return await to_thread.run_sync(webhooks.remove_subscription, store, subscription_id, by)


@router.get(
    "/webhooks/{subscription_id}/deliveries",
    response_model=DeliveryLog,
    responses=documented(*CALLER, E.INVALID_INPUT, E.UNKNOWN_WEBHOOK),
    summary="The delivery log, newest first: each event's status, attempts, last answer",
)
async def webhook_deliveries(
    subscription_id: SubscriptionId,
    _caller: Reader,
    store: Store,
    limit: Annotated[int, Query(ge=1, le=10_000, description="At most this many.")] = 100,
) -> DeliveryLog:
    entries = await to_thread.run_sync(webhooks.deliveries, store, subscription_id, limit)
    return DeliveryLog(deliveries=entries)


@router.post(
    "/webhooks/{subscription_id}/deliveries/{event_id}/replay",
    status_code=202,
    response_model=ReplayAccepted,
    responses=documented(
        *ACTING_KEYED, E.UNKNOWN_WEBHOOK, E.UNKNOWN_WEBHOOK_EVENT, E.WEBHOOK_REMOVED
    ),
    summary="Send one logged event again, with the same event id",
)
async def replay_delivery(
    subscription_id: SubscriptionId,
    event_id: EventId,
    caller: Actor,
    store: Store,
    response: Response,
) -> ReplayAccepted:
    by = actor_of(caller)
    entry = await to_thread.run_sync(webhooks.replay, store, subscription_id, event_id, by)
    status_url = f"/api/v1/webhooks/{subscription_id.strip()}/deliveries"
    response.headers["Location"] = status_url
    return ReplayAccepted(**entry.model_dump(), status_url=status_url)


@router.post(
    "/webhooks/{subscription_id}/rotate-secret",
    response_model=RotatedSecret,
    responses=documented(*ACTING_KEYED, E.UNKNOWN_WEBHOOK, E.WEBHOOK_REMOVED),
    summary="A new signing secret, shown once; the previous one signs beside it for a while",
)
async def rotate_secret(
    subscription_id: SubscriptionId, body: NewSecret, caller: Actor, store: Store
) -> RotatedSecret:
    by = actor_of(caller)

    def rotate() -> RotatedSecret:
        return webhooks.rotate_secret(
            store, subscription_id, by=by, overlap_hours=body.overlap_hours, secret=body.secret
        )

    return await to_thread.run_sync(rotate)
