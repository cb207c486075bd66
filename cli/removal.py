"""Removing a partner's access to a shop (R19): ``remove-access`` and its ``--preview``."""

from __future__ import annotations

from typing import Any

import click

from cli.context import Context, command
from cli.params import DB_ID
from models.partner_messages import RemovalPreview


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _describe_preview(view: RemovalPreview) -> str:
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
    return "\n".join(lines)


async def _remove(
    ctx: Context, shop_code: str, partner_bc_id: int, by: str, wait: bool, page_size: int
) -> None:
    service = await ctx.partners_connected()
    ended, workflow_id = await service.remove_access(
        shop_code=shop_code,
        partner_bc_id=partner_bc_id,
        by=by,
        page_size=page_size,
        batch_size=min(500, page_size),
    )
    payload: dict[str, Any] = {**ended.model_dump(mode="json"), "workflow_id": workflow_id}
    human = (
        f"Access removed: {len(ended.ended_grant_ids)} grants ended, "
        f"{len(ended.lost_bc_ids)} Business Centers lost the shop. "
    )
    if wait:
        from client.progress import follow_removal, print_steps

        # The numbers come from the workflow's progress query.
        await print_steps(follow_removal(service.client, workflow_id), as_json=ctx.as_json)
        result = await service.removal_result(workflow_id)
        payload["campaigns_stopped"] = result.campaigns_stopped
        payload["status"] = result.status
        human += f"{result.campaigns_stopped} campaigns stopped."
    else:
        human += f"Campaigns are stopping (workflow {workflow_id})."
    ctx.emit(payload, human)


@click.command("remove-access")
@click.option("--shop-code", required=True)
@click.option("--partner-bc", "partner_bc_id", type=DB_ID, required=True)
@click.option(
    "--as",
    "as_email",
    required=True,
    help="A member of the shop's team, or an admin of its owner BC.",
)
@click.option("--preview", is_flag=True, help="Show what would stop; change nothing.")
@click.option(
    "--wait",
    is_flag=True,
    help="Wait until every campaign has stopped, showing progress (with --json: one line "
    "per step, the result last).",
)
# Campaigns stopped per activity: smaller pages report progress more often (tests).
@click.option("--page-size", type=click.IntRange(1, 10_000), default=2000, hidden=True)
@command
async def remove_access(
    ctx: Context,
    shop_code: str,
    partner_bc_id: int,
    as_email: str,
    preview: bool,
    wait: bool,
    page_size: int,
) -> None:
    """Remove a partner's access to a shop (R19), with --preview first.

    The grant ends at once (with onward shares and member assignments); campaigns stop in
    the background, durably; the partner is e-mailed.
    """
    if not preview:
        await _remove(ctx, shop_code, partner_bc_id, as_email, wait, page_size)
        return
    view = ctx.partners().preview_removal(
        shop_code=shop_code, partner_bc_id=partner_bc_id, by=as_email
    )
    ctx.emit(view.model_dump(mode="json"), _describe_preview(view))


COMMANDS = [remove_access]
