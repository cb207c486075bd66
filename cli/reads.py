"""Reading requests from the store (no Temporal): ``status``, ``requests`` (R8, R15)."""

from __future__ import annotations

import click

from cli.context import Context, command
from cli.params import DB_ID
from client import reads
from models.enums import RequestStatus
from models.views import RequestView


def _describe(view: RequestView) -> str:
    human = (
        f"{view.request_id}  {view.status_label}  {view.method.label}\n"
        f"  BC {view.bc_id} ({view.bc_name}) → shop {view.shop_code} ({view.shop_name})\n"
        f"  asked by {view.requested_by} at {view.created_at:%Y-%m-%d %H:%M:%S %Z}"
    )
    if view.decided_at:
        human += f"\n  decided at {view.decided_at:%Y-%m-%d %H:%M:%S %Z}"
        human += f" by {view.decided_by or 'the system'}"
    if view.superseded_by:
        human += f"\n  expired because {view.superseded_by} was approved first"
    if view.decline_reason:
        human += f"\n  declined because: {view.decline_reason}"
    if view.status is RequestStatus.PENDING:
        human += f"\n  waiting for {view.waited}"
    for step in view.transitions:
        human += f"\n  {step.at:%Y-%m-%d %H:%M:%S} {step.label} by {step.actor}"
    return human


def _last(view: RequestView) -> str:
    step = view.transitions[-1]
    return f"{step.label} by {step.actor} at {step.at:%Y-%m-%d %H:%M}"


@click.command()
@click.argument("request_id")
@command
def status(ctx: Context, request_id: str) -> None:
    """Show one request: status, method, BC, shop, dates, sends, superseded_by, and
    every transition with its time and actor."""
    view = reads.request_status(ctx.engine, request_id)
    ctx.emit(view.model_dump(mode="json"), _describe(view))


@click.command()
@click.option("--bc", "bc_id", type=DB_ID, help="A Business Center's shop list (R8).")
@click.option("--shop-code", help="A shop's request history, as its seller sees it (R15).")
@command
def requests(ctx: Context, bc_id: int | None, shop_code: str | None) -> None:
    """List requests of a Business Center (--bc) or of a shop (--shop-code), each with
    every transition (time, what, actor): the seller's history (R15, R21)."""
    found = reads.request_list(ctx.engine, bc_id=bc_id, shop_code=shop_code)
    views = found.requests
    rows = [v.model_dump(mode="json", exclude={"sends"}) for v in views]
    human = (
        "\n".join(
            f"{v.request_id}  {v.status_label:<17} {v.method.value:<15} BC {v.bc_id} → "
            f"{v.shop_code}  {v.created_at:%Y-%m-%d %H:%M}"
            + (f"  waiting {v.waited}" if v.status is RequestStatus.PENDING else "")
            + (f"  decided by {v.decided_by}" if v.decided_by else "")
            + (f"\n    last: {_last(v)}" if v.transitions else "")
            for v in views
        )
        or "No requests."
    )
    payload: dict[str, object] = {"requests": rows}
    if found.quota is not None:
        # R24: today's quota beside the list, so a BC sees what it can still ask.
        from cli.bulk import quota_line

        payload["quota"] = found.quota.model_dump(mode="json")
        human += "\n" + quota_line(found.quota)
    ctx.emit(payload, human)


COMMANDS = [status, requests]
