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
@command
async def doctor(ctx: Context, timeout: float) -> None:
    """Check this set-up: configuration, store and schema, Temporal (server, namespace,
    search attributes), SMTP if configured. One PASS/FAIL line each, with a hint; exits 1
    if any check fails. Changes nothing."""
    from runtime.doctor import report_json, report_text, run_doctor

    report = await run_doctor(timeout=timeout)
    ctx.emit(report_json(report), report_text(report))
    if not report.ready:
        sys.exit(1)


COMMANDS = [doctor]
