"""The life of one access request, from admission to approval, expiry or cancellation.

Two workflow types share this lifecycle so the Temporal UI shows them apart:
``RequestAccessToShop`` ("Request access to other's TikTok Shop",
``workflows/request_access_to_shop.py``) and ``AddMyShop`` ("Add my TikTok Shop",
``workflows/add_my_shop.py``). Each lives in its own module because the sandbox
re-imports a workflow's module for every run: one ``workflow.defn`` per run, not two.

Accepts:
- update ``admission`` (sent with start): returns :class:`AdmissionOutcome` once the store
  has admitted the request (R1-R6), or fails with the refusal's code.
- update ``approve`` (:class:`ApproveRequest`): the seller's decision (R10-R14); returns
  :class:`ApprovalOutcome`. Its validator rejects, without touching history, when the
  request is no longer pending. An ``until`` (R23) is stored with the grant in the
  deciding transaction; the run loop then starts the grant's ``AccessEnd`` through an
  activity, as an accepted invitation does, so a worker lost in between still ends the
  access on its date.
- signal ``approve_from_ui``: the same decision, fire-and-forget, for the Temporal UI.
- update ``resend`` (:class:`ResendRequest`): e-mail the shop team again or take the copy
  link (R8); returns :class:`ResendOutcome`.
- update ``cancel`` (:class:`CancelRequest`): the requesting BC withdraws it (R9 policy).
- update ``decline`` (:class:`DeclineRequest`): the shop team says no, with an optional
  reason (R22); the request ends ``declined`` and the requester is e-mailed.
- update ``send_personal_link`` (:class:`PersonalLinkRequest`): someone holding the copied
  link asks for a personal link; queued and answered at once, mailed by the run loop to
  shop team members only (R7, R13).
- signal ``superseded`` (:class:`Superseded`): the other method's request won the race (R11).
- query ``state``: the carried :class:`RequestState`.

Returns :class:`RequestResult`. Nothing ends a request by time: a pending request waits for
ever (R9) and continues-as-new, state and all, when the server suggests it. Its only timer
is R25's reminder: 3 and 10 days (``RequestInput.reminder_days``) after the last e-mail to
the shop team it mails them again, never after a decision; a resend e-mail starts the
clock over.
An admission that fails for a reason no retry heals (``invalid_data``,
``broken_invariant``) ends at once as ``failed``; a mail that fails for good is noted and
the request carries on (docs/operations.md, "Failed workflows").
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from typing import TypeVar

from temporalio import activity, workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    import workflows.presets as presets  # by its full name: see its docstring

    # Activity definitions, for typed calls (arguments and results checked by mypy); only
    # their names reach history, so they run wherever the worker registered them.
    from activities.mailer import MailActivities
    from activities.partners import PartnerTimerActivities
    from activities.store import RequestStoreActivities
    from models.enums import MAX_REMINDERS, RESEND_EMAIL_MIN_INTERVAL_SECONDS, RequestStatus
    from models.errors import FAULT_CODES, ErrorCode
    from models.fields import display_name_problem
    from models.messages import (
        AdmissionOutcome,
        AdmitRequest,
        ApprovalOutcome,
        ApproveRequest,
        CancelInput,
        CancelRequest,
        DecideApproval,
        DeclineInput,
        DeclineRequest,
        EmailsSent,
        PersonalLinkAccepted,
        PersonalLinkRequest,
        RecordResend,
        RequesterNotice,
        RequestInput,
        RequestResult,
        RequestState,
        ResendOutcome,
        ResendRequest,
        SendPersonalLink,
        SendReminder,
        SendRequestEmails,
        Superseded,
        WaitAdmission,
    )
    from models.names import Message
    from models.partner_messages import GrantUntil
    from models.reasons import reason_problem
    from models.search_attributes import REQUEST_STATUS
    from models.wording import wording
    from workflows.refusals import ACTIVITY_FAILURES, failed_for_good, refusal_of
    from workflows.summaries import request_details

REFUSED = "refused"
# Admission failed for a reason no retry heals (bad stored data, a broken invariant): no
# row in the store, the reason in the result, the summary and RequestStatus.
FAILED = "failed"
# Personal-link asks waiting for the run loop; more are dropped, answered the same way.
MAX_QUEUED_PERSONAL_LINKS = 10

M = TypeVar("M")
MailActivity = Callable[[MailActivities, M], EmailsSent]
"""One of the mail activities, taking ``M``: what :meth:`AccessRequestLifecycle._mail` runs."""


def activity_name(fn: Callable[..., object]) -> str:
    """The stable name (models/names.py) an activity definition is registered under."""
    return activity._Definition.must_from_callable(fn).name or fn.__name__


class AccessRequestLifecycle:
    @workflow.init
    def __init__(self, input: RequestInput) -> None:
        self._input = input
        self._state: RequestState = input.state or RequestState()
        # Updates and the run loop both act on the request; one at a time.
        self._lock = asyncio.Lock()

    # --- the run loop ----------------------------------------------------------------

    async def _run(self, input: RequestInput) -> RequestResult:
        state = self._state
        if state.status is None and state.refusal_code is None:
            await self._admit()
        if state.refusal_code is not None:
            await workflow.wait_condition(workflow.all_handlers_finished)
            return self._result()

        if not state.first_email_sent:  # R7
            await self._send_emails(seq=1)
            state.first_email_sent = True

        while state.status is RequestStatus.PENDING:
            until_reminder = self._until_reminder()
            if until_reminder is not None and until_reminder <= timedelta(0):
                await self._remind()  # due while the worker was away, or at once
                continue
            try:
                await workflow.wait_condition(
                    self._wake_up(),
                    timeout=until_reminder,
                    timeout_summary="R25 reminder" if until_reminder is not None else None,
                )
            except TimeoutError:
                await self._remind()
                continue
            if state.status is RequestStatus.PENDING and state.queued_approvals:
                command = state.queued_approvals.pop(0)
                try:
                    await self._approve(command)
                except ApplicationError as refusal:
                    workflow.logger.warning("Approval from the UI refused: %s", refusal)
                continue
            if state.status is RequestStatus.PENDING and state.personal_links:
                await self._send_personal_link(state.personal_links[0])
                state.personal_links.pop(0)
                continue
            if (
                state.status is RequestStatus.PENDING
                and workflow.info().is_continue_as_new_suggested()
            ):
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(RequestInput(**{**input.model_dump(), "state": state}))

        await self._after_decision()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._result()

    async def _admit(self) -> None:
        state, input = self._state, self._input
        try:
            admission = await workflow.execute_local_activity_method(
                RequestStoreActivities.admit_request,
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
        except ACTIVITY_FAILURES as err:
            refusal = refusal_of(err)
            state.refusal_code = refusal.type
            state.refusal_message = refusal.message
            if refusal.details and isinstance(refusal.details[0], dict):
                state.refusal_details = refusal.details[0]
            if refusal.type in FAULT_CODES:
                workflow.logger.error("Admission failed for good: %s", refusal.message)
            self._publish(self._closed_status())
            return
        state.status = RequestStatus.PENDING
        state.approval_url = admission.approval_url
        state.created_at = admission.created_at
        state.sends = 1
        self._publish(RequestStatus.PENDING)

    async def _after_decision(self) -> None:
        state = self._state
        if state.status is RequestStatus.DECLINED and not state.requester_notified:
            # R22: the requester is told, with the reason if the shop's team gave one.
            await self._mail(
                MailActivities.notify_requester,
                RequesterNotice(request_id=self._input.request_id, kind="declined"),
            )
            state.requester_notified = True
        if state.status is not RequestStatus.APPROVED:
            return
        granted = state.granted
        if granted and granted.ends_at and not state.until_armed:
            # R23: the store already holds the end date with the grant; its timer is
            # started here, durably (signal-with-start: a retry joins the running one).
            await workflow.execute_activity_method(
                PartnerTimerActivities.arm_access_end,
                GrantUntil(grant_id=granted.grant_id, ends_at=granted.ends_at),
                **presets.STORE,
            )
            state.until_armed = True
        decision = state.decision
        if decision and decision.expired_workflow_id and not state.competitor_signalled:
            # R11: the store already expired the other request; tell its workflow to end.
            try:
                await workflow.get_external_workflow_handle(decision.expired_workflow_id).signal(
                    Message.SUPERSEDED, Superseded(winner_request_id=self._input.request_id)
                )
            except Exception as err:  # a closed loser needs no telling
                workflow.logger.warning("Could not signal the superseded request: %s", err)
            state.competitor_signalled = True
        if not state.requester_notified:  # R14: the requester is told by e-mail
            await self._mail(
                MailActivities.notify_requester,
                RequesterNotice(request_id=self._input.request_id, kind="approved"),
            )
            state.requester_notified = True

    # --- messages ----------------------------------------------------------------------

    @workflow.update(name=Message.ADMISSION)
    async def admission(self, _: WaitAdmission) -> AdmissionOutcome:
        state = self._state
        await workflow.wait_condition(
            lambda: state.status is not None or state.refusal_code is not None
        )
        if state.refusal_code is not None:
            raise ApplicationError(
                state.refusal_message or "refused",
                *([state.refusal_details] if state.refusal_details else []),
                type=state.refusal_code,
                non_retryable=True,
            )
        return AdmissionOutcome(
            request_id=self._input.request_id,
            status=str(state.status),
            approval_url=state.approval_url,
        )

    @workflow.update(name=Message.APPROVE)
    async def approve(self, command: ApproveRequest) -> ApprovalOutcome:
        return await self._approve(command)

    @approve.validator
    def _validate_approve(self, command: ApproveRequest) -> None:
        self._require_pending()
        # S2's form: refused here too, so no caller (CLI, web, a raw client) can reach the
        # store with a name that would break the e-mails.
        if command.new_bc_name is not None:
            problem = display_name_problem(command.new_bc_name)
            if problem is not None:
                raise ApplicationError(
                    f"The new Business Center's name {problem}.",
                    type=ErrorCode.INVALID_INPUT,
                    non_retryable=True,
                )

    @workflow.signal(name=Message.APPROVE_SIGNAL)
    def approve_from_ui(self, command: ApproveRequest) -> None:
        if self._state.status is RequestStatus.PENDING:
            self._state.queued_approvals.append(command)

    @workflow.update(name=Message.RESEND)
    async def resend(self, command: ResendRequest) -> ResendOutcome:
        state = self._state
        async with self._lock:
            self._require_pending()
            seq = state.sends + 1
            try:
                await workflow.execute_local_activity_method(
                    RequestStoreActivities.record_resend,
                    RecordResend(
                        request_id=self._input.request_id,
                        seq=seq,
                        by=command.by,
                        copy_link=command.copy_link,
                    ),
                    **presets.STORE,
                )
            except ACTIVITY_FAILURES as err:
                raise refusal_of(err) from None
            state.sends = seq
            if not command.copy_link:
                state.last_resend_at = workflow.now()
                state.reminders_sent = 0  # R25: a resend starts the reminder clock over
                await self._send_emails(seq=seq)
        return ResendOutcome(
            request_id=self._input.request_id,
            channel="copy_link" if command.copy_link else "resend_email",
            approval_url=state.approval_url or "",
            seq=seq,
        )

    @resend.validator
    def _validate_resend(self, command: ResendRequest) -> None:
        self._require_pending()

    @workflow.update(name=Message.CANCEL)
    async def cancel(self, command: CancelRequest) -> RequestResult:
        async with self._lock:
            self._require_pending()
            try:
                await workflow.execute_local_activity_method(
                    RequestStoreActivities.cancel_request,
                    CancelInput(request_id=self._input.request_id, by=command.by),
                    **presets.STORE,
                )
            except ACTIVITY_FAILURES as err:
                raise refusal_of(err) from None
            self._state.status = RequestStatus.CANCELLED
            self._publish(RequestStatus.CANCELLED)
        return self._result()

    @cancel.validator
    def _validate_cancel(self, command: CancelRequest) -> None:
        self._require_pending()

    @workflow.update(name=Message.DECLINE)
    async def decline(self, command: DeclineRequest) -> RequestResult:
        state = self._state
        async with self._lock:
            self._require_pending()
            try:
                # R13: the store decides who may decline, as for approving.
                await workflow.execute_local_activity_method(
                    RequestStoreActivities.decline_request,
                    DeclineInput(
                        request_id=self._input.request_id, by=command.by, reason=command.reason
                    ),
                    **presets.STORE,
                )
            except ACTIVITY_FAILURES as err:
                raise refusal_of(err) from None
            state.status = RequestStatus.DECLINED
            state.decline_reason = (command.reason or "").strip() or None
            state.decided_by = command.by
            self._publish(RequestStatus.DECLINED)
        return self._result()

    @decline.validator
    def _validate_decline(self, command: DeclineRequest) -> None:
        self._require_pending()
        # Refused before history: the reason is mailed and shown on pages (models/reasons.py).
        details = reason_problem(command.reason) if command.reason else None
        if details is not None:
            raise ApplicationError(
                wording(ErrorCode.INVALID_INPUT, details),
                details,
                type=ErrorCode.INVALID_INPUT,
                non_retryable=True,
            )

    @workflow.update(name=Message.SEND_PERSONAL_LINK)
    def send_personal_link(self, ask: PersonalLinkRequest) -> PersonalLinkAccepted:
        # Only queued here: the update completes at once, so asks never pile up against
        # the server's cap of 10 in-flight updates (which approvals need); the run loop
        # sends the mail. An address that is not on the team arrives as no member at all.
        state = self._state
        window = int(workflow.now().timestamp()) // RESEND_EMAIL_MIN_INTERVAL_SECONDS
        if ask.member_id is not None:
            item = SendPersonalLink(
                request_id=self._input.request_id, window=window, member_id=ask.member_id
            )
            if (
                item not in state.personal_links
                and len(state.personal_links) < MAX_QUEUED_PERSONAL_LINKS
            ):
                state.personal_links.append(item)
        return PersonalLinkAccepted(request_id=self._input.request_id)

    @send_personal_link.validator
    def _validate_send_personal_link(self, ask: PersonalLinkRequest) -> None:
        self._require_pending()

    @workflow.signal(name=Message.SUPERSEDED)
    def superseded(self, message: Superseded) -> None:
        # The winner's transaction already expired this request in the store (R11).
        if self._state.status is RequestStatus.PENDING:
            self._state.status = RequestStatus.EXPIRED
            self._state.superseded_by = message.winner_request_id
            self._publish(RequestStatus.EXPIRED)

    @workflow.query(name=Message.STATE)
    def state(self) -> RequestState:
        return self._state

    # --- helpers -----------------------------------------------------------------------

    def _require_pending(self) -> None:
        """Refuse with the code and the same details as the store's ``not_pending``; the
        sentence comes from the catalogue (models/wording.py), here and at every edge."""
        state = self._state
        if state.status is RequestStatus.PENDING:
            return
        details: dict[str, str] = {
            "request_id": self._input.request_id,
            "status": str(state.status) if state.status else "not admitted",
        }
        if state.superseded_by:  # R11: the catalogue names the winner for this reason
            details.update(reason="superseded", superseded_by=state.superseded_by)
        code = ErrorCode.REQUEST_NOT_PENDING
        raise ApplicationError(wording(code, details), details, type=code, non_retryable=True)

    async def _approve(self, command: ApproveRequest) -> ApprovalOutcome:
        state = self._state
        async with self._lock:
            if state.status is not RequestStatus.PENDING:
                return self._outcome(already_decided=True)
            try:
                decision = await workflow.execute_local_activity_method(
                    RequestStoreActivities.decide_and_grant,
                    DecideApproval(
                        request_id=self._input.request_id,
                        by=command.by,
                        bc_id=command.bc_id,
                        new_bc_name=command.new_bc_name,
                        timezone=command.timezone,
                        until=command.until,
                    ),
                    **presets.STORE,
                )
            except ACTIVITY_FAILURES as err:
                raise refusal_of(err) from None
            state.decision = decision
            state.granted = decision.grant
            state.superseded_by = decision.superseded_by
            already = state.status is not RequestStatus.PENDING
            state.status = decision.status
            self._publish(decision.status)
            return self._outcome(already_decided=already)

    def _wake_up(self) -> Callable[[], bool]:
        """What ends the run loop's wait: a decision, work queued for it, continue-as-new,
        or a resend, which moves the reminder clock (R25) so the wait starts again."""
        state = self._state
        clock = (state.last_resend_at, state.reminders_sent)
        return lambda: (
            state.status is not RequestStatus.PENDING
            or bool(state.queued_approvals)
            or bool(state.personal_links)
            or workflow.info().is_continue_as_new_suggested()
            or (state.last_resend_at, state.reminders_sent) != clock
        )

    def _reminder_days(self) -> list[int]:
        # Defensive: the starter already refused any other policy (models/settings.py).
        return sorted(d for d in set(self._input.reminder_days) if d > 0)[:MAX_REMINDERS]

    def _until_reminder(self) -> timedelta | None:
        """How long until R25's next reminder is due (may be negative: overdue), or None
        when no reminder is left."""
        state = self._state
        if state.created_at is None:
            return None
        days = self._reminder_days()
        if state.reminders_sent >= len(days):
            return None
        base = state.last_resend_at or state.created_at
        return base + timedelta(days=days[state.reminders_sent]) - workflow.now()

    async def _remind(self) -> None:
        """R25: remind the shop team, unless a decision or cancel got in first.

        Not under the lock: the mail retries for as long as SMTP is away, and a seller's
        decision must not wait for it. The activity reads the store and sends nothing once
        the request is decided. After a long outage only the latest reminder due is sent,
        not one per missed date."""
        state = self._state
        if state.status is not RequestStatus.PENDING or state.created_at is None:
            return
        base = state.last_resend_at or state.created_at
        now = workflow.now()
        due = sum(1 for d in self._reminder_days() if base + timedelta(days=d) <= now)
        state.reminders_sent = max(state.reminders_sent + 1, due)
        await self._mail(
            MailActivities.send_reminder,
            SendReminder(
                request_id=self._input.request_id,
                seq=state.sends,
                n=state.reminders_sent,
                # Rounded: the store's clock stamped created_at, so the reminder due
                # "3 days" after it may read 2 days 23:59:59.9 here.
                waited_days=round((now - state.created_at) / timedelta(days=1)),
            ),
        )

    async def _send_personal_link(self, item: SendPersonalLink) -> None:
        await self._mail(MailActivities.send_personal_link, item)

    async def _send_emails(self, seq: int) -> None:
        await self._mail(
            MailActivities.send_request_emails,
            SendRequestEmails(request_id=self._input.request_id, seq=seq),
        )

    async def _mail(self, activity: MailActivity[M], arg: M) -> None:
        """Run a mail activity. Faults that heal (SMTP away) retry inside it; one that
        fails for good (a refused address, an unbuildable message) is noted in the state
        and the summary, and the request carries on: the copy link still reaches the
        seller, and one bad address must not sink everyone else's request."""
        try:
            await workflow.execute_activity_method(activity, arg, **presets.MAIL)
        except ACTIVITY_FAILURES as err:
            failure = failed_for_good(err)
            if failure is None:
                raise
            note = f"{activity_name(activity)}: {failure.type or 'error'}: {failure.message}"
            workflow.logger.warning("E-mail not sent: %s", note)
            self._state.mail_failures = [*self._state.mail_failures, note][-10:]
            self._describe(str(self._state.status or REFUSED))

    def _publish(self, status: str) -> None:
        """Keep the Temporal UI's filters and summary in step with the store (R21)."""
        workflow.upsert_search_attributes([REQUEST_STATUS.value_set(str(status))])
        self._describe(str(status))

    def _describe(self, status: str) -> None:
        """The summary ops read in the Temporal UI: status, what, and what went wrong."""
        input, state = self._input, self._state
        details = request_details(
            status=status,
            method_label=input.method.label,
            bc_id=input.bc_id,
            shop_code=input.shop_code,
            request_id=input.request_id,
            superseded_by=state.superseded_by,
        )
        if status == RequestStatus.DECLINED:  # R22: by whom and why, as the history says
            details += f" · declined by {state.decided_by}"
            if state.decline_reason:
                details += f": {state.decline_reason}"
        if status == FAILED:
            details += f"\n\nFailed: {state.refusal_code}: {state.refusal_message}"
        if state.mail_failures:
            details += "\n\nE-mails not sent: " + "; ".join(state.mail_failures)
        workflow.set_current_details(details)

    def _closed_status(self) -> str:
        """How a request that was never admitted ended: refused by a rule, or failed."""
        return FAILED if self._state.refusal_code in FAULT_CODES else REFUSED

    def _outcome(self, *, already_decided: bool) -> ApprovalOutcome:
        state = self._state
        decision = state.decision
        granted = state.granted
        return ApprovalOutcome(
            request_id=self._input.request_id,
            status=state.status or RequestStatus.PENDING,
            scenario=decision.scenario if decision else None,
            approving_bc_id=decision.approving_bc_id if decision else None,
            superseded_by=state.superseded_by,
            relationship=granted.relationship if granted else None,
            permission=granted.permission if granted else None,
            already_decided=already_decided,
        )

    def _result(self) -> RequestResult:
        state = self._state
        return RequestResult(
            request_id=self._input.request_id,
            status=self._closed_status() if state.refusal_code else str(state.status),
            superseded_by=state.superseded_by,
            refusal_code=state.refusal_code,
            refusal_message=state.refusal_message,
            decline_reason=state.decline_reason,
        )
