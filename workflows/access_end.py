"""Access until a date (R23): ``AccessEnd``, one per grant with an end date.

Id ``access-end:grant-<id>`` (models/names.py), started with signal-with-start by
whoever writes the date to the store (the approval, ``access-until``, the partners page),
so a second start joins the running one. The store is the truth; this workflow keeps the
timers:
1. three days before the end date, the partner BC's admins are reminded (once per date;
   a date set closer than that reminds at once);
2. at the end date the store decides (:func:`store.end_dates.end_grant`): if the BC keeps the
   shop another way only this grant ends; otherwise the same removal as R19 runs, as a
   child ``RemovePartnerAccess``: campaigns stop, onward shares and assignments end, the
   partner is told.

Accepts:
- signal ``set_end_date`` (:class:`SetEndDate`): the date stored now; re-arms the timers, or
  ends the workflow when cleared (None).
- query ``state``: :class:`EndDateState`.

Timers are durable: a worker restart, or none running at the moment, changes nothing; the
end runs when a worker is back. The history stays small (a few events per date change).

``AssignmentEnd`` (``assignment-end:<id>``) is the same timer for a member assignment:
three days before, the assigned member (its holder) is reminded, by the same rules; at the
end date only the assignment ends.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.exceptions import ApplicationError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    import workflows.presets as presets  # by its full name: see its docstring
    from activities.end_date_activities import EndDateActivities
    from models.end_date_messages import (
        AccessEndInput,
        AssignmentEndInput,
        EndAssignment,
        EndDateResult,
        EndDateState,
        EndGrant,
        GrantEndOutcome,
        RemindAssignmentEnding,
        RemindEnding,
        SetEndDate,
    )
    from models.errors import ErrorCode
    from models.names import EndDateName
    from models.partner_messages import RemovalInput
    from workflows.removal import RemovePartnerAccessWorkflow

REMINDER_LEAD = timedelta(days=3)


async def changed_before(moment: datetime, changed: Callable[[], bool]) -> bool:
    """Sleep until ``moment``; True if ``changed()`` became true first (a new date)."""
    delay = moment - workflow.now()
    if delay <= timedelta(0):
        return False
    try:
        await workflow.wait_condition(changed, timeout=delay)
    except TimeoutError:
        return False
    return True


class _EndDateTimer:
    """What both timers share: the state, the signal that moves or clears the date, the
    query, and a sleep that wakes early when the date moves."""

    def _arm(self, target_id: int, ends_at: datetime | None) -> None:
        self._state = EndDateState(grant_id=target_id, ends_at=ends_at)
        self._cleared = False
        # Bumped by every signal: a timer that sees it change re-reads the date.
        self._version = 0

    async def _changed_before(self, moment: datetime) -> bool:
        seen = self._version
        return await changed_before(moment, lambda: self._version != seen)

    async def _reminded(
        self, ends_at: datetime, remind: Callable[[datetime], Awaitable[None]]
    ) -> bool:
        """Three days before ``ends_at`` (at once if the date is closer), ``remind`` once
        per date; never after the date (no worker ran until past it). False when the date
        moved or was cleared first: the caller reads it again."""
        state = self._state
        if state.reminded_for == ends_at:
            return True
        if await self._changed_before(ends_at - REMINDER_LEAD):
            return False
        if workflow.now() < ends_at:
            await remind(ends_at)
        state.reminded_for = ends_at
        return True

    @workflow.signal(name=EndDateName.SET_END_DATE)
    def set_end_date(self, command: SetEndDate) -> None:
        self._cleared = command.ends_at is None
        if command.ends_at is not None:
            self._state.ends_at = command.ends_at
        self._version += 1

    @workflow.query(name=EndDateName.STATE)
    def state(self) -> EndDateState:
        return self._state


@workflow.defn(name=EndDateName.WORKFLOW)
class AccessEndWorkflow(_EndDateTimer):
    @workflow.init
    def __init__(self, input: AccessEndInput) -> None:
        self._arm(input.grant_id, input.ends_at)

    @workflow.run
    async def run(self, input: AccessEndInput) -> EndDateResult:
        state = self._state
        while True:
            ends_at = state.ends_at
            if self._cleared or ends_at is None:
                return await self._finish("cleared")
            if not await self._reminded(ends_at, self._remind_admins):
                continue
            if await self._changed_before(ends_at):
                continue
            ended = await workflow.execute_activity_method(
                EndDateActivities.end_grant,
                EndGrant(grant_id=input.grant_id, ends_at=ends_at),
                **presets.STORE,
            )
            if ended.status == "not_due":
                # The store holds another date (a signal not yet here): follow the store.
                state.ends_at = ended.ends_at
                continue
            if ended.status != "remove":
                return await self._finish(ended.status)
            return await self._remove(input, ended)

    async def _remind_admins(self, ends_at: datetime) -> None:
        await workflow.execute_activity_method(
            EndDateActivities.remind,
            RemindEnding(grant_id=self._state.grant_id, ends_at=ends_at),
            **presets.MAIL,
        )

    async def _remove(self, input: AccessEndInput, ended: GrantEndOutcome) -> EndDateResult:
        shop_id, shop_code, partner_bc_id = ended.shop_id, ended.shop_code, ended.partner_bc_id
        if ended.by is None or shop_id is None or shop_code is None or partner_bc_id is None:
            self._state.status = "failed"
            raise ApplicationError(
                f"Grant {input.grant_id} reached its end date but shop {shop_code} has no "
                "team member to run the removal in the name of.",
                type=ErrorCode.BROKEN_INVARIANT,
                non_retryable=True,
            )
        self._state.status = "removing"
        removal = await workflow.execute_child_workflow(
            RemovePartnerAccessWorkflow.run,
            RemovalInput(
                # Deterministic: a retried start finds the same removal (idempotent key).
                removal_id=f"until-g{input.grant_id}",
                shop_id=shop_id,
                shop_code=shop_code,
                partner_bc_id=partner_bc_id,
                by=ended.by,
                reason="end_date",
            ),
            id=f"access-until-removal:grant-{input.grant_id}",
            # The removal is durable on its own: it finishes even if this one is ended.
            parent_close_policy=ParentClosePolicy.ABANDON,
        )
        self._state.status = "removed"
        await workflow.wait_condition(workflow.all_handlers_finished)
        return EndDateResult(grant_id=input.grant_id, status="removed", removal=removal)

    async def _finish(self, status: str) -> EndDateResult:
        self._state.status = status
        await workflow.wait_condition(workflow.all_handlers_finished)
        return EndDateResult(grant_id=self._state.grant_id, status=status)


@workflow.defn(name=EndDateName.ASSIGNMENT_WORKFLOW)
class AssignmentEndWorkflow(_EndDateTimer):
    """R23 for a member assignment (``assignment-end:<id>``): three days before its end
    date the member holding it is reminded, at the end date only the assignment ends.
    Same signal and query as ``AccessEnd``."""

    @workflow.init
    def __init__(self, input: AssignmentEndInput) -> None:
        self._arm(input.assignment_id, input.ends_at)

    @workflow.run
    async def run(self, input: AssignmentEndInput) -> EndDateResult:
        state = self._state
        while True:
            ends_at = state.ends_at
            if self._cleared or ends_at is None:
                state.status = "cleared"
                break
            if not await self._reminded(ends_at, self._remind_member):
                continue
            if await self._changed_before(ends_at):
                continue
            ended = await workflow.execute_activity_method(
                EndDateActivities.end_assignment,
                EndAssignment(assignment_id=input.assignment_id, ends_at=ends_at),
                **presets.STORE,
            )
            if ended.status == "not_due":
                state.ends_at = ended.ends_at
                continue
            state.status = ended.status
            break
        await workflow.wait_condition(workflow.all_handlers_finished)
        return EndDateResult(grant_id=input.assignment_id, status=state.status)

    async def _remind_member(self, ends_at: datetime) -> None:
        await workflow.execute_activity_method(
            EndDateActivities.remind_assignment,
            RemindAssignmentEnding(assignment_id=self._state.grant_id, ends_at=ends_at),
            **presets.MAIL,
        )
