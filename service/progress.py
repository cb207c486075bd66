"""Following long work to its end: ``--wait`` (issue 10 item 6).

The numbers come from the workflow's own ``progress`` query, never from a guess or a
clock: the removal workflow counts the campaigns it has stopped and knows the total from
the store once the grants have ended. ``follow_removal`` polls that query and yields each
change; ``print_steps`` shows them as a click progress bar on a terminal or one JSON line
per change with ``--json``. The caller prints the result last.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from collections.abc import AsyncIterator
from typing import Any

import click
from temporalio.client import Client

from models.errors import ErrorCode, Refusal
from models.names import PartnerMessage
from models.partner_messages import RemovalProgress

# A UI refresh rate, not a test's wait: the query is cheap (served from the worker's cache).
POLL_INTERVAL = 0.5
FINAL = frozenset({"completed", "refused"})


async def follow_removal(
    client: Client, workflow_id: str, *, interval: float = POLL_INTERVAL, timeout: float = 20
) -> AsyncIterator[RemovalProgress]:
    """Each distinct ``progress`` of a removal, until it is completed or refused.

    ``timeout`` bounds each query: with no worker running, Temporal holds a query until
    one polls, and the caller should hear that instead of waiting in silence.
    """
    handle = client.get_workflow_handle(workflow_id)
    last: RemovalProgress | None = None
    while True:
        try:
            async with asyncio.timeout(timeout):
                step: RemovalProgress = await handle.query(
                    PartnerMessage.PROGRESS, result_type=RemovalProgress
                )
        except TimeoutError:
            raise Refusal(
                ErrorCode.SERVICE_UNAVAILABLE,
                f"No worker answered about removal {workflow_id} within {timeout:.0f} "
                "seconds; it carries on once a worker is back.",
            ) from None
        if step != last:
            yield step
            last = step
        if step.status in FINAL:
            return
        await asyncio.sleep(interval)


def step_json(step: RemovalProgress) -> dict[str, Any]:
    return {"progress": step.model_dump(mode="json", exclude={"lost_bc_ids"})}


async def print_steps(steps: AsyncIterator[RemovalProgress], *, as_json: bool) -> None:
    """One JSON line per step on stdout, or a progress bar of campaigns stopped on stderr
    (so stdout keeps only the result; off a terminal click prints just the label)."""
    if as_json:
        async for step in steps:
            click.echo(json.dumps(step_json(step)))
        return
    with contextlib.ExitStack() as stack:
        bar: Any = None
        shown = 0
        async for step in steps:
            if bar is None and step.campaigns_total:
                bar = stack.enter_context(
                    click.progressbar(
                        length=step.campaigns_total,
                        label="Stopping campaigns",
                        file=sys.stderr,
                    )
                )
            if bar is not None:
                bar.update(step.campaigns_stopped - shown)
                shown = step.campaigns_stopped
