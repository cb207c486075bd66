"""Activities of the partner side (R16, R17, R19): invitations, ending grants on removal,
and the e-mails they send. Each is one transaction (or one delivery per recipient) and
idempotent on its business key: the invitation id, the removal id.
"""

from __future__ import annotations

import json

from sqlalchemy import Engine
from sqlmodel import select
from temporalio import activity

from activities import emails
from activities.delivery import Transport, build_message, deliver_once
from activities.refusals import refusals_as_errors
from models.names import PartnerActivity
from models.partner_messages import (
    CreateMemberInvitation,
    EndGrants,
    FinishRemoval,
    GrantsEnded,
    InvitationDecision,
    InvitationEmails,
    InvitationOutcome,
    OfferPartnerShop,
    PartnerEmailsSent,
    RemovalFinished,
    RemovalNotice,
)
from models.tables import (
    AccessRemoval,
    AdAccount,
    BusinessCenter,
    Invitation,
    InvitationAdAccount,
    InvitationShop,
    Shop,
    ShopGrant,
    User,
)
from service.invitation_links import InvitationLinks
from store import invitations, members, removal, sharing
from store.db import read_session, write_session
from store.people import bc_admin_emails, find_user


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
            invitation = sharing.offer_partner_shop(
                session,
                invitation_id=input.invitation_id,
                bc_id=input.bc_id,
                partner_bc_id=input.partner_bc_id,
                shop_id=input.shop_id,
                permission=input.permission,
                by=input.by,
                workflow_id=input.workflow_id,
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


class PartnerMailActivities:
    def __init__(
        self, engine: Engine, transport: Transport, links: InvitationLinks, sender: str
    ) -> None:
        self._engine = engine
        self._transport = transport
        self._links = links
        self._sender = sender

    def _deliver(self, key: str, to: str, rendered: emails.RenderedEmail) -> bool:
        message = build_message(key=key, sender=self._sender, to=to, email=rendered)
        return deliver_once(self._engine, self._transport, message, key)

    @activity.defn(name=PartnerActivity.SEND_INVITATION_EMAILS)
    @refusals_as_errors
    def send_invitation_emails(self, input: InvitationEmails) -> PartnerEmailsSent:
        """R16: the accept link to the invitee; R17: to each admin of the invited BC, once
        per offered shop (a later share to the same pending invitation mails again)."""
        sent = 0
        with read_session(self._engine) as session:
            invitation = session.get(Invitation, input.invitation_id)
            if invitation is None:
                raise ValueError(f"unknown invitation {input.invitation_id}")
            bc = session.get(BusinessCenter, invitation.bc_id)
            inviter = session.get(User, invitation.invited_by_user_id)
            assert bc is not None and inviter is not None
            if invitation.email is not None:
                accounts = [
                    (account.name, account.id, item.permission.value)
                    for item, account in session.exec(
                        select(InvitationAdAccount, AdAccount)
                        .join(AdAccount, AdAccount.id == InvitationAdAccount.ad_account_id)  # type: ignore[arg-type]
                        .where(InvitationAdAccount.invitation_id == invitation.id)
                    ).all()
                ]
                rendered = emails.member_invitation(
                    bc_name=bc.name,
                    bc_id=bc.id,
                    invited_by=inviter.email,
                    role=(invitation.role.value if invitation.role else "standard"),
                    ad_accounts=accounts,
                    link=self._links.link(invitation.id, invitation.email),
                )
                jobs = [
                    (
                        f"invitation:{invitation.id}:to:{invitation.email}",
                        invitation.email,
                        rendered,
                    )
                ]
            else:
                assert invitation.partner_bc_id is not None
                partner = session.get(BusinessCenter, invitation.partner_bc_id)
                assert partner is not None
                shops = [
                    (shop.name, shop.code, item.permission.value)
                    for item, shop in session.exec(
                        select(InvitationShop, Shop)
                        .join(Shop, Shop.id == InvitationShop.shop_id)  # type: ignore[arg-type]
                        .where(InvitationShop.invitation_id == invitation.id)
                        .order_by(Shop.code)
                    ).all()
                ]
                jobs = []
                for address in bc_admin_emails(session, partner.id):
                    user = find_user(session, address)
                    rendered = emails.partner_invitation(
                        recipient_name=user.name if user else address,
                        bc_name=bc.name,
                        bc_id=bc.id,
                        partner_bc_name=partner.name,
                        partner_bc_id=partner.id,
                        invited_by=inviter.email,
                        shops=shops,
                        link=self._links.link(invitation.id, address),
                    )
                    jobs.append(
                        (
                            f"invitation:{invitation.id}:shop-{input.shop_id}:to:{address}",
                            address,
                            rendered,
                        )
                    )
        for key, to, rendered in jobs:
            sent += int(self._deliver(key, to, rendered))
        return PartnerEmailsSent(sent=sent)

    @activity.defn(name=PartnerActivity.NOTIFY_REMOVAL)
    @refusals_as_errors
    def notify_access_removed(self, input: RemovalNotice) -> PartnerEmailsSent:
        """R19: the partner is told, and so is every BC downstream that lost the shop."""
        jobs = []
        with read_session(self._engine) as session:
            record = session.get(AccessRemoval, input.removal_id)
            if record is None:
                raise ValueError(f"unknown removal {input.removal_id}")
            shop = session.get(Shop, record.shop_id)
            remover = session.get(User, record.requested_by_user_id)
            assert shop is not None and remover is not None
            for bc_id in json.loads(record.lost_bc_ids):
                bc = session.get(BusinessCenter, bc_id)
                assert bc is not None
                for address in bc_admin_emails(session, bc_id):
                    user = find_user(session, address)
                    rendered = emails.access_removed(
                        recipient_name=user.name if user else address,
                        bc_name=bc.name,
                        bc_id=bc.id,
                        shop_name=shop.name,
                        shop_code=shop.code,
                        removed_by=remover.email,
                        direct=bc_id == record.partner_bc_id,
                    )
                    jobs.append((f"removal:{record.id}:bc-{bc_id}:to:{address}", address, rendered))
        return PartnerEmailsSent(sent=sum(int(self._deliver(k, to, r)) for k, to, r in jobs))
