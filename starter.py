"""The ops CLI of shop-access: trigger workflows on a user's behalf, load reference data,
inspect state.

Every command takes ``--json``: on success it exits 0 and prints one JSON object; any
failure prints ``{"error": {"code": ..., "message": ...}}`` (with ``--json``) or one line
on stderr, and exits non-zero (cli/failures.py). Scripts depend on the command names,
options and error codes (docs/operations.md and docs/errors.md list them). The commands
live in ``cli/``, one module per group; this file assembles them and is the entry point.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import NoReturn

import click

from cli import (
    api_tokens,
    audit,
    bulk,
    campaigns,
    data,
    end_date_commands,
    operations,
    partners,
    reads,
    removal,
    requesting,
    seller,
    webhooks,
)
from cli.failures import ShopAccessGroup


@click.group(cls=ShopAccessGroup, context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Shop access: partners requesting access to TikTok Shops from Business Center.

    Configuration comes from the environment (DATABASE_URL, TASK_QUEUE, TEMPORAL_ADDRESS,
    ...; see docs/operations.md). With --json, every outcome is one JSON object on stdout,
    errors included; every error code is in docs/errors.md.
    """


for group in (
    data,
    requesting,
    seller,
    reads,
    partners,
    campaigns,
    removal,
    operations,
    audit,
    webhooks,
    end_date_commands,
    bulk,
    api_tokens,
):
    for cmd in group.COMMANDS:
        cli.add_command(cmd)


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
