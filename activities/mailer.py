"""Mail activities: render an e-mail per recipient and deliver it once (R7, R8, R14)."""

from __future__ import annotations

from sqlalchemy import Engine
from sqlmodel import select
from temporalio import activity

from activities import emails
from activities.delivery import Transport, build_message, deliver_once
from models.enums import Permission, RequestMethod
from models.messages import EmailsSent, RequesterNotice, SendPersonalLink, SendRequestEmails
from models.names import Activity
from models.tables import AccessRequest, BusinessCenter, Shop, ShopGrant, User
from service.links import LinkSigner
from store.db import read_session
from store.people import normalise_email, team_members
from store.requests import GRANT_FOR_METHOD

PERMISSION_LABELS = {
    Permission.AD_PROMOTION: "Ad promotion permission (run Product Sales ads with the shop)",
    Permission.MANAGER: "Manager permission",
}


def permission_label(method: RequestMethod) -> str:
    _, permission = GRANT_FOR_METHOD[method]
    if method is RequestMethod.ADD_MY_SHOP:
        return "the Business Center becomes the shop's owner"
    return f"partner with {PERMISSION_LABELS[permission]}"


class MailActivities:
    def __init__(
        self, engine: Engine, transport: Transport, links: LinkSigner, sender: str
    ) -> None:
        self._engine = engine
        self._transport = transport
        self._links = links
        self._sender = sender

    @activity.defn(name=Activity.SEND_REQUEST_EMAILS)
    def send_request_emails(self, input: SendRequestEmails) -> EmailsSent:
        with read_session(self._engine) as session:
            request = session.get(AccessRequest, input.request_id)
            if request is None:
                raise ValueError(f"unknown request {input.request_id}")
            bc = session.get(BusinessCenter, request.bc_id)
            shop = session.get(Shop, request.shop_id)
            requester = session.get(User, request.requested_by_user_id)
            team = team_members(session, request.shop_id)
        assert bc and shop and requester
        sent = skipped = 0
        for user, _member in team:
            key = f"access_request:{request.id}:send:{input.seq}:to:{user.id}"
            rendered = emails.approval_request(
                recipient_name=user.name,
                bc_name=bc.name,
                bc_id=bc.id,
                requester=requester.email,
                shop_name=shop.name,
                shop_code=shop.code,
                method_label=request.method.label,
                permission_label=permission_label(request.method),
                link=self._links.personal_link(request.id, user.email),
                resend=input.seq > 1,
            )
            message = build_message(key=key, sender=self._sender, to=user.email, email=rendered)
            if deliver_once(self._engine, self._transport, message, key):
                sent += 1
            else:
                skipped += 1
        return EmailsSent(sent=sent, skipped=skipped)

    @activity.defn(name=Activity.SEND_PERSONAL_LINK)
    def send_personal_link(self, input: SendPersonalLink) -> EmailsSent:
        """R7/R13: a personal link for whoever asked through the copied link, if they are
        on the shop's team; anyone else gets nothing, and the asker is never told which."""
        email = normalise_email(input.email)
        with read_session(self._engine) as session:
            request = session.get(AccessRequest, input.request_id)
            if request is None:
                raise ValueError(f"unknown request {input.request_id}")
            bc = session.get(BusinessCenter, request.bc_id)
            shop = session.get(Shop, request.shop_id)
            requester = session.get(User, request.requested_by_user_id)
            member = next(
                (u for u, _m in team_members(session, request.shop_id) if u.email == email),
                None,
            )
        assert bc and shop and requester
        if member is None:
            return EmailsSent(sent=0, skipped=1)
        key = f"access_request:{request.id}:personal_link:{input.window}:to:{member.id}"
        rendered = emails.personal_link(
            recipient_name=member.name,
            bc_name=bc.name,
            bc_id=bc.id,
            requester=requester.email,
            shop_name=shop.name,
            shop_code=shop.code,
            method_label=request.method.label,
            permission_label=permission_label(request.method),
            link=self._links.personal_link(request.id, member.email),
        )
        message = build_message(key=key, sender=self._sender, to=member.email, email=rendered)
        sent = deliver_once(self._engine, self._transport, message, key)
        return EmailsSent(sent=int(sent), skipped=int(not sent))

    @activity.defn(name=Activity.NOTIFY_REQUESTER)
    def notify_requester(self, input: RequesterNotice) -> EmailsSent:
        with read_session(self._engine) as session:
            request = session.get(AccessRequest, input.request_id)
            if request is None:
                raise ValueError(f"unknown request {input.request_id}")
            bc = session.get(BusinessCenter, request.bc_id)
            shop = session.get(Shop, request.shop_id)
            requester = session.get(User, request.requested_by_user_id)
            approver = (
                session.get(User, request.decided_by_user_id)
                if request.decided_by_user_id
                else None
            )
            grant = session.exec(
                select(ShopGrant).where(ShopGrant.source_request_id == request.id)
            ).first()
        assert bc and shop and requester and grant
        key = f"access_request:{request.id}:{input.kind}:to:{requester.id}"
        rendered = emails.request_approved(
            recipient_name=requester.name,
            bc_name=bc.name,
            bc_id=bc.id,
            shop_name=shop.name,
            shop_code=shop.code,
            method_label=request.method.label,
            relationship=grant.relationship.value,
            permission_label=PERMISSION_LABELS[grant.permission],
            approved_by=approver.email if approver else "the shop's team",
        )
        message = build_message(key=key, sender=self._sender, to=requester.email, email=rendered)
        sent = deliver_once(self._engine, self._transport, message, key)
        return EmailsSent(sent=int(sent), skipped=int(not sent))
