"""Access until a date (R23): ``access-until``, the seller changes or clears an end date."""

from __future__ import annotations

from datetime import datetime

import click

from cli.context import Context, command
from cli.params import DB_ID, UNTIL
from models.end_date_parsing import shown
from models.errors import ErrorCode, Refusal


@click.command("access-until")
@click.option("--shop-code", required=True)
@click.option("--partner-bc", "partner_bc_id", type=DB_ID, required=True)
@click.option(
    "--as",
    "as_email",
    required=True,
    help="A member of the shop's team, or an admin of its owner BC (as for remove-access).",
)
@click.option(
    "--until",
    type=UNTIL,
    help="The new end date: YYYY-MM-DD (through that day, UTC) or an ISO date-time with offset.",
)
@click.option("--clear", is_flag=True, help="Remove the end date: the access lasts.")
@command
async def access_until(
    ctx: Context,
    shop_code: str,
    partner_bc_id: int,
    as_email: str,
    until: datetime | None,
    clear: bool,
) -> None:
    """Set, change or clear when a partner's access to a shop ends (R23).

    At the end date the same removal as remove-access runs by itself (R19); the partner's
    admins are reminded three days before. Setting the same date again re-arms its timer.
    """
    if (until is None) == (not clear):
        raise Refusal(ErrorCode.INVALID_INPUT, "Give either --until DATE or --clear.")
    from client.end_date_operations import check_end_date

    check_end_date(until)  # refused before Temporal is even reached
    service = await ctx.partners_connected()
    done = await service.set_access_end_date(
        shop_code=shop_code, partner_bc_id=partner_bc_id, until=until, by=as_email
    )
    payload = {
        "shop_code": done.shop_code,
        "partner_bc_id": done.partner_bc_id,
        "grant_ids": done.grant_ids,
        "ends_at": until.isoformat() if until else None,
    }
    human = (
        f"BC {done.partner_bc_id}'s access to shop {done.shop_code} now ends {shown(until)}."
        if until
        else f"BC {done.partner_bc_id}'s access to shop {done.shop_code} has no end date now."
    )
    ctx.emit(payload, human)


COMMANDS = [access_until]
