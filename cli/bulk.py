"""Bulk requests and the daily quota (R24, R4): ``bulk-status``, ``bulk-cancel``, ``quota``;
and the bulk form of ``request-access`` / ``add-my-shop`` (``--shop-codes-file``)."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import click

from cli.context import Context, command
from cli.params import DB_ID
from models.bulk_messages import BulkProgress, QuotaView
from models.enums import RequestMethod
from models.errors import ErrorCode, Refusal


async def _bulk_service(ctx: Context) -> Any:
    from client.bulk import BulkService

    requests = await ctx.requests()  # the same connection and errors as single requests
    return BulkService(requests.client, ctx.engine, ctx.settings.task_queue)


def _read_codes(path: Path) -> list[str]:
    from client.bulk import parse_shop_codes

    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise Refusal(ErrorCode.INVALID_INPUT, f"{path} is not a UTF-8 text file.") from None
    except OSError as err:
        raise Refusal(ErrorCode.INVALID_INPUT, f"Cannot read {path}: {err.strerror}.") from None
    return parse_shop_codes(text)


def describe(progress: BulkProgress) -> str:
    lines = [
        f"Bulk request {progress.bulk_id} ({progress.method.label}, BC {progress.bc_id}): "
        f"{progress.status}, {progress.admitted} admitted, {progress.refused} refused"
        + (f", {progress.cancelled} cancelled" if progress.cancelled else "")
        + f" of {progress.total}."
    ]
    if progress.waiting_until is not None:
        lines.append(
            f"Today's limit is used up; it continues when the limit resets at "
            f"{progress.waiting_until.isoformat()}."
        )
    for r in progress.results:
        if r.outcome == "admitted":
            lines.append(f"  {r.shop_code:<32} admitted  {r.request_id}")
        elif r.outcome == "refused":
            lines.append(f"  {r.shop_code:<32} refused   {r.refusal_code}: {r.refusal_message}")
        else:
            lines.append(f"  {r.shop_code:<32} {r.outcome}")
    return "\n".join(lines)


def _progress_json(step: BulkProgress) -> dict[str, Any]:
    body = step.model_dump(mode="json", exclude={"results"})
    return {"progress": body}


async def print_bulk_steps(steps: AsyncIterator[BulkProgress], *, as_json: bool) -> None:
    """One JSON line per change on stdout, or a progress bar of codes done on stderr (so
    stdout keeps only the result)."""
    if as_json:
        async for step in steps:
            click.echo(json.dumps(_progress_json(step)))
        return
    with contextlib.ExitStack() as stack:
        bar: Any = None
        shown = 0
        async for step in steps:
            if bar is None:
                bar = stack.enter_context(
                    click.progressbar(length=step.total, label="Shop codes", file=sys.stderr)
                )
            bar.update(step.done - shown)
            shown = step.done


async def start_bulk(
    ctx: Context, method: RequestMethod, bc_id: int, path: Path, by: str, wait: bool
) -> None:
    """``request-access --shop-codes-file``: nothing starts unless the whole file is good."""
    codes = _read_codes(path)
    service = await _bulk_service(ctx)
    bulk_id = await service.start(method=method, bc_id=bc_id, shop_codes=codes, by=by)
    if not wait:
        ctx.emit(
            {"bulk_id": bulk_id, "shop_codes": len(codes), "status": "running"},
            f"Bulk request {bulk_id} started for {len(codes)} shop codes. "
            f"Follow it with: bulk-status {bulk_id}",
        )
        return
    await print_bulk_steps(service.follow(bulk_id), as_json=ctx.as_json)
    final = await service.progress(bulk_id)
    ctx.emit(final.model_dump(mode="json"), describe(final))


@click.command("bulk-status")
@click.argument("bulk_id")
@click.option("--wait", is_flag=True, help="Follow it to the end, showing progress.")
@command
async def bulk_status(ctx: Context, bulk_id: str, wait: bool) -> None:
    """Show a bulk request: counts, when it continues, and a result per shop code (R24)."""
    service = await _bulk_service(ctx)
    if wait:
        await print_bulk_steps(service.follow(bulk_id), as_json=ctx.as_json)
    progress = await service.progress(bulk_id)
    ctx.emit(progress.model_dump(mode="json"), describe(progress))


@click.command("bulk-cancel")
@click.argument("bulk_id")
@click.option("--as", "as_email", required=True, help="E-mail of an admin of the requesting BC.")
@command
async def bulk_cancel(ctx: Context, bulk_id: str, as_email: str) -> None:
    """Stop a bulk request before its next shop code (R24). Requests it already admitted
    stay pending: cancel them one by one with ``cancel``."""
    service = await _bulk_service(ctx)
    progress = await service.cancel(bulk_id, by=as_email)
    ctx.emit(
        progress.model_dump(mode="json"),
        f"Bulk request {bulk_id} is stopping: {progress.admitted} admitted so far stay "
        "pending; the codes not tried yet are cancelled.",
    )


def quota_line(quota: QuotaView) -> str:
    return (
        f"Today ({quota.day}, {quota.timezone}): {quota.remaining} of {quota.limit} requests "
        f"left; the limit resets at {quota.resets_at.isoformat()}."
    )


@click.command()
@click.option("--bc", "bc_id", type=DB_ID, required=True, help="A Business Center's id.")
@command
def quota(ctx: Context, bc_id: int) -> None:
    """Show today's remaining requests of a Business Center and when the limit resets (R4)."""
    from client.bulk import quota as quota_of

    view = quota_of(ctx.engine, bc_id)
    ctx.emit(view.model_dump(mode="json"), quota_line(view))


COMMANDS = [bulk_status, bulk_cancel, quota]
