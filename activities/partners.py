"""Activities of the partner side (R16, R17, R19): invitations, ending grants on removal,
and the e-mails they send. Each is one transaction (or one delivery per recipient) and
idempotent on its business key: the invitation id, the removal id.
"""

from __future__ import annotations

from sqlalchemy import Engine
from temporalio import activity
from temporalio.client import Client

from activities import emails
from activities.delivery import RenderedEmail, Transport, build_message, deliver_once
from activities.refusals import refusals_as_errors
from client import end_date_operations as end_dates_client
from client.invitation_links import InvitationLinks
from models import i18n
from models.names import PartnerActivity
from models.partner_messages import (
    CreateMemberInvitation,
    EndGrants,
    FinishRemoval,
    GrantsEnded,
    GrantUntil,
    InvitationDecision,
    InvitationEmails,
    InvitationOutcome,
    OfferPartnerShop,
    PartnerEmailsSent,
    RemovalFinished,
    RemovalNotice,
)
from models.tables import Invitation, ShopGrant
from store import invitations, members, removal
from store.db import read_session, write_session
from store.invitations import InvitationDetails, find_invitation_details
from store.mail_context import Recipient, admin_recipients, removal_context
from store.people import find_user

_Job = tuple[str, str, RenderedEmail]
"""An e-mail to deliver: its business key, the recipient's address, the rendered e-mail."""


def outcome(
    invitation: Invitation, shop_ids: list[int], granted: list[ShopGrant] | None = None
) -> InvitationOutcome:
    return InvitationOutcome(
        invitation_id=invitation.id,
        kind=invitation.kind,
        status=invitation.status,
        bc_id=invitation.bc_id,
        email=invitation.email,
        partner_bc_id=invitation.partner_bc_id,
        shop_ids=shop_ids,
        granted_shop_ids=sorted(g.shop_id for g in granted or []),
        workflow_id=invitation.workflow_id,
        granted_until=[
            GrantUntil(grant_id=g.id, ends_at=g.ends_at)
            for g in granted or []
            if g.id is not None and g.ends_at is not None
        ],
    )


class PartnerActivities:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @activity.defn(name=PartnerActivity.CREATE_MEMBER_INVITATION)
    @refusals_as_errors
    def create_member_invitation(self, input: CreateMemberInvitation) -> InvitationOutcome:
        with write_session(self._engine) as session:
            invitation = members.create_member_invitation(
                session,
                invitation_id=input.invitation_id,
                bc_id=input.bc_id,
                email=input.email,
                role=input.role,
                ad_accounts=input.ad_accounts,
                by=input.invited_by,
                workflow_id=input.workflow_id,
            )
            return outcome(invitation, [])

    @activity.defn(name=PartnerActivity.OFFER_PARTNER_SHOP)
    @refusals_as_errors
    def offer_partner_shop(self, input: OfferPartnerShop) -> InvitationOutcome:
        with write_session(self._engine) as session:
            invitation = invitations.offer_partner_shop(
                session,
                invitation_id=input.invitation_id,
                bc_id=input.bc_id,
                partner_bc_id=input.partner_bc_id,
                shop_id=input.shop_id,
                permission=input.permission,
                by=input.by,
                workflow_id=input.workflow_id,
                ends_at=input.ends_at,
            )
            return outcome(invitation, invitations.offered_shop_ids(session, invitation.id))

    @activity.defn(name=PartnerActivity.ACCEPT_INVITATION)
    @refusals_as_errors
    def accept_invitation(self, input: InvitationDecision) -> InvitationOutcome:
        with write_session(self._engine) as session:
            invitation, granted = invitations.accept_invitation(
                session, invitation_id=input.invitation_id, by=input.by
            )
            return outcome(
                invitation, invitations.offered_shop_ids(session, invitation.id), granted
            )

    @activity.defn(name=PartnerActivity.DECLINE_INVITATION)
    @refusals_as_errors
    def decline_invitation(self, input: InvitationDecision) -> InvitationOutcome:
        with write_session(self._engine) as session:
            invitation = invitations.decline_invitation(
                session, invitation_id=input.invitation_id, by=input.by
            )
            return outcome(invitation, invitations.offered_shop_ids(session, invitation.id))

    @activity.defn(name=PartnerActivity.CANCEL_INVITATION)
    @refusals_as_errors
    def cancel_invitation(self, input: InvitationDecision) -> InvitationOutcome:
        with write_session(self._engine) as session:
            invitation = invitations.cancel_invitation(
                session, invitation_id=input.invitation_id, by=input.by
            )
            return outcome(invitation, invitations.offered_shop_ids(session, invitation.id))

    @activity.defn(name=PartnerActivity.END_GRANTS)
    @refusals_as_errors
    def end_grants(self, input: EndGrants) -> GrantsEnded:
        with write_session(self._engine) as session:
            ended = removal.end_grants(
                session,
                removal_id=input.removal_id,
                shop_id=input.shop_id,
                partner_bc_id=input.partner_bc_id,
                by=input.by,
                workflow_id=input.workflow_id,
                reason=input.reason,
            )
            return GrantsEnded(
                removal_id=input.removal_id,
                shop_id=input.shop_id,
                partner_bc_id=input.partner_bc_id,
                ended_grant_ids=ended.ended_grant_ids,
                lost_bc_ids=ended.lost_bc_ids,
                assignments_ended=ended.assignments_ended,
                ended_at=ended.removal.created_at,
                # The total a progress bar counts towards (starter.py remove-access --wait).
                campaigns_to_stop=removal.campaigns_to_stop(
                    session,
                    removal_id=input.removal_id,
                    shop_id=input.shop_id,
                    bc_ids=ended.lost_bc_ids,
                ),
            )

    @activity.defn(name=PartnerActivity.FINISH_REMOVAL)
    @refusals_as_errors
    def finish_removal(self, input: FinishRemoval) -> RemovalFinished:
        with write_session(self._engine) as session:
            finished = removal.finish_removal(session, removal_id=input.removal_id)
            return RemovalFinished(campaigns_stopped=finished.campaigns_stopped)


class PartnerTimerActivities:
    """R23: what needs the worker's own Temporal client (like BulkActivities)."""

    def __init__(self, client: Client, task_queue: str) -> None:
        self._client = client
        self._task_queue = task_queue

    @activity.defn(name=PartnerActivity.ARM_ACCESS_END)
    async def arm_access_end(self, input: GrantUntil) -> None:
        """Start a share's ``AccessEnd`` exactly as a share with a partner does
        (signal-with-start: a retry joins the running one)."""
        await end_dates_client.arm(self._client, self._task_queue, input.grant_id, input.ends_at)


class PartnerMailActivities:
    def __init__(
        self, engine: Engine, transport: Transport, links: InvitationLinks, sender: str
    ) -> None:
        self._engine = engine
        self._transport = transport
        self._links = links
        self._sender = sender

    def _deliver(self, key: str, to: str, rendered: RenderedEmail) -> bool:
        message = build_message(key=key, sender=self._sender, to=to, email=rendered)
        return deliver_once(self._engine, self._transport, message, key)

    @activity.defn(name=PartnerActivity.SEND_INVITATION_EMAILS)
    @refusals_as_errors
    def send_invitation_emails(self, input: InvitationEmails) -> PartnerEmailsSent:
        """R16: the accept link to the invitee; R17: to each admin of the invited BC, once
        per offered shop (a later share to the same pending invitation mails again)."""
        with read_session(self._engine) as session:
            details = find_invitation_details(session, input.invitation_id)
            if details is None:
                raise ValueError(f"unknown invitation {input.invitation_id}")
            if details.invitation.email is not None:
                invitee = find_user(session, details.invitation.email)
                language = invitee.preferred_language if invitee is not None else None
                jobs = [self._member_invitation(details, language)]
            else:
                assert details.partner is not None
                jobs = self._partner_invitations(
                    details, admin_recipients(session, details.partner.id), input.shop_id
                )
        return PartnerEmailsSent(
            sent=sum(int(self._deliver(key, to, rendered)) for key, to, rendered in jobs)
        )

    def _member_invitation(self, details: InvitationDetails, language: str | None) -> _Job:
        invitation = details.invitation
        assert invitation.email is not None
        rendered = emails.member_invitation(
            bc_name=details.bc.name,
            bc_id=details.bc.id,
            invited_by=details.invited_by.email,
            role=(invitation.role.value if invitation.role else "standard"),
            ad_accounts=[(a.name, a.id, a.permission.value) for a in details.ad_accounts],
            link=self._links.link(invitation.id, invitation.email),
            # R28: the invitee's saved language if they have one, else the BC's country.
            locale=i18n.negotiate(saved=language, market=details.bc.country),
            switch_url=self._links.language_link(invitation.email),
        )
        return (f"invitation:{invitation.id}:to:{invitation.email}", invitation.email, rendered)

    def _partner_invitations(
        self, details: InvitationDetails, recipients: list[Recipient], shop_id: int | None
    ) -> list[_Job]:
        invitation, partner = details.invitation, details.partner
        assert partner is not None
        shops = [(s.name, s.code, s.permission.value, s.ends_at) for s in details.shops]
        jobs = []
        for recipient in recipients:
            rendered = emails.partner_invitation(
                recipient_name=recipient.name,
                bc_name=details.bc.name,
                bc_id=details.bc.id,
                partner_bc_name=partner.name,
                partner_bc_id=partner.id,
                invited_by=details.invited_by.email,
                shops=shops,
                timezone=partner.timezone,
                link=self._links.link(invitation.id, recipient.email),
                # R28: the admin's saved language, else the invited BC's country.
                locale=i18n.negotiate(saved=recipient.language, market=partner.country),
                switch_url=self._links.language_link(recipient.email),
            )
            key = f"invitation:{invitation.id}:shop-{shop_id}:to:{recipient.email}"
            jobs.append((key, recipient.email, rendered))
        return jobs

    @activity.defn(name=PartnerActivity.NOTIFY_REMOVAL)
    @refusals_as_errors
    def notify_access_removed(self, input: RemovalNotice) -> PartnerEmailsSent:
        """R19: the partner is told, and so is every BC downstream that lost the shop."""
        with read_session(self._engine) as session:
            context = removal_context(session, input.removal_id)
        if context is None:
            raise ValueError(f"unknown removal {input.removal_id}")
        jobs = [
            (
                f"removal:{context.removal.id}:bc-{lost.bc.id}:to:{recipient.email}",
                recipient.email,
                emails.access_removed(
                    recipient_name=recipient.name,
                    bc_name=lost.bc.name,
                    bc_id=lost.bc.id,
                    shop_name=context.shop.name,
                    shop_code=context.shop.code,
                    removed_by=context.removed_by.email,
                    direct=lost.direct,
                    # R28: the admin's saved language, else their BC's country.
                    locale=i18n.negotiate(saved=recipient.language, market=lost.bc.country),
                    switch_url=self._links.language_link(recipient.email),
                ),
            )
            for lost in context.lost
            for recipient in lost.recipients
        ]
        return PartnerEmailsSent(
            sent=sum(int(self._deliver(key, to, rendered)) for key, to, rendered in jobs)
        )
