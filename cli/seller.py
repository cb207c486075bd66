"""The seller's side (R10-R14, R22): ``approve`` and ``decline``, the same decision paths
as the link handler."""

from __future__ import annotations

from datetime import datetime

import click

from cli.context import Context, command
from cli.params import DB_ID, DISPLAY_NAME, UNTIL
from models.end_date_parsing import shown
from models.enums import RequestStatus
from models.errors import ErrorCode, Refusal
from models.messages import ApproveRequest
from models.reasons import REASON_MAX_LENGTH


@click.command()
@click.argument("request_id")
@click.option("--as", "as_email", required=True, help="E-mail of the shop team member approving.")
@click.option("--bc", "bc_id", type=DB_ID, help="S3: one of your Business Centers to approve with.")
@click.option(
    "--new-bc-name", type=DISPLAY_NAME, help="S2: create a Business Center with this name."
)
@click.option("--timezone", help="S2: IANA timezone of the new Business Center.")
@click.option(
    "--until",
    type=UNTIL,
    help="R23: the access ends then: YYYY-MM-DD (through that day, UTC) or an ISO "
    "date-time with offset. Default: no end.",
)
@command
async def approve(
    ctx: Context,
    request_id: str,
    as_email: str,
    bc_id: int | None,
    new_bc_name: str | None,
    timezone: str | None,
    until: datetime | None,
) -> None:
    """Approve a pending request as a member of the shop's team (R10-R14).

    The same decision path as the link handler: S1 needs no option, S2 --new-bc-name and
    --timezone, S3 --bc; S4 is refused until the seller is an admin of their BC.
    """
    if bc_id is not None and (new_bc_name or timezone):
        raise Refusal(
            ErrorCode.INVALID_INPUT, "Use either --bc or --new-bc-name/--timezone, not both."
        )
    from client.end_date_operations import check_end_date

    check_end_date(until)  # R23: a date already past is refused before anything starts
    service = await ctx.requests()
    out = await service.approve(
        request_id,
        ApproveRequest(by=as_email, bc_id=bc_id, new_bc_name=new_bc_name, timezone=timezone),
        until=until,
    )
    human = f"Request {request_id} is {out.status.value}"
    if out.relationship and out.permission:
        human += f": the BC is now the shop's {out.relationship.value} ({out.permission.value})"
    payload = out.model_dump(mode="json")
    if until is not None and out.status is RequestStatus.APPROVED and not out.already_decided:
        payload["ends_at"] = until.isoformat()
        human += f", until {shown(until)}"
    ctx.emit(payload, human + ".")


@click.command()
@click.argument("request_id")
@click.option("--as", "as_email", required=True, help="E-mail of the shop team member declining.")
@click.option(
    "--reason",
    help=f"Why, for the requester (at most {REASON_MAX_LENGTH} characters, one line).",
)
@command
async def decline(ctx: Context, request_id: str, as_email: str, reason: str | None) -> None:
    """Decline a pending request as a member of the shop's team (R22, R13).

    The request ends declined and the requester is e-mailed, with the reason if given;
    the Business Center may ask again later. Nothing is granted.
    """
    service = await ctx.requests()
    out = await service.decline(request_id, by=as_email, reason=reason)
    ctx.emit(out.model_dump(mode="json"), f"Request {request_id} is {out.status}.")


COMMANDS = [approve, decline]
