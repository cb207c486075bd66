"""One bulk request: many shop codes, admitted as R4's daily limit allows (R24).

Each code becomes an ordinary request (same workflow type and id as a single one) through
the ``bulk.admit_one`` activity, one code at a time in file order. When the BC's limit for
today is used up, the workflow sleeps on a durable timer until it resets at midnight in the
BC's timezone, then carries on with the same code.

Accepts:
- query ``progress``: :class:`BulkProgress` (counts, the wait, a result per code).
- update ``cancel`` (:class:`CancelBulk`): stop before the next code; codes not tried yet
  end "cancelled". Requests already admitted stay pending (cancel them one by one). Its
  validator rejects a bulk that has already finished.

Returns :class:`BulkProgress`. Continues-as-new, state and all, when the server suggests
it, so a long file never outgrows its history.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    import workflows.presets as presets  # by its full name: see its docstring
    from activities.bulk import BulkActivities
    from models.bulk_messages import (
        BulkAdmit,
        BulkInput,
        BulkProgress,
        BulkState,
        CancelBulk,
        CodeResult,
    )
    from models.errors import ErrorCode
    from models.names import BulkMessage, BulkWorkflowType

# The store's clock and the workflow's agree in production; if they ever do not, a wait
# that computes to nothing must still not spin against a limit that has not reset yet.
MIN_WAIT = timedelta(minutes=1)


def planned_request_id(bulk_id: str, index: int) -> str:
    """The request id of code ``index``: fixed by the bulk, so every retry, worker restart
    or continue-as-new asks for the same request and nothing is admitted twice."""
    return "req_" + hashlib.sha256(f"{bulk_id}:{index}".encode()).hexdigest()[:20]


@workflow.defn(name=BulkWorkflowType.BULK_REQUEST)
class BulkRequestWorkflow:
    @workflow.init
    def __init__(self, input: BulkInput) -> None:
        self._input = input
        self._state: BulkState = input.state or BulkState(
            results=[CodeResult(shop_code=code) for code in input.shop_codes]
        )
        self._cancel_requested = self._state.cancelled_by is not None

    @workflow.run
    async def run(self, input: BulkInput) -> BulkProgress:
        state = self._state
        while state.next_index < len(state.results) and not self._cancel_requested:
            if workflow.info().is_continue_as_new_suggested():
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(BulkInput(**{**input.model_dump(), "state": state}))
            await self._admit(state.next_index)
        if self._cancel_requested:
            for result in state.results[state.next_index :]:
                result.outcome = "cancelled"
            state.status = "cancelled"
        else:
            state.status = "completed"
        state.waiting_until = None
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._progress()

    async def _admit(self, index: int) -> None:
        """Try code ``index`` once; on R4's limit, sleep until it resets (or a cancel)."""
        state, input = self._state, self._input
        result = state.results[index]
        result.request_id = result.request_id or planned_request_id(input.bulk_id, index)
        state.status = "running"
        outcome = await workflow.execute_activity_method(
            BulkActivities.admit_one,
            BulkAdmit(
                bulk_id=input.bulk_id,
                method=input.method,
                bc_id=input.bc_id,
                shop_code=result.shop_code,
                requested_by=input.requested_by,
                request_id=result.request_id,
            ),
            **presets.BULK_ADMISSION,
        )
        if outcome.kind == "wait":
            if outcome.resets_at is None:
                raise ApplicationError(
                    "A daily-limit answer came without its reset time.",
                    type=ErrorCode.BROKEN_INVARIANT,
                    non_retryable=True,
                )
            state.status = "waiting"
            state.waiting_until = outcome.resets_at
            delay = max(outcome.resets_at - workflow.now(), MIN_WAIT)
            try:
                await workflow.wait_condition(lambda: self._cancel_requested, timeout=delay)
            except TimeoutError:
                state.days_waited += 1
            state.waiting_until = None
            state.status = "running"
            return  # the same code again, on the new day (or not at all, if cancelled)
        if outcome.kind == "admitted":
            result.outcome = "admitted"
            result.request_id = outcome.request_id
        else:
            result.outcome = "refused"
            result.request_id = None
            result.refusal_code = outcome.refusal_code
            result.refusal_message = outcome.refusal_message
        state.next_index = index + 1

    @workflow.query(name=BulkMessage.PROGRESS)
    def progress(self) -> BulkProgress:
        return self._progress()

    @workflow.update(name=BulkMessage.CANCEL)
    def cancel(self, command: CancelBulk) -> BulkProgress:
        self._cancel_requested = True
        self._state.cancelled_by = command.by
        return self._progress()

    @cancel.validator
    def _check_cancel(self, command: CancelBulk) -> None:
        if self._state.status in ("completed", "cancelled") or self._cancel_requested:
            raise ApplicationError(
                f"Bulk request {self._input.bulk_id} is {self._state.status}.",
                {"bulk_id": self._input.bulk_id, "status": self._state.status},
                type=ErrorCode.BULK_NOT_RUNNING,
                non_retryable=True,
            )

    def _progress(self) -> BulkProgress:
        state, input = self._state, self._input
        counts = {"admitted": 0, "refused": 0, "cancelled": 0}
        for result in state.results:
            if result.outcome in counts:
                counts[result.outcome] += 1
        return BulkProgress(
            bulk_id=input.bulk_id,
            bc_id=input.bc_id,
            method=input.method,
            status=state.status,
            total=len(state.results),
            waiting_until=state.waiting_until,
            results=state.results,
            **counts,
        )
