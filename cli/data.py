"""Data commands: ``migrate``, ``load FILE``, ``seed-demo``. Only seed-demo needs Temporal."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from pydantic import ValidationError

from cli.context import Context, command
from models.enums import RequestMethod
from models.errors import ErrorCode, Refusal
from models.reference import ReferenceData
from store.db import write_session

DEMO_DATA = Path(__file__).resolve().parent.parent / "service" / "data" / "demo.json"
DEMO_AGENCY, DEMO_ADMIN = 7100000000000000001, "ana@agency-one.com"
DEMO_PLAN = [
    (RequestMethod.REQUEST_ACCESS, "GBLINKED01"),
    (RequestMethod.REQUEST_ACCESS, "SGNEWBC002"),
    (RequestMethod.REQUEST_ACCESS, "USADMIN003"),
    (RequestMethod.ADD_MY_SHOP, "USADMIN003"),  # races the one above (R11)
    (RequestMethod.REQUEST_ACCESS, "THMEMBER04"),
]


@click.command()
@command
def migrate(ctx: Context) -> None:
    """Apply the schema migrations to DATABASE_URL.

    Creates a new SQLite file (and its directory) if there is none; refuses, changing
    nothing, a file that is not a healthy database.
    """
    from store.migrate import upgrade

    revision = upgrade(ctx.new_store_engine())
    ctx.emit({"revision": revision}, f"Schema is at revision {revision}.")


def read_text_file(path: Path) -> str:
    """The UTF-8 text of ``path``, or an ``invalid_input`` refusal naming the problem."""

    def refuse(problem: str) -> Refusal:
        return Refusal(ErrorCode.INVALID_INPUT, f"{path} {problem}.")

    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise refuse("does not exist") from None
    except IsADirectoryError:
        raise refuse("is a directory, not a file") from None
    except PermissionError:
        raise refuse("cannot be read (permission denied)") from None
    except OSError as err:
        raise refuse(f"cannot be read ({err.strerror})") from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise refuse("is not UTF-8 text (reference data is a JSON file)") from None


def parse_reference(raw: str, source: str) -> ReferenceData:
    try:
        return ReferenceData.model_validate_json(raw)
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'file'}: {e['msg']}" for e in err.errors()
        )
        raise Refusal(
            ErrorCode.INVALID_INPUT, f"{source} is not valid reference data: {problems}"
        ) from None


def load_into_store(ctx: Context, data: ReferenceData) -> dict[str, int]:
    from store.reference import load_reference

    with write_session(ctx.engine) as session:
        counts = load_reference(session, data)
    return {
        "users": counts.users,
        "business_centers": counts.business_centers,
        "shops": counts.shops,
    }


@click.command()
@click.argument("file", type=click.Path(path_type=Path))
@command
def load(ctx: Context, file: Path) -> None:
    """Import reference data (users, business centers, shops) from a JSON FILE.

    Idempotent: loading the same file again changes nothing. The shape is documented in
    docs/operations.md; service/data/demo.json is an example. A file with any problem is
    refused as a whole, before anything is stored.
    """
    counts = load_into_store(ctx, parse_reference(read_text_file(file), str(file)))
    ctx.emit(
        {"loaded": counts},
        f"Loaded {counts['users']} users, {counts['business_centers']} business centers, "
        f"{counts['shops']} shops.",
    )


@click.command("seed-demo")
@click.option("--no-requests", is_flag=True, help="Load the data set only; start no request.")
@command
async def seed_demo(ctx: Context, no_requests: bool) -> None:
    """Load the built-in demo data set and start one request per scenario (S1-S4).

    Agency One (admin ana@agency-one.com) asks for each demo shop; the sellers approve
    through the links in the outbox. Running it again skips requests already pending.
    """
    counts = load_into_store(ctx, parse_reference(DEMO_DATA.read_text(), "demo data"))
    requests = [] if no_requests else await _seed_requests(ctx)
    lines = [f"Loaded demo data: {counts}"]
    lines += [
        f"  {r['shop_code']}: {r.get('request_id', '-')} {r['status']}  {r.get('approval_url', '')}"
        for r in requests
    ]
    ctx.emit({"loaded": counts, "requests": requests}, "\n".join(lines))


async def _seed_requests(ctx: Context) -> list[dict[str, Any]]:
    service = await ctx.requests()
    out: list[dict[str, Any]] = []
    for method, code in DEMO_PLAN:
        entry: dict[str, Any] = {"shop_code": code, "method": method.value}
        try:
            sub = await service.submit(
                method=method, bc_id=DEMO_AGENCY, shop_code=code, by=DEMO_ADMIN
            )
        except Refusal as refusal:
            out.append({**entry, "status": refusal.code})
            continue
        out.append(
            {
                **entry,
                "request_id": sub.request_id,
                "status": sub.status,
                "approval_url": sub.approval_url,
            }
        )
    return out


COMMANDS = [migrate, load, seed_demo]
