"""The baseline: a workflow of the same shape as an access request, with no-op activities.

Same messages (update ``admission`` sent with start, update ``approve`` with a validator,
query ``state``), same activity names (models/names.py), input and result models
(models/messages.py), same presets (workflows/presets.py), same search attribute upserts
and the same order of commands as workflows/request_lifecycle.py on the happy path: admit
(local), e-mail the team, wait (with R25's reminder timer, as ours), decide and
grant (local), notify. The activity bodies do
nothing, so what ours costs beyond this is our store, rendering and e-mail.

It restates the workflow rather than importing ours so that the bare worker loads none of
ours' activity modules (sqlmodel, jinja2), whose memory the benchmark would count against
the baseline. tests/test_bare_workflow.py keeps the two from drifting apart: it runs both
through one lifecycle on these no-op activities and compares their commands in order.

Runs under its own workflow type on its own task queue (bench/bare_worker.py).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from temporalio import activity, workflow

with workflow.unsafe.imports_passed_through():
    import workflows.presets as presets  # by its full name: see its docstring
    from models.enums import Permission, Relationship, RequestStatus, Scenario
    from models.messages import (
        Admission,
        AdmissionOutcome,
        AdmitRequest,
        ApprovalOutcome,
        ApproveRequest,
        DecideApproval,
        Decision,
        EmailsSent,
        GrantResult,
        RequesterNotice,
        RequestInput,
        RequestResult,
        RequestState,
        SendRequestEmails,
        WaitAdmission,
    )
    from models.names import Activity, Message
    from models.search_attributes import REQUEST_STATUS

BARE_WORKFLOW_TYPE = "BenchBareAccessRequest"


# --- no-op activities (sync, on the same thread pool as ours) ----------------------------


@activity.defn(name=Activity.ADMIT_REQUEST)
def admit_request(input: AdmitRequest) -> Admission:
    return Admission(
        request_id=input.request_id,
        created_at=datetime.now(UTC),
        approval_url=f"http://127.0.0.1:8000/approve/{input.request_id}",
    )


@activity.defn(name=Activity.SEND_REQUEST_EMAILS)
def send_request_emails(input: SendRequestEmails) -> EmailsSent:
    # The one thing this body does: leave an empty file where the benchmark's simulated
    # seller looks for "the e-mail has arrived", as it does for ours' outbox.
    sent_marker(Path(os.environ["MAIL_OUTBOX_DIR"]), input.request_id).touch()
    return EmailsSent(sent=1)


def sent_marker(outbox: Path, request_id: str) -> Path:
    return outbox / f"{request_id}.sent"


@activity.defn(name=Activity.DECIDE_AND_GRANT)
def decide_and_grant(input: DecideApproval) -> Decision:
    return Decision(
        request_id=input.request_id,
        status=RequestStatus.APPROVED,
        scenario=Scenario.S1,
        approving_bc_id=1,
        decided_by=input.by,
        grant=GrantResult(
            grant_id=1,
            bc_id=1,
            shop_id=1,
            relationship=Relationship.PARTNER,
            permission=Permission.AD_PROMOTION,
        ),
    )


@activity.defn(name=Activity.NOTIFY_REQUESTER)
def notify_requester(input: RequesterNotice) -> EmailsSent:
    return EmailsSent(sent=1)


BARE_ACTIVITIES: list[Callable[..., Any]] = [
    admit_request,
    send_request_emails,
    decide_and_grant,
    notify_requester,
]


# --- the workflow -------------------------------------------------------------------------


@workflow.defn(name=BARE_WORKFLOW_TYPE)
class BareAccessRequest:
    """Accepts update ``admission`` (with start), update ``approve``, query ``state``;
    returns :class:`RequestResult`."""

    @workflow.init
    def __init__(self, input: RequestInput) -> None:
        self._input = input
        self._state = RequestState()

    @workflow.run
    async def run(self, input: RequestInput) -> RequestResult:
        state = self._state
        admission = await workflow.execute_local_activity(
            admit_request,
            AdmitRequest(
                request_id=input.request_id,
                method=input.method,
                bc_id=input.bc_id,
                shop_id=input.shop_id,
                requested_by=input.requested_by,
                workflow_id=workflow.info().workflow_id,
            ),
            **presets.STORE,
        )
        state.status = RequestStatus.PENDING
        state.approval_url = admission.approval_url
        workflow.upsert_search_attributes([REQUEST_STATUS.value_set(str(state.status))])
        await workflow.execute_activity(
            send_request_emails,
            SendRequestEmails(request_id=input.request_id, seq=1),
            **presets.MAIL,
        )
        state.first_email_sent = True
        # Ours waits with R25's reminder timer; the happy path decides first.
        due = None
        if input.reminder_days:
            due = timedelta(days=input.reminder_days[0])
        await workflow.wait_condition(
            lambda: state.status is not RequestStatus.PENDING,
            timeout=due,
            timeout_summary="R25 reminder" if due is not None else None,
        )
        await workflow.execute_activity(
            notify_requester,
            RequesterNotice(request_id=input.request_id, kind="approved"),
            **presets.MAIL,
        )
        await workflow.wait_condition(workflow.all_handlers_finished)
        return RequestResult(request_id=input.request_id, status=str(state.status))

    @workflow.update(name=Message.ADMISSION)
    async def admission(self, _: WaitAdmission) -> AdmissionOutcome:
        await workflow.wait_condition(lambda: self._state.status is not None)
        return AdmissionOutcome(
            request_id=self._input.request_id,
            status=str(self._state.status),
            approval_url=self._state.approval_url,
        )

    @workflow.update(name=Message.APPROVE)
    async def approve(self, command: ApproveRequest) -> ApprovalOutcome:
        state = self._state
        decision = await workflow.execute_local_activity(
            decide_and_grant,
            DecideApproval(request_id=self._input.request_id, by=command.by),
            **presets.STORE,
        )
        state.granted = decision.grant
        assert state.granted is not None
        state.decision = decision
        state.status = decision.status
        workflow.upsert_search_attributes([REQUEST_STATUS.value_set(str(state.status))])
        return ApprovalOutcome(
            request_id=self._input.request_id,
            status=decision.status,
            scenario=decision.scenario,
            relationship=state.granted.relationship,
            permission=state.granted.permission,
        )

    @approve.validator
    def _validate_approve(self, command: ApproveRequest) -> None:
        if self._state.status is not RequestStatus.PENDING:
            raise ValueError("only a pending request can be approved")

    @workflow.query(name=Message.STATE)
    def state(self) -> RequestState:
        return self._state
