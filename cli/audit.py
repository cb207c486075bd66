"""``audit export|verify|head|check-store|public-key|rotate-key``: the tamper-evident,
signed audit export (R27, R32, docs/audit.md). Store reads only, but for the signing key
(made by the first export, or by ``rotate-key``); no Temporal. ``verify --public-key``
needs no store at all."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

import click

from cli.context import Context, command
from cli.params import DB_ID
from client.audit import (
    ChainTop,
    audit_head,
    check_store,
    export_text,
    pick_scope,
    public_key,
    public_key_from_pem,
    public_keys,
    rotate_key,
    verify_export,
)
from models.errors import ErrorCode, Refusal

_SINCE_FORMATS = ["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"]


@click.group("audit")
def audit() -> None:
    """Export the recorded changes (R21) as a hash-chained, signed file, and verify one,
    with the store or offline with the public key (R27, R32)."""


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
        sys.stdout.writelines(made.body)
        return
    _write(output, made.body)
    summary = {"file": str(output), "lines": made.lines, "head": made.head}
    ctx.emit(summary, f"Wrote {made.lines} changes to {output}; head {made.head}.")


def _write(output: Path, body: Iterable[str]) -> None:
    """The export into ``output`` as it is read (R27: flat memory). A failure part way
    (the store gone) removes the partial file: a file there is a whole export."""
    try:
        with output.open("w", encoding="utf-8") as out:
            out.writelines(body)
    except BaseException:
        if output.is_file():
            output.unlink()
        raise


@audit.command("verify")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--file-only",
    is_flag=True,
    help="Check the file on its own, without the store (catches edits that left the "
    "hashes stale, not a file rewritten with new hashes).",
)
@click.option(
    "--public-key",
    "public_key_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Check offline, with no store: the file's links and its signed trailer against "
    "this PEM public key (`audit public-key`), so a file cut short fails (R32).",
)
@command
def verify(ctx: Context, file: Path, file_only: bool, public_key_file: Path | None) -> None:
    """Check an export: exits 1 naming the first line altered, removed or reordered, or
    the trailer whose signature does not hold."""
    offline = file_only or public_key_file is not None
    pem = None
    if public_key_file is not None:
        pem = public_key_file.read_bytes()
        public_key_from_pem(pem, str(public_key_file))  # a bad key's refusal names the file
    checked = verify_export(file, None if offline else ctx.engine, pem)
    where = checked.scope
    if not offline:
        how = ", as the store recorded them"
    elif checked.signed_by:
        how = " (offline)"
    else:
        how = " (file only: the signature was not checked)"
    signed = f"; signed by key {checked.signed_by}" if checked.signed_by else ""
    ctx.emit(
        checked.model_dump(mode="json"),
        f"OK: {checked.lines} changes of {where}, head {checked.head}{how}{signed}.",
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


@audit.command("public-key")
@click.option("--key-id", help="An earlier key, by the id an export's trailer names.")
@click.option("--all", "every", is_flag=True, help="List every key, newest (signing) first.")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, writable=True, allow_dash=True, path_type=Path),
    default=Path("-"),
    show_default=True,
    help="Where to write the PEM; - is stdout.",
)
@command
def public_key_cmd(ctx: Context, key_id: str | None, every: bool, output: Path) -> None:
    """The public key (PEM) that checks exports offline: the signing one, or an earlier
    one by id (R32). The first call makes the store's first key."""
    if every:
        if key_id is not None:
            raise Refusal(ErrorCode.INVALID_INPUT, "Give --key-id or --all, not both.")
        listed = public_keys(ctx.engine)
        human = "\n".join(
            f"{k.key_id}  created {k.created_at:%Y-%m-%d %H:%M} UTC"
            + (f", retired {k.retired_at:%Y-%m-%d %H:%M} UTC" if k.retired_at else " (signs)")
            for k in listed.keys
        )
        ctx.emit(listed.model_dump(mode="json"), human)
        return
    key = public_key(ctx.engine, key_id)
    if str(output) != "-":
        output.write_text(key.public_key, encoding="utf-8")
        ctx.emit(key.model_dump(mode="json"), f"Wrote key {key.key_id} to {output}.")
        return
    ctx.emit(key.model_dump(mode="json"), key.public_key.rstrip("\n"))


@audit.command("rotate-key")
@command
def rotate_key_cmd(ctx: Context) -> None:
    """Make a new signing key; the old one signs nothing more and stays listed, so the
    exports it signed still verify (docs/operations.md)."""
    made = rotate_key(ctx.engine)
    was = f"; {made.retired} is retired" if made.retired else ""
    ctx.emit(made.model_dump(), f"Exports are now signed by key {made.key_id}{was}.")


COMMANDS = [audit]
