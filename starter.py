"""The ops CLI of shop-access: trigger workflows on a user's behalf, load reference data,
inspect state.

Every command takes ``--json``: on success it exits 0 and prints one JSON object; on a
refusal it exits 1 and prints ``{"error": {"code": ..., "message": ...}}``. Scripts depend
on the command names, options and error codes (docs/operations.md lists them).
"""

from __future__ import annotations

import asyncio
import functools
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from pydantic import ValidationError
from sqlalchemy import Engine

from models.enums import RequestMethod
from models.errors import ErrorCode, Refusal
from models.messages import ApproveRequest
from models.reference import ReferenceData
from models.settings import Settings
from store import queries
from store.db import make_engine, read_session, write_session
from store.people import find_shop_by_code
from store.requests import unknown_shop_code

T = TypeVar("T")
DEMO_DATA = Path(__file__).resolve().parent / "service" / "data" / "demo.json"


class Context:
    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json
        self._settings: Settings | None = None
        self._engine: Engine | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            try:
                self._settings = Settings()
            except ValidationError as err:
                raise Refusal(ErrorCode.INVALID_INPUT, f"Invalid configuration: {err}") from None
        return self._settings

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = make_engine(self.settings.database_url)
        return self._engine

    def emit(self, payload: dict[str, Any], human: str) -> None:
        if self.as_json:
            click.echo(json.dumps(payload, default=str))
        else:
            click.echo(human)


def json_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")(fn)


def command(fn: Callable[..., None]) -> Callable[..., None]:
    """Give a command ``--json`` and turn refusals into exit status 1 with the error."""

    @json_option
    @functools.wraps(fn)
    def wrapper(as_json: bool, **kwargs: Any) -> None:
        ctx = Context(as_json)
        try:
            fn(ctx, **kwargs)
        except Refusal as refusal:
            if as_json:
                click.echo(json.dumps(refusal.to_dict(), default=str))
            else:
                click.echo(f"Refused ({refusal.code}): {refusal.message}", err=True)
            sys.exit(1)

    return wrapper


def run_async(coro_fn: Callable[[], Awaitable[T]]) -> T:
    async def main() -> T:
        return await coro_fn()

    return asyncio.run(main())


async def _service(ctx: Context) -> Any:
    from service.requests import RequestService
    from service.temporal import connect

    try:
        client = await connect()
    except RuntimeError as err:
        raise Refusal(
            ErrorCode.SERVICE_UNAVAILABLE,
            f"Cannot reach Temporal ({err}); is the server running? See TEMPORAL_ADDRESS.",
        ) from None
    return RequestService(client, ctx.engine, ctx.settings.task_queue)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Shop access: partners requesting access to TikTok Shops from Business Center.

    Configuration comes from the environment (DATABASE_URL, TASK_QUEUE, TEMPORAL_ADDRESS,
    ...; see docs/operations.md).
    """


# --- data --------------------------------------------------------------------------------


@cli.command()
@command
def migrate(ctx: Context) -> None:
    """Apply the schema migrations to DATABASE_URL."""
    from store.migrate import upgrade

    revision = upgrade(ctx.engine)
    ctx.emit({"revision": revision}, f"Schema is at revision {revision}.")


def _load(ctx: Context, raw: str, source: str) -> dict[str, Any]:
    from store.reference import load_reference

    try:
        data = ReferenceData.model_validate_json(raw)
    except ValidationError as err:
        raise Refusal(
            ErrorCode.INVALID_INPUT,
            f"{source} is not valid reference data: "
            + "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in err.errors()
            ),
        ) from None
    with write_session(ctx.engine) as session:
        counts = load_reference(session, data)
    return {
        "users": counts.users,
        "business_centers": counts.business_centers,
        "shops": counts.shops,
    }


@cli.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@command
def load(ctx: Context, file: Path) -> None:
    """Import reference data (users, business centers, shops) from a JSON FILE.

    Idempotent: loading the same file again changes nothing. The shape is documented in
    docs/operations.md; service/data/demo.json is an example.
    """
    counts = _load(ctx, file.read_text(), str(file))
    ctx.emit(
        {"loaded": counts},
        f"Loaded {counts['users']} users, {counts['business_centers']} business centers, "
        f"{counts['shops']} shops.",
    )


@cli.command("seed-demo")
@click.option("--no-requests", is_flag=True, help="Load the data set only; start no request.")
@command
def seed_demo(ctx: Context, no_requests: bool) -> None:
    """Load the built-in demo data set and start one request per scenario (S1-S4).

    Agency One (admin ana@agency-one.com) asks for each demo shop; the sellers approve
    through the links in the outbox. Running it again skips requests already pending.
    """
    counts = _load(ctx, DEMO_DATA.read_text(), "demo data")
    requests: list[dict[str, Any]] = []
    if not no_requests:
        requests = run_async(lambda: _seed_requests(ctx))
    lines = [f"Loaded demo data: {counts}"]
    lines += [
        f"  {r['shop_code']}: {r.get('request_id', '-')} {r['status']}  {r.get('approval_url', '')}"
        for r in requests
    ]
    ctx.emit({"loaded": counts, "requests": requests}, "\n".join(lines))


async def _seed_requests(ctx: Context) -> list[dict[str, Any]]:
    service = await _service(ctx)
    agency, admin = 7100000000000000001, "ana@agency-one.com"
    plan = [
        (RequestMethod.REQUEST_ACCESS, "GBLINKED01"),
        (RequestMethod.REQUEST_ACCESS, "SGNEWBC002"),
        (RequestMethod.REQUEST_ACCESS, "USADMIN003"),
        (RequestMethod.ADD_MY_SHOP, "USADMIN003"),  # races the one above (R11)
        (RequestMethod.REQUEST_ACCESS, "THMEMBER04"),
    ]
    out = []
    for method, code in plan:
        try:
            sub = await service.submit(method=method, bc_id=agency, shop_code=code, by=admin)
            out.append(
                {
                    "shop_code": code,
                    "method": method.value,
                    "request_id": sub.request_id,
                    "status": sub.status,
                    "approval_url": sub.approval_url,
                }
            )
        except Refusal as refusal:
            out.append({"shop_code": code, "method": method.value, "status": refusal.code})
    return out


# --- partner side ------------------------------------------------------------------------


def _request_command(method: RequestMethod) -> Callable[..., None]:
    @click.option("--bc", "bc_id", type=int, required=True, help="Requesting Business Center id.")
    @click.option("--shop-code", required=True, help="The shop code from Seller Center.")
    @click.option("--as", "as_email", required=True, help="E-mail of the BC admin asking.")
    @command
    def run(ctx: Context, bc_id: int, shop_code: str, as_email: str) -> None:
        async def go() -> Any:
            service = await _service(ctx)
            return await service.submit(
                method=method, bc_id=bc_id, shop_code=shop_code, by=as_email
            )

        sub = run_async(go)
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
        "Prints request_id, status and the approval_url to copy to the seller."
    )
    return run


cli.command("request-access")(_request_command(RequestMethod.REQUEST_ACCESS))
cli.command("add-my-shop")(_request_command(RequestMethod.ADD_MY_SHOP))


@cli.command()
@click.argument("request_id")
@click.option("--as", "as_email", required=True, help="E-mail of an admin of the requesting BC.")
@click.option(
    "--copy", "copy_link", is_flag=True, help="Take the link to copy instead of e-mailing."
)
@command
def resend(ctx: Context, request_id: str, as_email: str, copy_link: bool) -> None:
    """Resend a pending request by e-mail, or take its link to copy (R8)."""

    async def go() -> Any:
        service = await _service(ctx)
        return await service.resend(request_id, by=as_email, copy_link=copy_link)

    out = run_async(go)
    human = (
        f"Copy this link to the seller:\n  {out.approval_url}"
        if copy_link
        else f"Request {request_id} e-mailed to the shop's team again."
    )
    ctx.emit(out.model_dump(mode="json"), human)


@cli.command()
@click.argument("request_id")
@click.option("--as", "as_email", required=True, help="E-mail of an admin of the requesting BC.")
@command
def cancel(ctx: Context, request_id: str, as_email: str) -> None:
    """Withdraw a pending request (R9 policy)."""

    async def go() -> Any:
        service = await _service(ctx)
        return await service.cancel(request_id, by=as_email)

    out = run_async(go)
    ctx.emit(out.model_dump(mode="json"), f"Request {request_id} is {out.status}.")


# --- seller side -------------------------------------------------------------------------


@cli.command()
@click.argument("request_id")
@click.option("--as", "as_email", required=True, help="E-mail of the shop team member approving.")
@click.option("--bc", "bc_id", type=int, help="S3: one of your Business Centers to approve with.")
@click.option("--new-bc-name", help="S2: create a Business Center with this name.")
@click.option("--timezone", help="S2: IANA timezone of the new Business Center.")
@command
def approve(
    ctx: Context,
    request_id: str,
    as_email: str,
    bc_id: int | None,
    new_bc_name: str | None,
    timezone: str | None,
) -> None:
    """Approve a pending request as a member of the shop's team (R10-R14).

    The same decision path as the link handler: S1 needs no option, S2 --new-bc-name and
    --timezone, S3 --bc; S4 is refused until the seller is an admin of their BC.
    """
    if bc_id is not None and (new_bc_name or timezone):
        raise click.UsageError("Use either --bc or --new-bc-name/--timezone, not both.")

    async def go() -> Any:
        service = await _service(ctx)
        return await service.approve(
            request_id,
            ApproveRequest(by=as_email, bc_id=bc_id, new_bc_name=new_bc_name, timezone=timezone),
        )

    out = run_async(go)
    human = f"Request {request_id} is {out.status.value}"
    if out.relationship:
        human += f": the BC is now the shop's {out.relationship.value} ({out.permission.value})"
    ctx.emit(out.model_dump(mode="json"), human + ".")


# --- reads -------------------------------------------------------------------------------


@cli.command()
@click.argument("request_id")
@command
def status(ctx: Context, request_id: str) -> None:
    """Show one request: status, method, BC, shop, dates, sends, superseded_by."""
    with read_session(ctx.engine) as session:
        view = queries.request_view(session, request_id)
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
    ctx.emit(view.model_dump(mode="json"), human)


@cli.command()
@click.option("--bc", "bc_id", type=int, help="A Business Center's shop list (R8).")
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
    human = "\n".join(
        f"{v.request_id}  {v.status_label:<17} {v.method.value:<15} BC {v.bc_id} → "
        f"{v.shop_code}  {v.created_at:%Y-%m-%d %H:%M}"
        + (f"  decided by {v.decided_by}" if v.decided_by else "")
        for v in views
    ) or "No requests."
    ctx.emit({"requests": rows}, human)


if __name__ == "__main__":
    cli()
