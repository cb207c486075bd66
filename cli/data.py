"""Data commands: ``migrate``, ``load FILE``, ``seed-demo``. Only seed-demo needs Temporal."""

from __future__ import annotations

from pathlib import Path

import click

from cli.context import Context, command
from client.reference import load_reference_data, parse_reference
from models.errors import ErrorCode, Refusal


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


@click.command()
@click.argument("file", type=click.Path(path_type=Path))
@command
def load(ctx: Context, file: Path) -> None:
    """Import reference data (users, business centers, shops) from a JSON FILE.

    Idempotent: loading the same file again changes nothing. The shape is documented in
    docs/operations.md; devtools/data/demo.json is an example. A file with any problem is
    refused as a whole, before anything is stored.
    """
    data = parse_reference(read_text_file(file), str(file))
    done = load_reference_data(ctx.engine, data)
    counts = done.loaded
    ctx.emit(
        done.model_dump(),
        f"Loaded {counts.users} users, {counts.business_centers} business centers, "
        f"{counts.shops} shops.",
    )


@click.command("seed-demo")
@click.option("--no-requests", is_flag=True, help="Load the data set only; start no request.")
@command
async def seed_demo(ctx: Context, no_requests: bool) -> None:
    """Load the built-in demo data set and start one request per scenario (S1-S4).

    Agency One (admin ana@agency-one.com) asks for each demo shop, plus an "Add my shop"
    that races the S3 request (R11); the sellers approve through the links in the outbox.
    Running it again starts nothing for a shop Agency One holds or a request still
    pending, leaves the loaded data as it is, and says what it kept.
    """
    from devtools import demo

    # Reach Temporal first: if it is down, the refusal leaves the store untouched.
    service = None if no_requests else await ctx.requests()
    counts = demo.load_demo_data(ctx.engine)
    outcomes = [] if service is None else await demo.seed_requests(service, ctx.engine)
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


COMMANDS = [migrate, load, seed_demo]
