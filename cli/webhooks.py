"""``webhook add|list|remove|deliveries|replay|rotate-secret``: signed webhooks of a
shop's or a BC's changes (R26, R30, R31; docs/webhooks.md). Only ``add`` needs Temporal
(it starts the dispatcher); removal, replays and rotation go through the store, which the
dispatcher reads."""

from __future__ import annotations

import click
from temporalio.client import Client

from cli.context import Context, command
from cli.params import DB_ID
from client import webhooks
from client.audit import pick_scope
from client.safe_targets import policy_from


async def _connect(ctx: Context) -> Client:
    return (await ctx.requests()).client


@click.group("webhook")
def webhook() -> None:
    """Push every change of a shop's or a BC's requests, grants, shares, assignments,
    invitations and removals to a URL as signed JSON (R26)."""


@webhook.command("add")
@click.option("--shop-code", help="Send the changes about this shop.")
@click.option("--bc", "bc_id", type=DB_ID, help="Send the changes about this Business Center.")
@click.option(
    "--url",
    required=True,
    help="Where to POST the events: a public https:// address (R31); http:// and internal "
    "addresses only in networks WEBHOOK_ALLOWED_NETWORKS allows (or loopback with DEV_MODE).",
)
@click.option(
    "--secret",
    help="The signing secret, whsec_ and 24-64 bytes in base64 (Standard Webhooks); left "
    "out, a random one is made. Shown once, here.",
)
@command
async def add(
    ctx: Context, shop_code: str | None, bc_id: int | None, url: str, secret: str | None
) -> None:
    """Subscribe URL to the changes made from now on; prints the id and the secret."""
    added = await webhooks.add_subscription(
        ctx.engine,
        lambda: _connect(ctx),
        ctx.settings.task_queue,
        scope=pick_scope(shop_code, bc_id),
        url=url,
        secret=secret,
        by=webhooks.OPS,
        targets=policy_from(ctx.settings),
    )
    ctx.emit(
        added.model_dump(mode="json"),
        f"Added {added.id}: {added.scope} → {added.url}\n"
        f"Signing secret (shown once): {added.secret}",
    )


@webhook.command("list")
@command
def list_cmd(ctx: Context) -> None:
    """Every subscription, removed ones included (secrets are not shown)."""
    subs = webhooks.subscriptions(ctx.engine)
    human = "\n".join(
        f"{s.id}  {s.scope}  {s.url}" + ("  (removed)" if s.removed_at else "") for s in subs
    )
    ctx.emit(
        {"subscriptions": [s.model_dump(mode="json") for s in subs]}, human or "No subscriptions."
    )


@webhook.command("remove")
@click.argument("subscription_id")
@command
def remove(ctx: Context, subscription_id: str) -> None:
    """Stop sending; the dispatcher ends within a second or so."""
    sub = webhooks.remove_subscription(ctx.engine, subscription_id, webhooks.OPS)
    ctx.emit(sub.model_dump(mode="json"), f"Removed {sub.id}.")


@webhook.command("deliveries")
@click.argument("subscription_id")
@click.option("--limit", type=click.IntRange(1, 10_000), default=100, show_default=True)
@command
def deliveries(ctx: Context, subscription_id: str, limit: int) -> None:
    """The delivery log, newest first: each event's status, attempts and last answer."""
    entries = webhooks.deliveries(ctx.engine, subscription_id, limit)
    rows = [e.model_dump(mode="json") for e in entries]
    human = "\n".join(
        f"{e.event_id}  {e.type:<32} {e.status:<9} attempts {e.attempts}"
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
    entry = webhooks.replay(ctx.engine, subscription_id, event_id, webhooks.OPS)
    ctx.emit(entry.model_dump(mode="json"), f"{entry.event_id} will be sent again.")


@webhook.command("rotate-secret")
@click.argument("subscription_id")
@click.option(
    "--overlap-hours",
    type=float,
    default=24.0,
    show_default=True,
    help="How long the previous secret keeps signing beside the new one (0-720), so "
    "receivers switch without missing an event.",
)
@click.option("--secret", help="The new secret (whsec_...); left out, a random one is made.")
@command
def rotate_secret(
    ctx: Context, subscription_id: str, overlap_hours: float, secret: str | None
) -> None:
    """Give the subscription a new signing secret; prints it once."""
    rotated = webhooks.rotate_secret(
        ctx.engine, subscription_id, by=webhooks.OPS, overlap_hours=overlap_hours, secret=secret
    )
    until = rotated.previous_secret_until
    ctx.emit(
        rotated.model_dump(mode="json"),
        f"New signing secret of {rotated.id} (shown once): {rotated.secret}\n"
        + (
            f"The previous secret also signs until {until}."
            if until
            else "The previous secret no longer signs."
        ),
    )


COMMANDS = [webhook]
