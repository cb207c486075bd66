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
import logging
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click
from pydantic import ValidationError
from sqlalchemy import Engine

from models.enums import MemberRole, Permission, RequestMethod
from models.errors import ErrorCode, Refusal
from models.messages import ApproveRequest
from models.partner_enums import AdAccountPermission
from models.partner_messages import AdAccountGrant
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
            + "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in err.errors()),
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

    Agency One (admin ana@agency-one.com) asks for each demo shop, plus an "Add my shop"
    that races the S3 request (R11); the sellers approve through the links in the outbox.
    Running it again starts nothing for a shop Agency One holds or a request still
    pending, leaves the loaded data as it is, and says what it kept.
    """
    from service import demo

    async def go() -> tuple[dict[str, int] | None, list[demo.DemoOutcome]]:
        # Reach Temporal first: if it is down, the refusal leaves the store untouched.
        service = None if no_requests else await _service(ctx)
        counts = demo.load_demo_data(ctx.engine)
        if service is None:
            return counts, []
        return counts, await demo.seed_requests(service, ctx.engine)

    counts, outcomes = run_async(go)
    human = (
        "Demo data already loaded; kept as it is."
        if counts is None
        else f"Loaded demo data: {counts['users']} users, {counts['business_centers']} "
        f"business centers, {counts['shops']} shops."
    )
    if outcomes:
        human += "\n" + demo.summary(outcomes)
    requests = [o.to_dict() for o in outcomes]
    ctx.emit({"loaded": counts, "data_kept": counts is None, "requests": requests}, human)


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
    human = (
        "\n".join(
            f"{v.request_id}  {v.status_label:<17} {v.method.value:<15} BC {v.bc_id} → "
            f"{v.shop_code}  {v.created_at:%Y-%m-%d %H:%M}"
            + (f"  decided by {v.decided_by}" if v.decided_by else "")
            for v in views
        )
        or "No requests."
    )
    ctx.emit({"requests": rows}, human)


# --- after approval: members, invitations, partners, campaigns, removal (R16-R19) --------


def _partners(ctx: Context, client: Any = None) -> Any:
    from service.partners import PartnerService

    return PartnerService(client, ctx.engine, ctx.settings.task_queue)


async def _partners_connected(ctx: Context) -> Any:
    service = await _service(ctx)  # same connection and error handling as requests
    return _partners(ctx, service.client)


PERMISSIONS = click.Choice([p.value for p in Permission])


def _ad_account_grant(raw: str) -> AdAccountGrant:
    account, _, permission = raw.partition(":")
    try:
        return AdAccountGrant(
            ad_account_id=int(account), permission=AdAccountPermission(permission or "operator")
        )
    except ValueError:
        raise Refusal(
            ErrorCode.INVALID_INPUT,
            f"--ad-account {raw!r} must look like ID:PERMISSION, the permission one of "
            + ", ".join(p.value for p in AdAccountPermission)
            + ".",
        ) from None


@cli.command("assign-member")
@click.option("--bc", "bc_id", type=int, required=True, help="The BC holding the shop.")
@click.option("--shop-code", required=True)
@click.option("--member", required=True, help="E-mail of a member of the BC.")
@click.option("--permission", type=PERMISSIONS, required=True)
@click.option("--as", "as_email", required=True, help="E-mail of an admin of the BC.")
@command
def assign_member(
    ctx: Context, bc_id: int, shop_code: str, member: str, permission: str, as_email: str
) -> None:
    """Give a BC member manager or ad_promotion on a shop the BC holds (R16)."""
    view = _partners(ctx).assign_member(
        bc_id=bc_id,
        shop_code=shop_code,
        member=member,
        permission=Permission(permission),
        by=as_email,
    )
    ctx.emit(
        view.model_dump(mode="json"),
        f"{view.member} now has {view.permission.value} on shop {view.shop_code}.",
    )


@cli.command("invite-member")
@click.option("--bc", "bc_id", type=int, required=True, help="The inviting Business Center.")
@click.option("--email", "emails", multiple=True, required=True, help="Repeat for several.")
@click.option("--role", type=click.Choice([r.value for r in MemberRole]), required=True)
@click.option(
    "--ad-account",
    "ad_accounts",
    multiple=True,
    help="ID:PERMISSION (admin, operator, analyst); repeat for several.",
)
@click.option("--as", "as_email", required=True, help="E-mail of an admin of the BC.")
@command
def invite_member(
    ctx: Context,
    bc_id: int,
    emails: tuple[str, ...],
    role: str,
    ad_accounts: tuple[str, ...],
    as_email: str,
) -> None:
    """Invite people to join a BC by e-mail, with a role and ad accounts (R16).

    One invitation (and one workflow) per address; each gets an e-mail with its accept link.
    """
    grants = [_ad_account_grant(raw) for raw in ad_accounts]

    async def go() -> Any:
        service = await _partners_connected(ctx)
        return await service.invite_members(
            bc_id=bc_id,
            emails=list(emails),
            role=MemberRole(role),
            ad_accounts=grants,
            by=as_email,
        )

    out = run_async(go)
    ctx.emit(
        {"invitations": [o.model_dump(mode="json") for o in out]},
        "\n".join(f"{o.invitation_id}  {o.status.value}  {o.email}" for o in out),
    )


def _answer_command(name: str, verb: str, who: str) -> Callable[..., None]:
    @click.argument("invitation_id")
    @click.option("--as", "as_email", required=True, help=who)
    @command
    def run(ctx: Context, invitation_id: str, as_email: str) -> None:
        async def go() -> Any:
            service = await _partners_connected(ctx)
            return await getattr(service, f"{name}_invitation")(invitation_id, by=as_email)

        out = run_async(go)
        human = f"Invitation {invitation_id} is {out.status.value}."
        if out.granted_shop_ids:
            human += f" Shops shared: {len(out.granted_shop_ids)}."
        ctx.emit(out.model_dump(mode="json"), human)

    run.__doc__ = f"{verb} an invitation (R16 member, R17 add-partner)."
    return run


cli.command("accept-invitation")(
    _answer_command(
        "accept",
        "Accept",
        "The invited e-mail (member invitation) or an admin of the invited BC (partner).",
    )
)
cli.command("decline-invitation")(
    _answer_command("decline", "Decline", "The invited e-mail, or an admin of the invited BC.")
)
cli.command("cancel-invitation")(
    _answer_command("cancel", "Withdraw", "An admin of the inviting BC.")
)


@cli.command("share-shop")
@click.option("--bc", "bc_id", type=int, required=True, help="The sharing Business Center.")
@click.option("--shop-code", required=True)
@click.option("--partner-bc", "partner_bc_id", type=int, required=True)
@click.option("--permission", type=PERMISSIONS, required=True)
@click.option("--as", "as_email", required=True, help="E-mail of an admin of the sharing BC.")
@command
def share_shop(
    ctx: Context,
    bc_id: int,
    shop_code: str,
    partner_bc_id: int,
    permission: str,
    as_email: str,
) -> None:
    """Share a shop with another BC, never above your own permission (R17).

    An existing partner gets it at once; any other BC gets an add-partner invitation and
    gets the shop when one of its admins accepts.
    """

    async def go() -> Any:
        service = await _partners_connected(ctx)
        return await service.share_shop(
            bc_id=bc_id,
            shop_code=shop_code,
            partner_bc_id=partner_bc_id,
            permission=Permission(permission),
            by=as_email,
        )

    out = run_async(go)
    human = (
        f"Shop {out.shop_code} shared with BC {partner_bc_id} ({out.permission.value})."
        if out.status == "shared"
        else f"BC {partner_bc_id} is not yet a partner: add-partner invitation "
        f"{out.invitation_id} sent; the share takes effect when it is accepted."
    )
    ctx.emit(out.model_dump(mode="json"), human)


@cli.command("create-campaign")
@click.option("--ad-account", "ad_account_id", type=int, required=True)
@click.option("--shop-code", required=True, help="The shop used as product source.")
@click.option("--name", required=True)
@click.option("--as", "as_email", required=True)
@command
def create_campaign(
    ctx: Context, ad_account_id: int, shop_code: str, name: str, as_email: str
) -> None:
    """Create a Product Sales campaign with a shop as product source (R18)."""
    view = _partners(ctx).create_campaign(
        ad_account_id=ad_account_id, shop_code=shop_code, name=name, by=as_email
    )
    ctx.emit(
        view.model_dump(mode="json"),
        f"Campaign {view.campaign_id} ({view.name}) is {view.status.value}.",
    )


@cli.command()
@click.option("--bc", "bc_id", type=int, help="Campaigns of a Business Center's ad accounts.")
@click.option("--shop-code", help="Campaigns using a shop as product source.")
@command
def campaigns(ctx: Context, bc_id: int | None, shop_code: str | None) -> None:
    """List campaigns of a BC (--bc) or of a shop (--shop-code) (R18)."""
    if (bc_id is None) == (shop_code is None):
        raise Refusal(ErrorCode.INVALID_INPUT, "Give exactly one of --bc or --shop-code.")
    views = _partners(ctx).campaigns(bc_id=bc_id, shop_code=shop_code)
    human = (
        "\n".join(
            f"{v.campaign_id:>6}  {v.status.value:<10} ad account {v.ad_account_id}  "
            f"{v.shop_code}  {v.name}"
            for v in views
        )
        or "No campaigns."
    )
    ctx.emit({"campaigns": [v.model_dump(mode="json") for v in views]}, human)


@cli.command()
@click.option("--bc", "bc_id", type=int, required=True)
@command
def shops(ctx: Context, bc_id: int) -> None:
    """What a BC holds, with relationship and permission (R8, R17)."""
    views = _partners(ctx).shops(bc_id)
    human = (
        "\n".join(
            f"{v.shop_code}  {v.relationship.value:<8} {v.permission.value:<13} via {v.via}"
            + (f" from BC {v.granted_by_bc_id}" if v.via == "share" else "")
            for v in views
        )
        or "No shops."
    )
    ctx.emit({"shops": [v.model_dump(mode="json") for v in views]}, human)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


@cli.command("remove-access")
@click.option("--shop-code", required=True)
@click.option("--partner-bc", "partner_bc_id", type=int, required=True)
@click.option(
    "--as",
    "as_email",
    required=True,
    help="A member of the shop's team, or an admin of its owner BC.",
)
@click.option("--preview", is_flag=True, help="Show what would stop; change nothing.")
@click.option("--wait", is_flag=True, help="Wait until every campaign has stopped.")
@command
def remove_access(
    ctx: Context, shop_code: str, partner_bc_id: int, as_email: str, preview: bool, wait: bool
) -> None:
    """Remove a partner's access to a shop (R19), with --preview first.

    The grant ends at once (with onward shares and member assignments); campaigns stop in
    the background, durably; the partner is e-mailed.
    """
    if preview:
        view = _partners(ctx).preview_removal(
            shop_code=shop_code, partner_bc_id=partner_bc_id, by=as_email
        )
        lines = [
            f"Removing {view.partner_bc_name} (BC {view.partner_bc_id}, "
            f"{view.permission.value}) from shop {view.shop_code} stops "
            f"{_count(view.total_delivering_campaigns, 'delivering campaign')} "
            f"({view.delivering_campaigns} its own) and ends "
            f"{_count(view.member_assignments, 'member assignment')}."
        ]
        lines += [
            f"  {'  ' * (d.depth - 1)}↳ BC {d.bc_id} ({d.bc_name}), shared by BC "
            f"{d.shared_by_bc_id}: "
            + (
                "keeps access another way"
                if d.keeps_access
                else f"loses access, {_count(d.delivering_campaigns, 'campaign')} stop"
            )
            for d in view.downstream
        ]
        ctx.emit(view.model_dump(mode="json"), "\n".join(lines))
        return

    async def go() -> Any:
        service = await _partners_connected(ctx)
        ended, workflow_id = await service.remove_access(
            shop_code=shop_code, partner_bc_id=partner_bc_id, by=as_email
        )
        result = await service.removal_result(workflow_id) if wait else None
        return ended, workflow_id, result

    ended, workflow_id, result = run_async(go)
    payload = {**ended.model_dump(mode="json"), "workflow_id": workflow_id}
    human = (
        f"Access removed: {len(ended.ended_grant_ids)} grants ended, "
        f"{len(ended.lost_bc_ids)} Business Centers lost the shop. "
    )
    if result is not None:
        payload["campaigns_stopped"] = result.campaigns_stopped
        payload["status"] = result.status
        human += f"{result.campaigns_stopped} campaigns stopped."
    else:
        human += f"Campaigns are stopping (workflow {workflow_id})."
    ctx.emit(payload, human)


def main() -> NoReturn:
    """Run the CLI, then leave without the interpreter's teardown.

    The Temporal client's Rust threads can still call into Python while a short-lived
    process finalizes, which aborts it (SIGABRT, "PyGILState_Release ... finalizing",
    temporalio/sdk-python#300) after the command's output: scripts would see exit
    status -6 for a command that succeeded. So flush, then ``os._exit`` with the status.
    """
    try:
        cli()
        status = 0
    except SystemExit as done:
        if isinstance(done.code, int) or done.code is None:
            status = done.code or 0
        else:  # sys.exit("message"): Python prints it and exits 1
            print(done.code, file=sys.stderr)
            status = 1
    sys.stdout.flush()
    sys.stderr.flush()
    logging.shutdown()
    os._exit(status)


if __name__ == "__main__":
    main()
