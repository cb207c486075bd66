"""Checking a set-up: ``doctor`` (the checks live in runtime/doctor.py)."""

from __future__ import annotations

import sys

import click

from cli.context import Context, command


@click.command()
@click.option(
    "--timeout",
    type=click.FloatRange(0.5, 60),
    default=5.0,
    show_default=True,
    help="Seconds each network check may take.",
)
@click.option(
    "--processes",
    type=click.IntRange(1, 10_000),
    default=4,
    show_default=True,
    help="Worker and link-handler processes that will share the store (scripts/production "
    "runs 2 + 2); PostgreSQL's max_connections should allow 30 each.",
)
@command
async def doctor(ctx: Context, timeout: float, processes: int) -> None:
    """Check this set-up: configuration, store, schema and PostgreSQL's connection limit,
    Temporal (server, namespace, search attributes), SMTP if configured. One PASS/WARN/FAIL
    line each, with a hint; exits 1 if any check fails (a warning passes). Changes
    nothing."""
    from runtime.doctor import report_json, report_text, run_doctor

    report = await run_doctor(timeout=timeout, processes=processes)
    ctx.emit(report_json(report), report_text(report))
    if not report.ready:
        sys.exit(1)


COMMANDS = [doctor]
