"""Client-side operations on access requests, shared by the CLI, the web app and the tests.

Each one talks to the request's workflow (the store is changed only by activities) and
reads the store for ids and views. Refusals come back as :class:`models.errors.Refusal`.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine
from temporalio.client import (
    Client,
    WithStartWorkflowOperation,
    WorkflowUpdateFailedError,
)
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
)
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from client import end_date_operations as end_dates_client
from client.temporal import answer_within
from models.enums import DEFAULT_REMINDER_DAYS, RequestMethod, RequestStatus
from models.errors import ErrorCode, Refusal
from models.fields import require_db_id, require_display_name
from models.messages import (
    AdmissionOutcome,
    ApprovalOutcome,
    ApproveRequest,
    CancelRequest,
    DeclineRequest,
    PersonalLinkAccepted,
    PersonalLinkRequest,
    RequestInput,
    RequestResult,
    RequestState,
    ResendOutcome,
    ResendRequest,
    WaitAdmission,
)
from models.names import WORKFLOW_TYPE_FOR_METHOD, Message, request_workflow_id
from models.reasons import require_reason
from models.search_attributes import BC_ID, REQUEST_METHOD, REQUEST_STATUS, SHOP_CODE
from models.views import RequestView
from store import queries
from store.admission import already_pending, find_pending_request
from store.db import read_session
from store.people import normalise_email, require_shop_by_code, team_member_id
from store.request_records import find_request, not_pending, require_pending_request

# With no worker running, an update waits for ever; people and scripts should not.
DEFAULT_TIMEOUT_SECONDS = 30.0


BEING_ADMITTED = "being admitted"
"""R6's conflict names this instead of an id while the pending workflow's row is not
written yet."""


def new_request_id() -> str:
    return "req_" + uuid.uuid4().hex[:20]


def refusal_from(err: BaseException) -> Refusal | None:
    """The business refusal carried by a Temporal error, if there is one."""
    cause: BaseException | None = err
    while cause is not None:
        if isinstance(cause, ApplicationError) and cause.type:
            details: dict[str, Any] = {}
            if cause.details and isinstance(cause.details[0], dict):
                details = cause.details[0]
            return Refusal(cause.type, cause.message, **details)
        cause = cause.__cause__ or getattr(cause, "cause", None)
    return None


async def _settle(start: WithStartWorkflowOperation[Any, Any]) -> None:
    """Consume the start operation's failure so asyncio does not report it as unretrieved
    (after a deadline, that failure is the cancellation the deadline caused)."""
    with contextlib.suppress(Exception, asyncio.CancelledError):
        await start.workflow_handle()


@dataclass(frozen=True)
class Submitted:
    request_id: str
    status: str
    approval_url: str
    workflow_id: str


class RequestService:
    def __init__(
        self,
        client: Client,
        engine: Engine,
        task_queue: str,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        reminder_days: list[int] | None = None,
    ) -> None:
        self.client = client
        self.engine = engine
        self.task_queue = task_queue
        self.timeout = timeout
        # R25's policy for the requests this service starts (Settings.reminder_days);
        # None: the workflow input's default.
        self.reminder_days = reminder_days

    # --- partner side --------------------------------------------------------------------

    async def submit(
        self,
        *,
        method: RequestMethod,
        bc_id: int,
        shop_code: str,
        by: str,
        retry: bool = True,
        request_id: str | None = None,
    ) -> Submitted:
        """Start a request workflow and wait for the store's admission (R1-R7).

        ``request_id``: a caller that may ask again for the same request (a bulk request's
        retried activity, R24) fixes the id; otherwise a new one is made.
        """
        # An id the store cannot hold is refused here, before any workflow starts.
        require_db_id("bc_id", bc_id)
        with read_session(self.engine) as session:
            shop = require_shop_by_code(session, shop_code)
            made = find_request(session, request_id=request_id) if request_id else None
        if made is not None and made.status is not RequestStatus.PENDING:
            # An earlier attempt of this call made the request, and it was decided since:
            # that is the answer (a new workflow must not admit an id the store has).
            return Submitted(made.id, made.status.value, "", made.workflow_id)
        assert shop.id is not None
        request = RequestInput(
            request_id=request_id or new_request_id(),
            method=method,
            bc_id=bc_id,
            shop_id=shop.id,
            shop_code=shop.code,
            requested_by=by.strip().lower(),
            reminder_days=(
                list(DEFAULT_REMINDER_DAYS) if self.reminder_days is None else self.reminder_days
            ),
        )
        workflow_id = request_workflow_id(method, bc_id, shop.code)
        try:
            outcome = await self._admit(request, workflow_id, retry=retry, shop_code=shop_code)
        except Refusal as refusal:
            pending = refusal.details.get("request_id")
            if request_id is None or refusal.code != ErrorCode.REQUEST_ALREADY_PENDING:
                raise
            if pending not in (request_id, BEING_ADMITTED):
                raise
            # The caller fixed the id and a request is pending or being admitted: if it is
            # the one an earlier attempt of this call started, it is this call's answer.
            outcome = await self._rejoin(workflow_id, refusal)
            if outcome.request_id != request_id:
                raise already_pending(outcome.request_id, shop.code) from None
        if isinstance(outcome, Submitted):
            return outcome  # answered by the retry after a decided request closed
        return Submitted(
            request_id=request.request_id,
            status=outcome.status,
            approval_url=outcome.approval_url or "",
            workflow_id=workflow_id,
        )

    async def _admit(
        self, request: RequestInput, workflow_id: str, *, retry: bool, shop_code: str
    ) -> AdmissionOutcome | Submitted:
        """Update-with-start the request's workflow and wait for the store's admission,
        turning Temporal's answers into the service's refusals."""
        method, bc_id, shop_id = request.method, request.bc_id, request.shop_id
        start = self._start_operation(request, workflow_id)
        try:
            async with answer_within(self.timeout):
                outcome: AdmissionOutcome = await self.client.execute_update_with_start_workflow(
                    Message.ADMISSION,
                    WaitAdmission(),
                    start_workflow_operation=start,
                    result_type=AdmissionOutcome,
                )
        except WorkflowAlreadyStartedError:
            await _settle(start)
            if retry and await self._finishing(workflow_id):
                # The previous request was decided; now the store answers (e.g. R6's
                # already_has_access), not the id of a workflow that is closing.
                return await self.submit(
                    method=method,
                    bc_id=bc_id,
                    shop_code=shop_code,
                    by=request.requested_by,
                    retry=False,
                    request_id=request.request_id,
                )
            raise self._already_pending(bc_id, shop_id, method, request.shop_code) from None
        except WorkflowUpdateFailedError as err:
            raise self._refusal(err) from None
        except RPCError as err:
            if err.status is RPCStatusCode.ALREADY_EXISTS:
                await _settle(start)
                raise self._already_pending(bc_id, shop_id, method, request.shop_code) from None
            raise
        except TimeoutError:
            await _settle(start)
            raise self._unavailable() from None
        return outcome

    async def _rejoin(self, workflow_id: str, refusal: Refusal) -> AdmissionOutcome:
        """The admission of the request workflow already running under ``workflow_id``,
        waited for as the first attempt would have (its refusal, if it was refused)."""
        handle = self.client.get_workflow_handle(workflow_id)
        try:
            async with answer_within(self.timeout):
                return await handle.execute_update(
                    Message.ADMISSION, WaitAdmission(), result_type=AdmissionOutcome
                )
        except WorkflowUpdateFailedError as err:
            raise self._refusal(err) from None
        except TimeoutError:
            raise self._unavailable() from None
        except RPCError:
            raise refusal from None  # closed meanwhile: the conflict stands as it was

    def _start_operation(
        self, request: RequestInput, workflow_id: str
    ) -> WithStartWorkflowOperation[Any, RequestResult]:
        method, bc_id, code = request.method, request.bc_id, request.shop_code
        return WithStartWorkflowOperation(
            WORKFLOW_TYPE_FOR_METHOD[method],
            request,
            id=workflow_id,
            task_queue=self.task_queue,
            # R6: Temporal itself refuses a second open request for (BC, shop, method).
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            result_type=RequestResult,
            search_attributes=TypedSearchAttributes(
                [
                    SearchAttributePair(BC_ID, str(bc_id)),
                    SearchAttributePair(SHOP_CODE, code),
                    SearchAttributePair(REQUEST_METHOD, method.value),
                    SearchAttributePair(REQUEST_STATUS, "admitting"),
                ]
            ),
            static_summary=f"{method.label}: BC {bc_id} → shop {code} ({request.request_id})",
        )

    async def resend(self, request_id: str, *, by: str, copy_link: bool) -> ResendOutcome:
        """R8: e-mail the shop team again, or take the link to copy."""
        return await self._update(
            request_id, Message.RESEND, ResendRequest(by=by, copy_link=copy_link), ResendOutcome
        )

    async def cancel(self, request_id: str, *, by: str) -> RequestResult:
        """R9 policy: withdraw a pending request."""
        return await self._update(request_id, Message.CANCEL, CancelRequest(by=by), RequestResult)

    # --- seller side ---------------------------------------------------------------------

    async def decline(
        self,
        request_id: str,
        *,
        by: str,
        reason: str | None = None,
        idempotency_key: str | None = None,
        workflow_id: str | None = None,
    ) -> RequestResult:
        """R22: a shop team member declines a pending request (R13 as for approving).

        A reason the e-mail and pages could not carry is refused here (``invalid_input``),
        before the workflow hears of it; ``idempotency_key`` as for :meth:`approve`.
        """
        return await self._update(
            request_id,
            Message.DECLINE,
            DeclineRequest(by=by, reason=require_reason(reason)),
            RequestResult,
            update_id=idempotency_key,
            workflow_id=workflow_id,
        )

    async def approve(
        self,
        request_id: str,
        command: ApproveRequest,
        *,
        idempotency_key: str | None = None,
        workflow_id: str | None = None,
        until: datetime | None = None,
    ) -> ApprovalOutcome:
        """R10-R14: the one decision path of the CLI and the link handler.

        ``idempotency_key`` becomes the update id, so a double submit of one form returns
        the first outcome instead of deciding twice. A caller that has just read the
        request as pending (the link handler) passes its ``workflow_id`` and saves a read.
        Ids the store cannot hold and S2 names with control characters are refused here
        (``invalid_input``), before the workflow hears of them.
        ``until`` (R23): the access ends then; a date already past is refused first. It
        travels with the decision: the store writes it with the grant in one transaction and
        the request workflow starts its timer, so nothing is left to do after this returns.
        """
        require_db_id("bc_id", command.bc_id)
        if until is not None:
            command = command.model_copy(update={"until": until})
        end_dates_client.check_end_date(command.until)
        if command.new_bc_name is not None and command.new_bc_name.strip():
            require_display_name(
                "new_bc_name", command.new_bc_name, label="The new Business Center's name"
            )
        outcome: ApprovalOutcome = await self._update(
            request_id,
            Message.APPROVE,
            command,
            ApprovalOutcome,
            update_id=idempotency_key,
            workflow_id=workflow_id,
        )
        return outcome

    async def request_personal_link(self, request_id: str, email: str) -> PersonalLinkAccepted:
        """R7/R13: queue a personal link for ``email``; mailed only if on the shop's team.

        Every address costs the same: one look-up, then the same update carrying the team
        member it belongs to or none, so the answer and its timing tell nothing about who
        is on the team. The address itself stays out of the workflow's history.
        """
        address = normalise_email(email)
        with read_session(self.engine) as session:
            request = require_pending_request(session, request_id=request_id)
            if not address or len(address) > 320:
                raise Refusal(ErrorCode.INVALID_INPUT, reason="email_missing")
            # One query for every address (R13): its timing tells nothing either.
            member_id = team_member_id(session, shop_id=request.shop_id, email=address)
        result: PersonalLinkAccepted = await self._update(
            request_id,
            Message.SEND_PERSONAL_LINK,
            PersonalLinkRequest(member_id=member_id),
            PersonalLinkAccepted,
            workflow_id=request.workflow_id,
        )
        return result

    # --- reads ---------------------------------------------------------------------------

    def status(self, request_id: str) -> RequestView:
        with read_session(self.engine) as session:
            return queries.request_view(session, request_id)

    # --- plumbing ------------------------------------------------------------------------

    async def _update(
        self,
        request_id: str,
        name: str,
        arg: Any,
        result_type: type,
        *,
        update_id: str | None = None,
        workflow_id: str | None = None,
    ) -> Any:
        if workflow_id is None:
            with read_session(self.engine) as session:
                workflow_id = require_pending_request(session, request_id=request_id).workflow_id
        handle = self.client.get_workflow_handle(workflow_id)
        # One retry: the server aborts an update whose workflow task failed, which happens
        # benignly when the update lands while the workflow is completing (its completion
        # is then rejected and retried). By the retry, the store tells what was decided.
        for attempt in (1, 2):
            try:
                async with answer_within(self.timeout):
                    return await handle.execute_update(
                        name, arg, id=update_id, result_type=result_type
                    )
            except WorkflowUpdateFailedError as err:
                raise self._refusal(err) from None
            except RPCError as err:
                with read_session(self.engine) as session:
                    fresh = find_request(session, request_id=request_id)
                assert fresh is not None
                closed = err.status is RPCStatusCode.NOT_FOUND
                if closed or fresh.status is not RequestStatus.PENDING:
                    # The workflow decided, or closed, since we read the store.
                    raise not_pending(fresh) from None
                if attempt == 2:
                    raise
            except TimeoutError:
                raise self._unavailable() from None
        raise AssertionError("unreachable")

    async def _finishing(self, workflow_id: str) -> bool:
        """Whether the open workflow with this id is a decided request that is still
        finishing (granting, e-mailing the outcome); if so, wait until it has closed."""
        handle = self.client.get_workflow_handle(workflow_id)
        try:
            async with answer_within(self.timeout):
                state = await handle.query(Message.STATE, result_type=RequestState)
                if state.status in (None, RequestStatus.PENDING) and not state.refusal_code:
                    return False
                with contextlib.suppress(Exception):  # closed by any outcome is enough
                    await handle.result()
        except (TimeoutError, RPCError):
            return False
        return True

    def _already_pending(
        self, bc_id: int, shop_id: int, method: RequestMethod, shop_code: str
    ) -> Refusal:
        with read_session(self.engine) as session:
            pending = find_pending_request(session, bc_id=bc_id, shop_id=shop_id, method=method)
        return already_pending(pending.id if pending else BEING_ADMITTED, shop_code)

    @staticmethod
    def _refusal(err: WorkflowUpdateFailedError) -> Refusal:
        refusal = refusal_from(err)
        if refusal is None:
            return Refusal(ErrorCode.SERVICE_UNAVAILABLE, reason="failed", error=str(err))
        return refusal

    def _unavailable(self) -> Refusal:
        return Refusal(
            ErrorCode.SERVICE_UNAVAILABLE, reason="no_answer", timeout_seconds=round(self.timeout)
        )
