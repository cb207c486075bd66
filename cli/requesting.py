"""The requesting side (R1-R9): ``request-access``, ``add-my-shop``, ``resend``, ``cancel``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import click

from cli.context import Context, command
from cli.params import DB_ID
from models.enums import RequestMethod


def _check_one_source(shop_code: str | None, shop_codes_file: Path | None, wait: bool) -> None:
    """One shop (``--shop-code``) or many (``--shop-codes-file``, R24), and ``--wait``
    only with many: anything else is a usage error."""
    here = click.get_current_context()
    if shop_code is None and shop_codes_file is None:
        raise click.UsageError(
            "Missing option '--shop-code' (or '--shop-codes-file' for many shops).", here
        )
    if shop_code is not None and shop_codes_file is not None:
        raise click.UsageError("Give either '--shop-code' or '--shop-codes-file', not both.", here)
    if wait and shop_codes_file is None:
        raise click.UsageError("'--wait' goes with '--shop-codes-file'.", here)


def _request_command(method: RequestMethod) -> Callable[..., None]:
    @click.option("--bc", "bc_id", type=DB_ID, required=True, help="Requesting Business Center id.")
    @click.option("--shop-code", help="The shop code from Seller Center.")
    @click.option(
        "--shop-codes-file",
        type=click.Path(path_type=Path, dir_okay=False),
        help="Many shops at once (R24): one code per line, or CSV with a shop_code column. "
        "Starts one bulk request; see bulk-status.",
    )
    @click.option("--as", "as_email", required=True, help="E-mail of the BC admin asking.")
    @click.option(
        "--wait",
        is_flag=True,
        help="With --shop-codes-file: follow the bulk to the end, showing progress (with "
        "--json: one line per step, the result last).",
    )
    @command
    async def run(
        ctx: Context,
        bc_id: int,
        shop_code: str | None,
        shop_codes_file: Path | None,
        as_email: str,
        wait: bool,
    ) -> None:
        _check_one_source(shop_code, shop_codes_file, wait)
        if shop_codes_file is not None:
            from cli.bulk import start_bulk

            await start_bulk(ctx, method, bc_id, shop_codes_file, as_email, wait)
            return
        assert shop_code is not None
        service = await ctx.requests()
        sub = await service.submit(method=method, bc_id=bc_id, shop_code=shop_code, by=as_email)
        ctx.emit(
            {
                "request_id": sub.request_id,
                "status": sub.status,
                "approval_url": sub.approval_url,
                "workflow_id": sub.workflow_id,
            },
            f"Request {sub.request_id} is {sub.status}. The shop's team has been e-mailed.\n"
            f"Copy this link to the seller for faster approval:\n  {sub.approval_url}",
        )

    run.__doc__ = (
        f'"{method.label}": ask a shop for access by its code (R1-R7). '
        "Prints request_id, status and the approval_url to copy to the seller. With "
        "--shop-codes-file, starts one bulk request admitting as many as today's limit "
        "allows and the rest as it resets (R24)."
    )
    return run


request_access = click.command("request-access")(_request_command(RequestMethod.REQUEST_ACCESS))
add_my_shop = click.command("add-my-shop")(_request_command(RequestMethod.ADD_MY_SHOP))


@click.command()
@click.argument("request_id")
@click.option("--as", "as_email", required=True, help="E-mail of an admin of the requesting BC.")
@click.option(
    "--copy", "copy_link", is_flag=True, help="Take the link to copy instead of e-mailing."
)
@command
async def resend(ctx: Context, request_id: str, as_email: str, copy_link: bool) -> None:
    """Resend a pending request by e-mail, or take its link to copy (R8)."""
    service = await ctx.requests()
    out = await service.resend(request_id, by=as_email, copy_link=copy_link)
    human = (
        f"Copy this link to the seller:\n  {out.approval_url}"
        if copy_link
        else f"Request {request_id} e-mailed to the shop's team again."
    )
    ctx.emit(out.model_dump(mode="json"), human)


@click.command()
@click.argument("request_id")
@click.option("--as", "as_email", required=True, help="E-mail of an admin of the requesting BC.")
@command
async def cancel(ctx: Context, request_id: str, as_email: str) -> None:
    """Withdraw a pending request (R9 policy)."""
    service = await ctx.requests()
    out = await service.cancel(request_id, by=as_email)
    ctx.emit(out.model_dump(mode="json"), f"Request {request_id} is {out.status}.")


COMMANDS = [request_access, add_my_shop, resend, cancel]
