"""Invitations as durable workflows (R16, R17, R20): one workflow per invitation, waiting
with no expiry until it is accepted, declined or cancelled.

``MemberInvitation`` (one invited e-mail address; ``invite-member`` starts one per address):
- update ``admission`` (sent with start): returns :class:`InvitationOutcome` once the store
  admitted the invitation, or fails with the refusal's code.

``PartnerInvitation`` (one per inviting BC and invited BC, id from both):
- update ``offer_shop`` (:class:`OfferShop`, sent with start; later shares to the same BC
  join the open invitation): adds a shop with its permission and optional end date (R23);
  returns the outcome.
- on acceptance, each share granted with an end date gets its ``AccessEnd`` timer,
  started as for a share with a partner (the reminder and R19's removal follow, R23).

Both accept:
- updates ``accept``, ``decline`` (the invitee) and ``cancel`` (an admin of the inviting BC),
  each :class:`RespondToInvitation` returning :class:`InvitationOutcome`; their validators
  reject, without touching history, once the invitation is no longer pending.
- query ``state``: the carried :class:`InvitationState`.

Both return :class:`InvitationResult` and continue-as-new, state and all, when suggested.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    import workflows.presets as presets  # by its full name: see its docstring

    # Activity definitions, for typed calls; only their names reach history.
    from activities.partners import (
        PartnerActivities,
        PartnerMailActivities,
        PartnerTimerActivities,
    )
    from models.errors import FAULT_CODES, ErrorCode
    from models.names import PartnerMessage, PartnerWorkflowType
    from models.partner_enums import InvitationKind, InvitationStatus
    from models.partner_messages import (
        CreateMemberInvitation,
        InvitationDecision,
        InvitationEmails,
        InvitationOutcome,
        InvitationResult,
        InvitationState,
        MemberInvitationInput,
        OfferPartnerShop,
        OfferShop,
        PartnerInvitationInput,
        RespondToInvitation,
        WaitInvitationAdmission,
    )
    from models.wording import wording
    from workflows.refusals import failed_for_good, refusal_of

REFUSED = "refused"
# Never admitted because of bad data or a broken invariant, not a rule.
FAILED = "failed"

Answer = Callable[[PartnerActivities, InvitationDecision], InvitationOutcome]
"""The activity recording an answer: accept, decline or cancel."""


class _InvitationLifecycle:
    """What both invitation kinds share: the answers, the wait, the result."""

    _invitation_id: str
    _bc_id: int
    _kind: InvitationKind
    _state: InvitationState
    _lock: asyncio.Lock

    # --- messages ----------------------------------------------------------------------

    @workflow.update(name=PartnerMessage.ACCEPT)
    async def accept(self, command: RespondToInvitation) -> InvitationOutcome:
        return await self._answer(PartnerActivities.accept_invitation, command)

    @accept.validator
    def _validate_accept(self, command: RespondToInvitation) -> None:
        self._require_pending()

    @workflow.update(name=PartnerMessage.DECLINE)
    async def decline(self, command: RespondToInvitation) -> InvitationOutcome:
        return await self._answer(PartnerActivities.decline_invitation, command)

    @decline.validator
    def _validate_decline(self, command: RespondToInvitation) -> None:
        self._require_pending()

    @workflow.update(name=PartnerMessage.CANCEL)
    async def cancel(self, command: RespondToInvitation) -> InvitationOutcome:
        return await self._answer(PartnerActivities.cancel_invitation, command)

    @cancel.validator
    def _validate_cancel(self, command: RespondToInvitation) -> None:
        self._require_pending()

    @workflow.query(name=PartnerMessage.STATE)
    def state(self) -> InvitationState:
        return self._state

    # --- helpers -----------------------------------------------------------------------

    def _require_pending(self) -> None:
        """Refuse with the code and the store's detail keys; the sentence comes from the
        catalogue (models/wording.py), here and at every edge."""
        status = self._state.status
        if status is InvitationStatus.PENDING:
            return
        details = {
            "invitation_id": self._invitation_id,
            "status": str(status) if status else "not admitted",
        }
        code = ErrorCode.INVITATION_NOT_PENDING
        raise ApplicationError(wording(code, details), details, type=code, non_retryable=True)

    async def _answer(self, answer: Answer, command: RespondToInvitation) -> InvitationOutcome:
        state = self._state
        async with self._lock:
            self._require_pending()
            try:
                out = await workflow.execute_activity_method(
                    answer,
                    InvitationDecision(invitation_id=self._invitation_id, by=command.by),
                    **presets.STORE,
                )
            except ActivityError as err:
                raise refusal_of(err) from None
            state.status = out.status
            state.decided_by = command.by
            state.granted_shop_ids = out.granted_shop_ids
            self._publish()
            if out.granted_until:  # R23: acceptance starts the dated shares' timers
                await self._start_timers(out)
            return out

    async def _start_timers(self, out: InvitationOutcome) -> None:
        """R23: each grant with an end date gets its ``AccessEnd``, started exactly as
        for a share with a partner (signal-with-start, by an activity): a workflow of its
        own, not a child, so it outlives this invitation like any other timer."""
        for ending in out.granted_until:
            await workflow.execute_activity_method(
                PartnerTimerActivities.arm_access_end, ending, **presets.STORE
            )

    async def _wait_for_answer(self, carry: Callable[[], Any], work: Callable[[], bool]) -> None:
        """Wait, with no expiry, until answered; run ``work`` (e-mails owed) whenever it
        says there is some; continue-as-new when the server suggests it."""
        state = self._state
        while state.status is InvitationStatus.PENDING:
            await workflow.wait_condition(
                lambda: (
                    state.status is not InvitationStatus.PENDING
                    or work()
                    or workflow.info().is_continue_as_new_suggested()
                )
            )
            if state.status is not InvitationStatus.PENDING:
                break
            if work():
                await self._do_work()
                continue
            await workflow.wait_condition(workflow.all_handlers_finished)
            workflow.continue_as_new(carry())

    async def _do_work(self) -> None:
        raise NotImplementedError

    async def _send_emails(self, shop_id: int | None = None) -> None:
        # A mail that fails for good (a refused address) is logged and the invitation
        # stays open: the invitee can still be told another way, and it can be cancelled.
        try:
            await workflow.execute_activity_method(
                PartnerMailActivities.send_invitation_emails,
                InvitationEmails(invitation_id=self._invitation_id, shop_id=shop_id),
                **presets.MAIL,
            )
        except ActivityError as err:
            failure = failed_for_good(err)
            if failure is None:
                raise
            workflow.logger.warning(
                "Invitation e-mail not sent: %s: %s", failure.type, failure.message
            )
            workflow.set_current_details(
                f"**{self._state.status}** · {self._kind.value} invitation "
                f"{self._invitation_id} from BC {self._bc_id}\n\nE-mail not sent: "
                f"{failure.type}: {failure.message}"
            )

    def _unadmitted(self) -> str:
        return FAILED if self._state.refusal_code in FAULT_CODES else REFUSED

    def _publish(self) -> None:
        state = self._state
        status = self._unadmitted() if state.refusal_code and state.status is None else state.status
        workflow.set_current_details(
            f"**{status}** · {self._kind.value} invitation {self._invitation_id}"
            f" from BC {self._bc_id}"
        )

    def _result(self) -> InvitationResult:
        state = self._state
        return InvitationResult(
            invitation_id=self._invitation_id,
            status=self._unadmitted() if state.status is None else str(state.status),
            refusal_code=state.refusal_code,
            refusal_message=state.refusal_message,
            granted_shop_ids=state.granted_shop_ids,
        )

    def _refuse(self, refusal: ApplicationError) -> None:
        self._state.refusal_code = refusal.type
        self._state.refusal_message = refusal.message
        self._publish()


@workflow.defn(name=PartnerWorkflowType.MEMBER_INVITATION)
class MemberInvitationWorkflow(_InvitationLifecycle):
    """R16: invite one e-mail address to join a BC with a role and ad accounts."""

    @workflow.init
    def __init__(self, input: MemberInvitationInput) -> None:
        self._input = input
        self._invitation_id = input.invitation_id
        self._bc_id = input.bc_id
        self._kind = InvitationKind.MEMBER
        self._state = input.state or InvitationState()
        self._lock = asyncio.Lock()

    @workflow.run
    async def run(self, input: MemberInvitationInput) -> InvitationResult:
        state = self._state
        if state.status is None and state.refusal_code is None:
            try:
                out = await workflow.execute_activity_method(
                    PartnerActivities.create_member_invitation,
                    CreateMemberInvitation(
                        invitation_id=input.invitation_id,
                        bc_id=input.bc_id,
                        email=input.email,
                        role=input.role,
                        ad_accounts=input.ad_accounts,
                        invited_by=input.invited_by,
                        workflow_id=workflow.info().workflow_id,
                    ),
                    **presets.STORE,
                )
                state.status = out.status
                self._publish()
            except ActivityError as err:
                self._refuse(refusal_of(err))
        if state.status is not None:
            await self._wait_for_answer(
                lambda: MemberInvitationInput(**{**input.model_dump(), "state": state}),
                lambda: not state.emails_sent,
            )
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._result()

    async def _do_work(self) -> None:
        await self._send_emails()
        self._state.emails_sent = True

    @workflow.update(name=PartnerMessage.ADMISSION)
    async def admission(self, _: WaitInvitationAdmission) -> InvitationOutcome:
        state = self._state
        await workflow.wait_condition(
            lambda: state.status is not None or state.refusal_code is not None
        )
        if state.status is None:
            raise ApplicationError(
                state.refusal_message or REFUSED, type=state.refusal_code, non_retryable=True
            )
        return InvitationOutcome(
            invitation_id=self._invitation_id,
            kind=InvitationKind.MEMBER,
            status=state.status,
            bc_id=self._bc_id,
            email=self._input.email,
            workflow_id=workflow.info().workflow_id,
        )


@workflow.defn(name=PartnerWorkflowType.PARTNER_INVITATION)
class PartnerInvitationWorkflow(_InvitationLifecycle):
    """R17: invite a BC to be a partner; it carries the shops offered until accepted."""

    @workflow.init
    def __init__(self, input: PartnerInvitationInput) -> None:
        self._input = input
        self._invitation_id = input.invitation_id
        self._bc_id = input.bc_id
        self._kind = InvitationKind.PARTNER
        self._state = input.state or InvitationState()
        self._lock = asyncio.Lock()

    @workflow.run
    async def run(self, input: PartnerInvitationInput) -> InvitationResult:
        state = self._state
        # The invitation exists once the first offer is admitted; a refused first offer
        # ends the workflow with nothing stored.
        await workflow.wait_condition(
            lambda: state.status is not None or state.refusal_code is not None
        )
        if state.status is not None:
            await self._wait_for_answer(
                lambda: PartnerInvitationInput(**{**input.model_dump(), "state": state}),
                lambda: bool(self._unmailed()),
            )
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._result()

    def _unmailed(self) -> list[int]:
        state = self._state
        return [s for s in state.shop_ids if s not in state.mailed_shop_ids]

    async def _do_work(self) -> None:
        for shop_id in self._unmailed():
            await self._send_emails(shop_id)
            self._state.mailed_shop_ids.append(shop_id)

    @workflow.update(name=PartnerMessage.OFFER_SHOP)
    async def offer_shop(self, command: OfferShop) -> InvitationOutcome:
        state = self._state
        async with self._lock:
            self._require_open()
            try:
                out = await workflow.execute_activity_method(
                    PartnerActivities.offer_partner_shop,
                    OfferPartnerShop(
                        invitation_id=self._invitation_id,
                        bc_id=self._bc_id,
                        partner_bc_id=self._input.partner_bc_id,
                        shop_id=command.shop_id,
                        permission=command.permission,
                        by=command.by,
                        workflow_id=workflow.info().workflow_id,
                        ends_at=command.ends_at,
                    ),
                    **presets.STORE,
                )
            except ActivityError as err:
                refusal = refusal_of(err)
                if state.status is None:
                    self._refuse(refusal)
                raise refusal from None
            state.status = out.status
            if command.shop_id not in state.shop_ids:
                state.shop_ids.append(command.shop_id)
            self._publish()
            return out

    @offer_shop.validator
    def _validate_offer_shop(self, command: OfferShop) -> None:
        self._require_open()

    def _require_open(self) -> None:
        """A first offer may create the invitation; later ones need it still pending."""
        state = self._state
        if state.status is None and state.refusal_code is None:
            return
        self._require_pending()
