"""``webhook add|list|remove|deliveries|replay``: signed webhooks of a shop's or a BC's
changes (R26, docs/audit.md). Only ``add`` needs Temporal (it starts the dispatcher);
removal and replays go through the store, which the dispatcher reads."""

from __future__ import annotations

import click

from cli.context import Context, command
from cli.params import DB_ID
from models.errors import ErrorCode, Refusal
from models.tables import WebhookDelivery, WebhookSubscription
from service.webhooks import start_dispatcher
from store import webhooks
from store.audit_export import Scope
from store.db import read_session, write_session

ACTOR = "ops"


def _public(sub: WebhookSubscription) -> dict[str, object]:
    return {
        "id": sub.id,
        "scope": webhooks.scope_of(sub).as_json(),
        "url": sub.url,
        "created_at": sub.created_at.isoformat(),
        "removed_at": sub.removed_at.isoformat() if sub.removed_at else None,
    }


def _delivery(entry: WebhookDelivery) -> dict[str, object]:
    return {
        "event_id": entry.event_id,
        "type": entry.event_type,
        "status": entry.status,
        "attempts": entry.attempts,
        "last_status_code": entry.last_status_code,
        "last_error": entry.last_error,
        "last_attempt_at": entry.last_attempt_at.isoformat() if entry.last_attempt_at else None,
        "delivered_at": entry.delivered_at.isoformat() if entry.delivered_at else None,
    }


@click.group("webhook")
def webhook() -> None:
    """Push every change of a shop's or a BC's requests, grants, shares, assignments,
    invitations and removals to a URL as signed JSON (R26)."""


@webhook.command("add")
@click.option("--shop-code", help="Send the changes about this shop.")
@click.option("--bc", "bc_id", type=DB_ID, help="Send the changes about this Business Center.")
@click.option("--url", required=True, help="Where to POST the events (http:// or https://).")
@click.option(
    "--secret",
    help="The signing secret (16-200 characters); left out, a random one is made. Shown "
    "once, here.",
)
@command
async def add(
    ctx: Context, shop_code: str | None, bc_id: int | None, url: str, secret: str | None
) -> None:
    """Subscribe URL to the changes made from now on; prints the id and the secret."""
    if (bc_id is None) == (shop_code is None):
        raise Refusal(ErrorCode.INVALID_INPUT, "Give exactly one of --bc or --shop-code.")
    scope = Scope(shop_code=shop_code.strip().upper() if shop_code else None, bc_id=bc_id)
    with read_session(ctx.engine) as session:
        webhooks.check_subscription(session, scope=scope, url=url, secret=secret)
    service = await ctx.requests()  # before writing: no subscription without a dispatcher
    with write_session(ctx.engine) as session:
        sub = webhooks.add_subscription(
            session, scope=scope, url=url, created_by=ACTOR, secret=secret
        )
    workflow_id = await start_dispatcher(
        service.client, ctx.settings.task_queue, sub.id, sub.start_seq
    )
    ctx.emit(
        {**_public(sub), "secret": sub.secret, "workflow_id": workflow_id},
        f"Added {sub.id}: {scope.as_json()} → {sub.url}\nSigning secret (shown once): {sub.secret}",
    )


@webhook.command("list")
@command
def list_cmd(ctx: Context) -> None:
    """Every subscription, removed ones included (secrets are not shown)."""
    with read_session(ctx.engine) as session:
        subs = webhooks.subscriptions(session)
    rows = [_public(s) for s in subs]
    human = "\n".join(
        f"{s.id}  {webhooks.scope_of(s).as_json()}  {s.url}"
        + ("  (removed)" if s.removed_at else "")
        for s in subs
    )
    ctx.emit({"subscriptions": rows}, human or "No subscriptions.")


@webhook.command("remove")
@click.argument("subscription_id")
@command
def remove(ctx: Context, subscription_id: str) -> None:
    """Stop sending; the dispatcher ends within a second or so."""
    with write_session(ctx.engine) as session:
        sub = webhooks.remove_subscription(session, subscription_id, ACTOR)
    ctx.emit(_public(sub), f"Removed {sub.id}.")


@webhook.command("deliveries")
@click.argument("subscription_id")
@click.option("--limit", type=click.IntRange(1, 10_000), default=100, show_default=True)
@command
def deliveries(ctx: Context, subscription_id: str, limit: int) -> None:
    """The delivery log, newest first: each event's status, attempts and last answer."""
    with read_session(ctx.engine) as session:
        entries = webhooks.deliveries(session, subscription_id, limit)
    rows = [_delivery(e) for e in entries]
    human = "\n".join(
        f"{e.event_id}  {e.event_type:<32} {e.status:<9} attempts {e.attempts}"
        + (f"  last: {e.last_error}" if e.last_error and e.status != "delivered" else "")
        for e in entries
    )
    ctx.emit({"deliveries": rows}, human or "No deliveries yet.")


@webhook.command("replay")
@click.argument("subscription_id")
@click.argument("event_id")
@command
def replay(ctx: Context, subscription_id: str, event_id: str) -> None:
    """Send one logged event again, with the same event id."""
    with write_session(ctx.engine) as session:
        entry = webhooks.ask_replay(session, subscription_id, event_id)
    ctx.emit(_delivery(entry), f"{entry.event_id} will be sent again.")


COMMANDS = [webhook]
