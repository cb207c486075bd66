"""Following long work to its end: ``--wait``.

The numbers come from the workflow's own ``progress`` query, never from a guess or a
clock: the removal workflow counts the campaigns it has stopped and knows the total from
the store once the grants have ended. ``follow_removal`` polls that query and yields each
change; ``print_steps`` shows them as a click progress bar on a terminal or one JSON line
per change with ``--json``. The caller prints the result last. ``removal_status`` answers
the API's ``GET /removals/{id}`` from the same query (R26).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import click
from anyio import to_thread
from pydantic import BaseModel, Field
from sqlalchemy import Engine
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from client.temporal import answer_within
from models.errors import ErrorCode, Refusal
from models.fields import Id
from models.names import PartnerMessage
from models.partner_messages import RemovalProgress
from store.removal_reads import removal_record

# A UI refresh rate, not a test's wait: the query is cheap (served from the worker's cache).
POLL_INTERVAL = 0.5
# "failed": a step failed for good; the workflow has ended and says so for ever.
FINAL = frozenset({"completed", "refused", "failed"})
QUERY_TIMEOUT = 20.0


async def removal_progress(
    client: Client, workflow_id: str, *, timeout: float = QUERY_TIMEOUT
) -> RemovalProgress | None:
    """The removal workflow's ``progress`` now; None when Temporal has no such workflow
    (never started, or closed longer ago than the namespace keeps histories).

    ``timeout`` bounds the query: with no worker running, Temporal holds a query until
    one polls, and the caller should hear that instead of waiting in silence.
    """
    handle = client.get_workflow_handle(workflow_id)
    try:
        async with answer_within(timeout):
            step: RemovalProgress = await handle.query(
                PartnerMessage.PROGRESS, result_type=RemovalProgress
            )
            return step
    except RPCError as err:
        if err.status is RPCStatusCode.NOT_FOUND:
            return None
        raise
    except TimeoutError:
        raise Refusal(
            ErrorCode.SERVICE_UNAVAILABLE,
            f"No worker answered about removal {workflow_id} within {timeout:.0f} "
            "seconds; it carries on once a worker is back.",
        ) from None


async def follow_removal(
    client: Client, workflow_id: str, *, interval: float = POLL_INTERVAL, timeout: float = 20
) -> AsyncIterator[RemovalProgress]:
    """Each distinct ``progress`` of a removal, until it is completed, refused or failed."""
    last: RemovalProgress | None = None
    while True:
        step = await removal_progress(client, workflow_id, timeout=timeout)
        if step is None:  # just started by the caller: it exists, or Temporal lost it
            raise Refusal(
                ErrorCode.SERVICE_UNAVAILABLE,
                f"Temporal has no removal {workflow_id}; see the Temporal UI.",
            )
        if step != last:
            yield step
            last = step
        if step.status in FINAL:
            return
        await asyncio.sleep(interval)


class RemovalStatusView(BaseModel):
    """``GET /removals/{id}``: the numbers ``remove-access --wait`` shows, from the removal
    workflow's ``progress`` query, with what the store recorded when its grants ended."""

    removal_id: str
    workflow_id: str
    shop_code: str
    partner_bc_id: Id
    status: str = Field(
        description="ending_grants, stopping_campaigns, completed, refused or failed."
    )
    done: bool = Field(description="True once the status no longer changes.")
    campaigns_stopped: int
    campaigns_total: int = Field(description="What campaigns_stopped counts towards.")
    pages: int | None = Field(
        default=None, description="Pages of campaigns stopped; None once Temporal forgot it."
    )
    ended_grant_ids: list[Id]
    lost_bc_ids: list[Id]
    started_at: datetime
    finished_at: datetime | None = None


async def removal_status(
    client: Client, engine: Engine, removal_id: str, *, timeout: float = QUERY_TIMEOUT
) -> RemovalStatusView:
    """A removal's progress by its id; ``unknown_removal`` (404 on the API) if none."""
    record = await to_thread.run_sync(removal_record, engine, removal_id)
    if record is None:
        raise Refusal(ErrorCode.UNKNOWN_REMOVAL, removal_id=removal_id)
    step = await removal_progress(client, record.workflow_id, timeout=timeout)
    base = record.model_dump(exclude={"status", "campaigns_stopped"})
    if step is None:  # Temporal no longer keeps its history: the store's record answers
        completed = record.status == "completed"
        return RemovalStatusView(
            **base,
            status="completed" if completed else "stopping_campaigns",
            done=completed,
            campaigns_stopped=record.campaigns_stopped,
            campaigns_total=record.campaigns_stopped if completed else 0,
        )
    return RemovalStatusView(
        **base,
        status=step.status,
        done=step.status in FINAL,
        campaigns_stopped=step.campaigns_stopped,
        campaigns_total=step.campaigns_total,
        pages=step.pages,
    )


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
