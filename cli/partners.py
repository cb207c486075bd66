"""After approval (R16, R17): members, invitations, shares, and what a BC holds.

``assign-member``, ``invite-member``, ``accept-invitation``, ``decline-invitation``,
``cancel-invitation``, ``share-shop``, ``shops``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import click

from cli.context import Context, command
from cli.params import DB_ID, UNTIL, id_problem
from models.end_date_parsing import shown
from models.enums import MemberRole, Permission
from models.errors import ErrorCode, Refusal
from models.partner_enums import AdAccountPermission
from models.partner_messages import AdAccountGrant

PERMISSIONS = click.Choice([p.value for p in Permission])


def ad_account_grant(raw: str) -> AdAccountGrant:
    """``ID:PERMISSION`` (permission defaults to operator) as a grant, or invalid_input."""
    account, _, permission = raw.partition(":")
    allowed = [p.value for p in AdAccountPermission]
    if id_problem(account) is not None or (permission or "operator") not in allowed:
        raise Refusal(
            ErrorCode.INVALID_INPUT,
            f"--ad-account {raw!r} must look like ID:PERMISSION, the ID from 1 to 2^63-1 "
            f"and the permission one of {', '.join(allowed)}.",
        )
    return AdAccountGrant(
        ad_account_id=int(account), permission=AdAccountPermission(permission or "operator")
    )


@click.command("assign-member")
@click.option("--bc", "bc_id", type=DB_ID, required=True, help="The BC holding the shop.")
@click.option("--shop-code", required=True)
@click.option("--member", required=True, help="E-mail of a member of the BC.")
@click.option("--permission", type=PERMISSIONS, required=True)
@click.option("--as", "as_email", required=True, help="E-mail of an admin of the BC.")
@click.option(
    "--until",
    type=UNTIL,
    help="R23: the assignment ends then (YYYY-MM-DD, through that day UTC), never later "
    "than the BC's own access.",
)
@command
async def assign_member(
    ctx: Context,
    bc_id: int,
    shop_code: str,
    member: str,
    permission: str,
    as_email: str,
    until: datetime | None,
) -> None:
    """Give a BC member manager or ad_promotion on a shop the BC holds (R16)."""
    # Only an end date needs Temporal (its timer); without one this stays store-only.
    service = await ctx.partners_connected() if until is not None else ctx.partners()
    view = await service.assign_member_with_end_date(
        bc_id=bc_id,
        shop_code=shop_code,
        member=member,
        permission=Permission(permission),
        by=as_email,
        until=until,
    )
    ends = f" until {shown(view.ends_at)}" if view.ends_at else ""
    ctx.emit(
        view.model_dump(mode="json"),
        f"{view.member} now has {view.permission.value} on shop {view.shop_code}{ends}.",
    )


@click.command("invite-member")
@click.option("--bc", "bc_id", type=DB_ID, required=True, help="The inviting Business Center.")
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
async def invite_member(
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
    grants = [ad_account_grant(raw) for raw in ad_accounts]
    service = await ctx.partners_connected()
    out = await service.invite_members(
        bc_id=bc_id, emails=list(emails), role=MemberRole(role), ad_accounts=grants, by=as_email
    )
    ctx.emit(
        {"invitations": [o.model_dump(mode="json") for o in out]},
        "\n".join(f"{o.invitation_id}  {o.status.value}  {o.email}" for o in out),
    )


def _answer_command(name: str, verb: str, who: str) -> Callable[..., None]:
    @click.argument("invitation_id")
    @click.option("--as", "as_email", required=True, help=who)
    @command
    async def run(ctx: Context, invitation_id: str, as_email: str) -> None:
        service = await ctx.partners_connected()
        out = await getattr(service, f"{name}_invitation")(invitation_id, by=as_email)
        human = f"Invitation {invitation_id} is {out.status.value}."
        if out.granted_shop_ids:
            human += f" Shops shared: {len(out.granted_shop_ids)}."
        ctx.emit(out.model_dump(mode="json"), human)

    run.__doc__ = f"{verb} an invitation (R16 member, R17 add-partner)."
    return run


accept_invitation = click.command("accept-invitation")(
    _answer_command(
        "accept",
        "Accept",
        "The invited e-mail (member invitation) or an admin of the invited BC (partner).",
    )
)
decline_invitation = click.command("decline-invitation")(
    _answer_command("decline", "Decline", "The invited e-mail, or an admin of the invited BC.")
)
cancel_invitation = click.command("cancel-invitation")(
    _answer_command("cancel", "Withdraw", "An admin of the inviting BC.")
)


@click.command("share-shop")
@click.option("--bc", "bc_id", type=DB_ID, required=True, help="The sharing Business Center.")
@click.option("--shop-code", required=True)
@click.option("--partner-bc", "partner_bc_id", type=DB_ID, required=True)
@click.option("--permission", type=PERMISSIONS, required=True)
@click.option("--as", "as_email", required=True, help="E-mail of an admin of the sharing BC.")
@click.option(
    "--until",
    type=UNTIL,
    help="R23: the share ends then (YYYY-MM-DD, through that day UTC), never later than "
    "your own access; on an invitation, from its acceptance until then.",
)
@command
async def share_shop(
    ctx: Context,
    bc_id: int,
    shop_code: str,
    partner_bc_id: int,
    permission: str,
    as_email: str,
    until: datetime | None,
) -> None:
    """Share a shop with another BC, never above your own permission (R17).

    An existing partner gets it at once; any other BC gets an add-partner invitation and
    gets the shop (with --until's end date) when one of its admins accepts.
    """
    service = await ctx.partners_connected()
    out = await service.share_shop(
        bc_id=bc_id,
        shop_code=shop_code,
        partner_bc_id=partner_bc_id,
        permission=Permission(permission),
        by=as_email,
        until=until,
    )
    ends = f", until {shown(out.ends_at)}" if out.ends_at else ""
    human = (
        f"Shop {out.shop_code} shared with BC {partner_bc_id} ({out.permission.value}{ends})."
        if out.status == "shared"
        else f"BC {partner_bc_id} is not yet a partner: add-partner invitation "
        f"{out.invitation_id} sent; the share takes effect when it is accepted{ends}."
    )
    ctx.emit(out.model_dump(mode="json"), human)


@click.command()
@click.option("--bc", "bc_id", type=DB_ID, required=True)
@command
def shops(ctx: Context, bc_id: int) -> None:
    """What a BC holds, with relationship and permission (R8, R17)."""
    views = ctx.partners().shops(bc_id)
    human = (
        "\n".join(
            f"{v.shop_code}  {v.relationship.value:<8} {v.permission.value:<13} via {v.via}"
            + (f" from BC {v.granted_by_bc_id}" if v.via == "share" else "")
            + (f" until {shown(v.ends_at)}" if v.ends_at else "")
            for v in views
        )
        or "No shops."
    )
    ctx.emit({"shops": [v.model_dump(mode="json") for v in views]}, human)


COMMANDS = [
    assign_member,
    invite_member,
    accept_invitation,
    decline_invitation,
    cancel_invitation,
    share_shop,
    shops,
]
