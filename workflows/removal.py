"""Removing a partner's access to a shop (R19, R20): ``RemovePartnerAccess``.

One workflow per removed grant (id from shop, partner BC and grant), started by the CLI or
the seller's partner management page alike:
1. ends the grant at once, in one transaction with its onward shares, member assignments
   and the requests' status (no new campaign can use the shop from that moment);
2. stops every campaign of the BCs that lost the shop, in pages: one activity per page,
   each heartbeating its cursor and resuming from it after a crash (10,000 campaigns fit
   comfortably; the workflow continues-as-new if the history ever grows large);
3. e-mails the partner (and the BCs downstream that lost the shop), each message once;
4. records the removal as completed with the number of campaigns stopped.

Accepts:
- update ``end_grants`` (:class:`WaitGrantsEnded`, sent with start): returns
  :class:`GrantsEnded` once step 1 committed, or fails with the refusal's code.
- query ``progress``: :class:`RemovalProgress`.

Returns :class:`RemovalResult`. A step after step 1 that fails for a reason no retry heals
ends the removal as ``failed`` (``RequestStatus = 'failed'``, the reason in the summary);
the grants stay ended. A refused notification e-mail is logged and skipped.
"""

from __future__ import annotations

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    import workflows.presets as presets  # by its full name: see its docstring

    # Activity definitions, for typed calls; only their names reach history.
    from activities.campaigns import CampaignActivities
    from activities.partners import PartnerActivities, PartnerMailActivities
    from models.errors import FAULT_CODES
    from models.names import PartnerMessage, PartnerWorkflowType
    from models.partner_messages import (
        EndGrants,
        FinishRemoval,
        GrantsEnded,
        RemovalInput,
        RemovalNotice,
        RemovalProgress,
        RemovalResult,
        RemovalState,
        StopCampaignPage,
        WaitGrantsEnded,
    )
    from models.search_attributes import REQUEST_STATUS
    from workflows.refusals import failed_for_good, refusal_of
    from workflows.summaries import removal_details

REFUSED = "refused"
# A step failed for a reason no retry heals (bad data, broken invariant).
FAILED = "failed"


@workflow.defn(name=PartnerWorkflowType.REMOVE_ACCESS)
class RemovePartnerAccessWorkflow:
    @workflow.init
    def __init__(self, input: RemovalInput) -> None:
        self._input = input
        self._state = input.state or RemovalState()

    @workflow.run
    async def run(self, input: RemovalInput) -> RemovalResult:
        state = self._state
        if state.ended is None and state.refusal_code is None:
            await self._end_grants(input)
        if state.ended is None:
            if state.refusal_code in FAULT_CODES:
                workflow.upsert_search_attributes([REQUEST_STATUS.value_set(FAILED)])
            self._publish()
            await workflow.wait_condition(workflow.all_handlers_finished)
            return self._result()
        failure = await self._stop_campaigns(input, state.ended)
        if failure is not None:
            return await self._fail(failure)
        if not state.notified:
            await self._notify(input)
            state.notified = True
        if not state.finished:
            # The store's count is the truth: a page retried after a crash reports only
            # what its last attempt stopped.
            finished = await workflow.execute_activity_method(
                PartnerActivities.finish_removal,
                FinishRemoval(removal_id=input.removal_id),
                **presets.STORE,
            )
            state.campaigns_stopped = finished.campaigns_stopped
            state.finished = True
        self._publish()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._result()

    async def _end_grants(self, input: RemovalInput) -> None:
        """Step 1; a refusal is kept in the state, for the result and the waiting update."""
        state = self._state
        try:
            state.ended = await workflow.execute_activity_method(
                PartnerActivities.end_grants,
                EndGrants(
                    removal_id=input.removal_id,
                    shop_id=input.shop_id,
                    partner_bc_id=input.partner_bc_id,
                    by=input.by,
                    workflow_id=workflow.info().workflow_id,
                    reason=input.reason,
                ),
                **presets.STORE,
            )
        except ActivityError as err:
            refusal = refusal_of(err)
            state.refusal_code = refusal.type
            state.refusal_message = refusal.message

    async def _stop_campaigns(
        self, input: RemovalInput, ended: GrantsEnded
    ) -> ApplicationError | None:
        """Step 2, page by page; continues-as-new when suggested. Returns the failure that
        no retry heals, if one ends it."""
        state = self._state
        while not state.stopping_done:
            self._publish()
            try:
                page = await workflow.execute_activity_method(
                    CampaignActivities.stop_page,
                    StopCampaignPage(
                        removal_id=input.removal_id,
                        shop_id=input.shop_id,
                        bc_ids=ended.lost_bc_ids,
                        after_id=state.after_id,
                        page_size=input.page_size,
                        batch_size=input.batch_size,
                        pause_ms=input.pause_ms,
                    ),
                    **presets.CAMPAIGN_PAGE,
                )
            except ActivityError as err:
                # Only a fault that never heals arrives here (the rest retry inside).
                failure = failed_for_good(err)
                if failure is None:
                    raise
                return failure
            state.campaigns_stopped += page.stopped
            state.after_id = page.last_id
            state.pages += 1
            state.stopping_done = page.done
            if not page.done and workflow.info().is_continue_as_new_suggested():
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(RemovalInput(**{**input.model_dump(), "state": state}))
        return None

    async def _notify(self, input: RemovalInput) -> None:
        """Step 3. The access is gone either way; a refused address must not undo that."""
        try:
            await workflow.execute_activity_method(
                PartnerMailActivities.notify_access_removed,
                RemovalNotice(removal_id=input.removal_id),
                **presets.MAIL,
            )
        except ActivityError as err:
            failure = failed_for_good(err)
            if failure is None:
                raise
            workflow.logger.warning(
                "Removal e-mail not sent: %s: %s", failure.type, failure.message
            )

    async def _fail(self, failure: ApplicationError) -> RemovalResult:
        """End visibly: RequestStatus and the summary say failed, with the reason."""
        state = self._state
        state.refusal_code = failure.type
        state.refusal_message = failure.message
        state.failed = True
        workflow.logger.error("Removal failed for good: %s", failure.message)
        workflow.upsert_search_attributes([REQUEST_STATUS.value_set(FAILED)])
        self._publish()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._result()

    @workflow.update(name=PartnerMessage.END_GRANTS)
    async def end_grants(self, _: WaitGrantsEnded) -> GrantsEnded:
        state = self._state
        await workflow.wait_condition(
            lambda: state.ended is not None or state.refusal_code is not None
        )
        if state.ended is None:
            raise ApplicationError(
                state.refusal_message or REFUSED, type=state.refusal_code, non_retryable=True
            )
        return state.ended

    @workflow.query(name=PartnerMessage.PROGRESS)
    def progress(self) -> RemovalProgress:
        return RemovalProgress(
            removal_id=self._input.removal_id,
            status=self._status(),
            campaigns_stopped=self._state.campaigns_stopped,
            pages=self._state.pages,
            lost_bc_ids=self._state.ended.lost_bc_ids if self._state.ended else [],
            campaigns_total=self._state.ended.campaigns_to_stop if self._state.ended else 0,
        )

    def _status(self) -> str:
        state = self._state
        if state.failed or (state.ended is None and state.refusal_code in FAULT_CODES):
            return FAILED
        if state.ended is None:
            return REFUSED if state.refusal_code else "ending_grants"
        return "completed" if state.finished else "stopping_campaigns"

    def _publish(self) -> None:
        input, state = self._input, self._state
        details = removal_details(
            status=self._status(),
            partner_bc_id=input.partner_bc_id,
            shop_code=input.shop_code,
            by=input.by,
            campaigns_stopped=state.campaigns_stopped,
            removal_id=input.removal_id,
        )
        if self._status() == FAILED:
            details += f"\n\nFailed: {state.refusal_code}: {state.refusal_message}"
        workflow.set_current_details(details)

    def _result(self) -> RemovalResult:
        state = self._state
        return RemovalResult(
            removal_id=self._input.removal_id,
            status=self._status(),
            campaigns_stopped=state.campaigns_stopped,
            lost_bc_ids=state.ended.lost_bc_ids if state.ended else [],
            refusal_code=state.refusal_code,
            refusal_message=state.refusal_message,
        )
