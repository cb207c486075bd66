"""Client-side operations of the partner side (R16-R19), shared by the CLI, the web app and
the tests, like client/access_requests.py for requests.

Invitations and removals are workflows: these functions start them (update-with-start, so
the caller gets the store's answer or its refusal) and send them updates. Assigning a
member, sharing with an existing partner and creating a campaign are single store
transactions with nothing to wait for, so they run here directly, audited like the rest.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Engine
from temporalio.client import Client, WithStartWorkflowOperation, WorkflowUpdateFailedError
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
)
from temporalio.service import RPCError, RPCStatusCode

from client import end_date_operations as end_dates_client
from client.access_requests import DEFAULT_TIMEOUT_SECONDS, refusal_from
from client.temporal import answer_within
from models.enums import MemberRole, Permission
from models.errors import ErrorCode, Refusal
from models.fields import require_bc_or_shop, require_db_id, require_email
from models.names import (
    PartnerMessage,
    PartnerWorkflowType,
    member_invitation_workflow_id,
    partner_invitation_workflow_id,
    removal_workflow_id,
)
from models.partner_enums import InvitationStatus
from models.partner_messages import (
    AdAccountGrant,
    AssignmentView,
    CampaignView,
    GrantsEnded,
    HeldShopView,
    InvitationOutcome,
    InvitationResult,
    MemberInvitationInput,
    OfferShop,
    PartnerInvitationInput,
    RemovalInput,
    RemovalPreview,
    RemovalResult,
    RespondToInvitation,
    ShareOutcome,
    WaitGrantsEnded,
    WaitInvitationAdmission,
)
from models.search_attributes import BC_ID, REQUEST_STATUS, SHOP_CODE
from models.tables import Shop, utcnow
from store import campaigns, end_dates, members, removal, sharing
from store import partner_refusals as refusals
from store.db import read_session, write_session
from store.invitations import require_invitation
from store.people import normalise_email, require_shop_by_code


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:20]}"


class PartnerService:
    def __init__(
        self,
        client: Client | None,
        engine: Engine,
        task_queue: str,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
    ) -> None:
        # None serves the store-only operations (assign, campaigns, reads, preview) without
        # connecting to Temporal.
        self._client = client
        self.engine = engine
        self.task_queue = task_queue
        self.timeout = timeout

    @property
    def client(self) -> Client:
        if self._client is None:
            raise Refusal(ErrorCode.SERVICE_UNAVAILABLE, reason="no_client")
        return self._client

    def shop(self, shop_code: str) -> Shop:
        """R5: the shop by its code; one answer for malformed and unknown codes."""
        with read_session(self.engine) as session:
            return require_shop_by_code(session, shop_code)

    # --- members (R16) -------------------------------------------------------------------

    def assign_member(
        self, *, bc_id: int, shop_code: str, member: str, permission: Permission, by: str
    ) -> AssignmentView:
        require_db_id("bc_id", bc_id)
        shop = self.shop(shop_code)
        assert shop.id is not None
        with write_session(self.engine) as session:
            assignment = members.assign_member(
                session,
                bc_id=bc_id,
                shop_id=shop.id,
                member_email=member,
                permission=permission,
                by=by,
            )
            return members.assignment_view(session, assignment)

    async def assign_member_with_end_date(
        self,
        *,
        bc_id: int,
        shop_code: str,
        member: str,
        permission: Permission,
        by: str,
        until: datetime | None,
    ) -> AssignmentView:
        """R16 with R23's optional end date, in the same transaction (a date refused
        leaves no assignment), then the assignment's timer."""
        if until is None:
            return self.assign_member(
                bc_id=bc_id, shop_code=shop_code, member=member, permission=permission, by=by
            )
        require_db_id("bc_id", bc_id)
        end_dates_client.check_end_date(until)
        shop = self.shop(shop_code)
        assert shop.id is not None
        with write_session(self.engine) as session:
            assignment = members.assign_member(
                session,
                bc_id=bc_id,
                shop_id=shop.id,
                member_email=member,
                permission=permission,
                by=by,
            )
            end_dates.set_assignment_end(
                session, assignment, until, actor=normalise_email(by), now=utcnow()
            )
            session.flush()
            view = members.assignment_view(session, assignment)
            assignment_id = assignment.id
        assert assignment_id is not None and self.client is not None
        await end_dates_client.follow_assignment(self.client, self.task_queue, assignment_id, until)
        return view

    async def invite_members(
        self,
        *,
        bc_id: int,
        emails: list[str],
        role: MemberRole,
        ad_accounts: list[AdAccountGrant],
        by: str,
    ) -> list[InvitationOutcome]:
        """R16: one invitation workflow per address, all started together. The first
        refusal is raised (earlier addresses stay invited: each stands alone)."""
        # Every input is checked before the first workflow starts, so a bad
        # address or id refuses the whole call and invites nobody.
        require_db_id("bc_id", bc_id)
        for grant in ad_accounts:
            require_db_id("ad_account_id", grant.ad_account_id)
        addresses = list(dict.fromkeys(require_email("email", e) for e in emails if e.strip()))
        if not addresses:
            raise Refusal(ErrorCode.INVALID_INPUT, reason="no_email")
        results = await asyncio.gather(
            *(self._invite_member(bc_id, a, role, ad_accounts, by) for a in addresses),
            return_exceptions=True,
        )
        for result in results:
            if isinstance(result, BaseException):
                raise result
        return [r for r in results if isinstance(r, InvitationOutcome)]

    async def _invite_member(
        self,
        bc_id: int,
        email: str,
        role: MemberRole,
        ad_accounts: list[AdAccountGrant],
        by: str,
    ) -> InvitationOutcome:
        invitation_id = new_id("inv")
        start: WithStartWorkflowOperation[Any, Any] = WithStartWorkflowOperation(
            PartnerWorkflowType.MEMBER_INVITATION,
            MemberInvitationInput(
                invitation_id=invitation_id,
                bc_id=bc_id,
                email=email,
                role=role,
                ad_accounts=ad_accounts,
                invited_by=normalise_email(by),
            ),
            id=member_invitation_workflow_id(bc_id, invitation_id),
            task_queue=self.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            result_type=InvitationResult,
            search_attributes=TypedSearchAttributes([SearchAttributePair(BC_ID, str(bc_id))]),
            static_summary=f"Member invitation to BC {bc_id} ({invitation_id})",
        )
        outcome: InvitationOutcome = await self._with_start(
            start, PartnerMessage.ADMISSION, WaitInvitationAdmission(), InvitationOutcome
        )
        return outcome

    async def accept_invitation(self, invitation_id: str, *, by: str) -> InvitationOutcome:
        return await self._answer(invitation_id, PartnerMessage.ACCEPT, by)

    async def decline_invitation(self, invitation_id: str, *, by: str) -> InvitationOutcome:
        return await self._answer(invitation_id, PartnerMessage.DECLINE, by)

    async def cancel_invitation(self, invitation_id: str, *, by: str) -> InvitationOutcome:
        return await self._answer(invitation_id, PartnerMessage.CANCEL, by)

    async def _answer(self, invitation_id: str, name: str, by: str) -> InvitationOutcome:
        with read_session(self.engine) as session:
            invitation = require_invitation(session, invitation_id)
        if invitation.status is not InvitationStatus.PENDING:
            raise refusals.invitation_not_pending(invitation)
        handle = self.client.get_workflow_handle(invitation.workflow_id)
        try:
            async with answer_within(self.timeout):
                out: InvitationOutcome = await handle.execute_update(
                    name,
                    RespondToInvitation(by=normalise_email(by)),
                    result_type=InvitationOutcome,
                )
                return out
        except WorkflowUpdateFailedError as err:
            raise _refusal(err) from None
        except RPCError as err:
            if err.status is RPCStatusCode.NOT_FOUND:
                with read_session(self.engine) as session:
                    fresh = require_invitation(session, invitation_id)
                raise refusals.invitation_not_pending(fresh) from None
            raise
        except TimeoutError:
            raise self._unavailable() from None

    # --- partners (R17) ------------------------------------------------------------------

    async def share_shop(
        self,
        *,
        bc_id: int,
        shop_code: str,
        partner_bc_id: int,
        permission: Permission,
        by: str,
        until: datetime | None = None,
    ) -> ShareOutcome:
        """Share at once with an existing partner; otherwise offer the shop through the
        add-partner invitation (joining the pending one if there is one). ``until`` (R23):
        the share ends then, never later than the sharer's own; on an invitation it is
        checked now and given with the share when the invitation is accepted."""
        require_db_id("bc_id", bc_id)
        require_db_id("partner_bc_id", partner_bc_id)
        end_dates_client.check_end_date(until)
        shop = self.shop(shop_code)
        assert shop.id is not None
        with read_session(self.engine) as session:
            partnered = sharing.is_partner(session, bc_id, partner_bc_id)
        share = ShareOutcome(
            status="shared" if partnered else "invited",
            bc_id=bc_id,
            partner_bc_id=partner_bc_id,
            shop_code=shop.code,
            permission=permission,
        )
        if partnered:
            return await self._share_now(share, shop.id, by, until)
        invitation_id = await self._offer_shop(share, shop.id, by, until)
        return share.model_copy(update={"invitation_id": invitation_id, "ends_at": until})

    async def _share_now(
        self, share: ShareOutcome, shop_id: int, by: str, until: datetime | None
    ) -> ShareOutcome:
        """R17 with an existing partner: the grant at once, with R23's end date in the same
        transaction (a share refused for its date never exists), then its timer."""
        with write_session(self.engine) as session:
            grant = sharing.share_shop(
                session,
                share_key=new_id("share"),
                bc_id=share.bc_id,
                shop_id=shop_id,
                partner_bc_id=share.partner_bc_id,
                permission=share.permission,
                by=by,
            )
            if until is not None:
                end_dates.set_end(session, grant, until, actor=normalise_email(by), now=utcnow())
            grant_id = grant.id
        if until is not None and grant_id is not None and self.client is not None:
            await end_dates_client.arm(self.client, self.task_queue, grant_id, until)
        return share.model_copy(update={"grant_id": grant_id, "ends_at": until})

    async def _offer_shop(
        self, share: ShareOutcome, shop_id: int, by: str, until: datetime | None
    ) -> str:
        """R17: the shop rides on the add-partner invitation, with R23's end date; its id."""
        bc_id, partner_bc_id = share.bc_id, share.partner_bc_id
        start: WithStartWorkflowOperation[Any, Any] = WithStartWorkflowOperation(
            PartnerWorkflowType.PARTNER_INVITATION,
            PartnerInvitationInput(
                invitation_id=new_id("inv"),
                bc_id=bc_id,
                partner_bc_id=partner_bc_id,
                invited_by=normalise_email(by),
            ),
            id=partner_invitation_workflow_id(bc_id, partner_bc_id),
            task_queue=self.task_queue,
            # A second share to the same BC joins the open invitation.
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            result_type=InvitationResult,
            search_attributes=TypedSearchAttributes(
                [
                    SearchAttributePair(BC_ID, str(bc_id)),
                    SearchAttributePair(SHOP_CODE, share.shop_code),
                ]
            ),
            static_summary=f"Add-partner invitation: BC {bc_id} → BC {partner_bc_id}",
        )
        outcome: InvitationOutcome = await self._with_start(
            start,
            PartnerMessage.OFFER_SHOP,
            OfferShop(
                shop_id=shop_id,
                permission=share.permission,
                by=normalise_email(by),
                ends_at=until,
            ),
            InvitationOutcome,
        )
        return outcome.invitation_id

    def shops(self, bc_id: int) -> list[HeldShopView]:
        require_db_id("bc_id", bc_id)
        with read_session(self.engine) as session:
            return sharing.shops_for_bc(session, bc_id)

    # --- campaigns (R18) -----------------------------------------------------------------

    def create_campaign(
        self, *, ad_account_id: int, shop_code: str, name: str, by: str
    ) -> CampaignView:
        require_db_id("ad_account_id", ad_account_id)
        shop = self.shop(shop_code)
        assert shop.id is not None
        with write_session(self.engine) as session:
            campaign = campaigns.create_campaign(
                session, ad_account_id=ad_account_id, shop_id=shop.id, name=name, by=by
            )
            campaign_id = campaign.id
        return self._campaign(campaign_id)

    def _campaign(self, campaign_id: int | None) -> CampaignView:
        assert campaign_id is not None
        with read_session(self.engine) as session:
            return campaigns.campaign_view(session, campaign_id)

    def campaigns(
        self, *, bc_id: int | None = None, shop_code: str | None = None
    ) -> list[CampaignView]:
        """A BC's campaigns or a shop's (R18): exactly one of the two is named."""
        require_bc_or_shop(bc_id, shop_code)
        require_db_id("bc_id", bc_id)
        shop_id = None
        if shop_code is not None:
            shop_id = self.shop(shop_code).id
        with read_session(self.engine) as session:
            return campaigns.list_campaigns(session, bc_id=bc_id, shop_id=shop_id)

    # --- access until a date (R23) ---------------------------------------------------------

    async def set_access_end_date(
        self, *, shop_code: str, partner_bc_id: int, until: datetime | None, by: str
    ) -> end_dates.EndDateSet:
        """R23: the seller (whoever may remove the partner, R19) sets or changes (``until``)
        or clears (None) when a partner's access to a shop ends; the timers follow."""
        require_db_id("partner_bc_id", partner_bc_id)
        end_dates_client.check_end_date(until)  # a date already past: refused before Temporal
        return await end_dates_client.set_partner_end_date(
            self.client,
            self.engine,
            self.task_queue,
            shop_code=shop_code,
            partner_bc_id=partner_bc_id,
            ends_at=until,
            by=by,
        )

    # --- removing access (R19) -----------------------------------------------------------

    def preview_removal(self, *, shop_code: str, partner_bc_id: int, by: str) -> RemovalPreview:
        require_db_id("partner_bc_id", partner_bc_id)
        shop = self.shop(shop_code)
        assert shop.id is not None
        with read_session(self.engine) as session:
            return removal.preview_removal(
                session, shop_id=shop.id, partner_bc_id=partner_bc_id, by=by
            )

    async def remove_access(
        self,
        *,
        shop_code: str,
        partner_bc_id: int,
        by: str,
        page_size: int = 2000,
        batch_size: int = 500,
        pause_ms: int = 0,
    ) -> tuple[GrantsEnded, str]:
        """Start the removal and return once the grants have ended (campaigns then stop in
        the background). A second click while it runs joins the same workflow."""
        preview = self.preview_removal(shop_code=shop_code, partner_bc_id=partner_bc_id, by=by)
        workflow_id = removal_workflow_id(preview.shop_id, partner_bc_id, preview.grant_id)
        start: WithStartWorkflowOperation[Any, Any] = WithStartWorkflowOperation(
            PartnerWorkflowType.REMOVE_ACCESS,
            RemovalInput(
                removal_id=new_id("rm"),
                shop_id=preview.shop_id,
                shop_code=preview.shop_code,
                partner_bc_id=partner_bc_id,
                by=normalise_email(by),
                page_size=page_size,
                batch_size=batch_size,
                pause_ms=pause_ms,
            ),
            id=workflow_id,
            task_queue=self.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            result_type=RemovalResult,
            search_attributes=TypedSearchAttributes(
                [
                    SearchAttributePair(BC_ID, str(partner_bc_id)),
                    SearchAttributePair(SHOP_CODE, preview.shop_code),
                    # R21: the approval's own workflow has closed as "approved"; filtering
                    # by BC and shop in the Temporal UI shows this removal beside it.
                    SearchAttributePair(REQUEST_STATUS, "revoked"),
                ]
            ),
            static_summary=(
                f"Remove BC {partner_bc_id} ({preview.partner_bc_name}) from shop "
                f"{preview.shop_code}: {preview.total_delivering_campaigns} campaigns"
            ),
        )
        ended: GrantsEnded = await self._with_start(
            start, PartnerMessage.END_GRANTS, WaitGrantsEnded(), GrantsEnded
        )
        return ended, workflow_id

    async def removal_result(self, workflow_id: str) -> RemovalResult:
        handle = self.client.get_workflow_handle(workflow_id, result_type=RemovalResult)
        return await handle.result()

    # --- plumbing ------------------------------------------------------------------------

    async def _with_start(
        self,
        start: WithStartWorkflowOperation[Any, Any],
        update: str,
        arg: Any,
        result_type: type,
    ) -> Any:
        try:
            async with answer_within(self.timeout):
                return await self.client.execute_update_with_start_workflow(
                    update, arg, start_workflow_operation=start, result_type=result_type
                )
        except WorkflowUpdateFailedError as err:
            raise _refusal(err) from None
        except TimeoutError:
            raise self._unavailable() from None

    def _unavailable(self) -> Refusal:
        return refusals.no_answer(self.timeout)


def _refusal(err: BaseException) -> Refusal:
    refusal = refusal_from(err)
    if refusal is None:
        return refusals.operation_failed(err)
    return refusal
