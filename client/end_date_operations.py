"""Access until a date (R23), the service side: write the end date to the store, then
arm (or disarm) the grant's ``AccessEnd`` timer.

The store is written first and is the truth: the workflow re-reads it at the end date, so
a crash between the two steps can only leave a date without a timer, never a timer that
ends access the store no longer says should end. Setting the same date again (``starter.py
access-until``) re-arms such a date: signal-with-start joins a running timer or starts one.

An approval's end date does not pass through here: it rides on the ``approve`` update, the
deciding transaction stores it with the grant, and the request workflow arms the timer
through an activity (:func:`arm`), so no crash can leave that date without its timer.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from models.end_date_messages import AccessEndInput, AssignmentEndInput, SetEndDate
from models.names import EndDateName, access_end_workflow_id, assignment_end_workflow_id
from models.tables import utcnow
from store import end_dates
from store.db import write_session


async def arm(client: Client, task_queue: str, grant_id: int, ends_at: datetime) -> str:
    """Start the grant's timer, or tell the running one the new date (signal-with-start)."""
    workflow_id = access_end_workflow_id(grant_id)
    await client.start_workflow(
        EndDateName.WORKFLOW,
        AccessEndInput(grant_id=grant_id, ends_at=ends_at),
        id=workflow_id,
        task_queue=task_queue,
        start_signal=EndDateName.SET_END_DATE,
        start_signal_args=[SetEndDate(ends_at=ends_at)],
        static_summary=f"Access of grant {grant_id} until {end_dates.shown(ends_at)}",
    )
    return workflow_id


async def disarm(client: Client, grant_id: int) -> None:
    """The date was cleared: the timer ends (there may be none: it already ended)."""
    handle = client.get_workflow_handle(access_end_workflow_id(grant_id))
    try:
        await handle.signal(EndDateName.SET_END_DATE, SetEndDate(ends_at=None))
    except RPCError as err:
        if err.status is not RPCStatusCode.NOT_FOUND:
            raise


async def follow(client: Client, task_queue: str, grant_id: int, ends_at: datetime | None) -> None:
    if ends_at is None:
        await disarm(client, grant_id)
    else:
        await arm(client, task_queue, grant_id, ends_at)


async def set_partner_end_date(
    client: Client,
    engine: Engine,
    task_queue: str,
    *,
    shop_code: str,
    partner_bc_id: int,
    ends_at: datetime | None,
    by: str,
) -> end_dates.EndDateSet:
    """R23: the seller sets, changes or clears when a partner's access to a shop ends."""
    with write_session(engine) as session:
        done = end_dates.set_partner_end(
            session, shop_code=shop_code, partner_bc_id=partner_bc_id, ends_at=ends_at, by=by
        )
    for grant_id in done.grant_ids:
        await follow(client, task_queue, grant_id, ends_at)
    return done


def check_end_date(ends_at: datetime | None) -> None:
    """Refuse a date already past before anything is decided (the store checks again)."""
    if ends_at is not None:
        end_dates.require_future(ends_at, utcnow())


async def follow_assignment(
    client: Client, task_queue: str, assignment_id: int, ends_at: datetime | None
) -> None:
    """Arm (signal-with-start) or disarm the timer of one member assignment."""
    workflow_id = assignment_end_workflow_id(assignment_id)
    if ends_at is None:
        try:
            await client.get_workflow_handle(workflow_id).signal(
                EndDateName.SET_END_DATE, SetEndDate(ends_at=None)
            )
        except RPCError as err:
            if err.status is not RPCStatusCode.NOT_FOUND:
                raise
        return
    await client.start_workflow(
        EndDateName.ASSIGNMENT_WORKFLOW,
        AssignmentEndInput(assignment_id=assignment_id, ends_at=ends_at),
        id=workflow_id,
        task_queue=task_queue,
        start_signal=EndDateName.SET_END_DATE,
        start_signal_args=[SetEndDate(ends_at=ends_at)],
        static_summary=f"Member assignment {assignment_id} until {end_dates.shown(ends_at)}",
    )
