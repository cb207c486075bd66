"""Reading requests from the store (no Temporal): ``status``, ``requests`` (R8, R15)."""

from __future__ import annotations

import click

from cli.context import Context, command
from cli.params import DB_ID
from models.enums import RequestStatus
from models.errors import ErrorCode, Refusal
from models.views import RequestView
from store import queries
from store.db import read_session
from store.people import find_shop_by_code
from store.requests import unknown_shop_code


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
    return human


@click.command()
@click.argument("request_id")
@command
def status(ctx: Context, request_id: str) -> None:
    """Show one request: status, method, BC, shop, dates, sends, superseded_by."""
    with read_session(ctx.engine) as session:
        view = queries.request_view(session, request_id)
    ctx.emit(view.model_dump(mode="json"), _describe(view))


@click.command()
@click.option("--bc", "bc_id", type=DB_ID, help="A Business Center's shop list (R8).")
@click.option("--shop-code", help="A shop's request history, as its seller sees it (R15).")
@command
def requests(ctx: Context, bc_id: int | None, shop_code: str | None) -> None:
    """List requests of a Business Center (--bc) or of a shop (--shop-code)."""
    if (bc_id is None) == (shop_code is None):
        raise Refusal(ErrorCode.INVALID_INPUT, "Give exactly one of --bc or --shop-code.")
    with read_session(ctx.engine) as session:
        if bc_id is not None:
            views = queries.requests_for_bc(session, bc_id)
        else:
            assert shop_code is not None
            shop = find_shop_by_code(session, shop_code)
            if shop is None or shop.id is None:
                raise unknown_shop_code()
            views = queries.requests_for_shop(session, shop.id)
    rows = [v.model_dump(mode="json", exclude={"sends"}) for v in views]
    human = (
        "\n".join(
            f"{v.request_id}  {v.status_label:<17} {v.method.value:<15} BC {v.bc_id} → "
            f"{v.shop_code}  {v.created_at:%Y-%m-%d %H:%M}"
            + (f"  waiting {v.waited}" if v.status is RequestStatus.PENDING else "")
            + (f"  decided by {v.decided_by}" if v.decided_by else "")
            for v in views
        )
        or "No requests."
    )
    ctx.emit({"requests": rows}, human)


COMMANDS = [status, requests]
