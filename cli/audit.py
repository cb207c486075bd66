"""``audit export|verify|head|check-store``: the tamper-evident audit export (R27,
docs/audit.md). Store reads only; no Temporal."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import click

from cli.context import Context, command
from cli.params import DB_ID
from models.errors import ErrorCode, Refusal
from service.audit import (
    ChainTop,
    audit_head,
    check_store,
    export_text,
    pick_scope,
    verify_export,
)

_SINCE_FORMATS = ["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"]


@click.group("audit")
def audit() -> None:
    """Export the recorded changes (R21) as a hash-chained file, and verify one (R27)."""


@audit.command("export")
@click.option("--shop-code", help="Every change recorded about this shop.")
@click.option("--bc", "bc_id", type=DB_ID, help="Every change recorded about this Business Center.")
@click.option(
    "--since",
    type=click.DateTime(_SINCE_FORMATS),
    help="Start at the scope's first change at or after this UTC time (the chain still "
    "links to the change before it).",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, writable=True, allow_dash=True, path_type=Path),
    default=Path("-"),
    show_default=True,
    help="Where to write the JSON Lines; - is stdout.",
)
@command
def export_cmd(
    ctx: Context, shop_code: str | None, bc_id: int | None, since: datetime | None, output: Path
) -> None:
    """Write a shop's or a BC's recorded changes as JSON Lines, each line chained to the
    one before by its hash (docs/audit.md)."""
    scope = pick_scope(shop_code, bc_id)
    to_stdout = str(output) == "-"
    if to_stdout and ctx.as_json:
        raise Refusal(
            ErrorCode.INVALID_INPUT,
            "With --json, give --output FILE: stdout carries the one JSON summary.",
        )
    made = export_text(ctx.engine, scope, since.replace(tzinfo=UTC) if since else None)
    if to_stdout:
        sys.stdout.write(made.text)
        return
    output.write_text(made.text, encoding="utf-8")
    summary = {"file": str(output), "lines": made.lines, "head": made.head}
    ctx.emit(summary, f"Wrote {made.lines} changes to {output}; head {made.head}.")


@audit.command("verify")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--file-only",
    is_flag=True,
    help="Check the file on its own, without the store (catches edits that left the "
    "hashes stale, not a file rewritten with new hashes).",
)
@command
def verify(ctx: Context, file: Path, file_only: bool) -> None:
    """Check an export: exits 1 naming the first line altered, removed or reordered."""
    checked = verify_export(file.read_bytes(), None if file_only else ctx.engine)
    where = checked.scope
    ctx.emit(
        checked.model_dump(mode="json"),
        f"OK: {checked.lines} changes of {where}, head {checked.head}"
        + (" (file only)." if file_only else ", as the store recorded them."),
    )


@audit.command("head")
@click.option("--shop-code", help="The last change recorded about this shop.")
@click.option("--bc", "bc_id", type=DB_ID, help="The last change recorded about this BC.")
@click.option(
    "--since",
    type=click.DateTime(_SINCE_FORMATS),
    help="Count the scope's changes from its first one at or after this UTC time, as "
    "export --since does.",
)
@command
def head(ctx: Context, shop_code: str | None, bc_id: int | None, since: datetime | None) -> None:
    """The hash a new export of the scope ends with (or the whole chain's, with neither)."""
    start = since.replace(tzinfo=UTC) if since else None
    made = audit_head(ctx.engine, shop_code, bc_id, start)
    if isinstance(made, ChainTop):
        ctx.emit(made.model_dump(mode="json"), f"{made.seq} changes; head {made.head}")
        return
    ctx.emit(made.model_dump(mode="json"), f"{made.lines} changes; head {made.head}")


@audit.command("check-store")
@command
def check_store_cmd(ctx: Context) -> None:
    """Walk the store's whole chain: every row's hash and link, and the head."""
    checked = check_store(ctx.engine)
    ctx.emit(checked.model_dump(mode="json"), f"OK: {checked.seq} changes chained.")


COMMANDS = [audit]
