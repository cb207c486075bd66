"""Mail activities: render an e-mail per recipient and deliver it once (R7, R8, R14)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, bindparam
from sqlmodel import Session, select
from temporalio import activity

from activities import emails
from activities.delivery import RenderedEmail, Transport, build_message, deliver_once, delivered
from models.enums import Permission, Relationship, RequestMethod, RequestStatus
from models.messages import (
    EmailsSent,
    RequesterNotice,
    SendPersonalLink,
    SendReminder,
    SendRequestEmails,
)
from models.names import Activity
from models.tables import AccessRequest, BusinessCenter, Shop, ShopGrant, User
from service.links import LinkSigner
from store.db import read_session
from store.grants import GRANT_FOR_METHOD
from store.people import normalise_email, team_members

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
            context = _RequestContext.load(session, input.request_id)
            team = [
                (user, f"access_request:{input.request_id}:send:{input.seq}:to:{user.id}")
                for user, _member in team_members(session, context.request.shop_id)
            ]
            done = delivered(session, (key for _user, key in team))
        sent = 0
        for user, key in team:
            if key in done:
                continue
            rendered = emails.approval_request(
                recipient_name=user.name,
                link=self._links.personal_link(context.request.id, user.email),
                resend=input.seq > 1,
                **context.approval_fields(),
            )
            sent += int(self._deliver(key, user.email, rendered))
        return EmailsSent(sent=sent, skipped=len(team) - sent)

    @activity.defn(name=Activity.SEND_PERSONAL_LINK)
    def send_personal_link(self, input: SendPersonalLink) -> EmailsSent:
        """R7/R13: a personal link for whoever asked through the copied link, if they are
        (still) on the shop's team; anyone else gets nothing, and the asker is never told
        which."""
        email = normalise_email(input.email) if input.email else None

        def asked_for(user: User) -> bool:
            if input.member_id is not None:
                return user.id == input.member_id
            return user.email == email  # an ask recorded before member ids

        with read_session(self._engine) as session:
            context = _RequestContext.load(session, input.request_id)
            team = team_members(session, context.request.shop_id)
            member = next((u for u, _m in team if asked_for(u)), None)
        if member is None:
            return EmailsSent(sent=0, skipped=1)
        rendered = emails.personal_link(
            recipient_name=member.name,
            link=self._links.personal_link(context.request.id, member.email),
            **context.approval_fields(),
        )
        key = f"access_request:{context.request.id}:personal_link:{input.window}:to:{member.id}"
        sent = self._deliver(key, member.email, rendered)
        return EmailsSent(sent=int(sent), skipped=int(not sent))

    @activity.defn(name=Activity.NOTIFY_REQUESTER)
    def notify_requester(self, input: RequesterNotice) -> EmailsSent:
        if input.kind == "declined":
            return self._notify_declined(input.request_id)
        with read_session(self._engine) as session:
            context = _RequestContext.load(session, input.request_id)
            request = context.request
            # The grant this approval wrote, and who approved (R14).
            granted = session.exec(_GRANTED, params={"request_id": request.id}).first()
            requester = context.requester
            key = f"access_request:{request.id}:{input.kind}:to:{requester.id}"
            if delivered(session, [key]):
                return EmailsSent(sent=0, skipped=1)
        assert granted is not None
        relationship, permission, approved_by = granted
        rendered = emails.request_approved(
            recipient_name=requester.name,
            bc_name=context.bc.name,
            bc_id=context.bc.id,
            shop_name=context.shop.name,
            shop_code=context.shop.code,
            method_label=request.method.label,
            relationship=Relationship(relationship).value,
            permission_label=PERMISSION_LABELS[Permission(permission)],
            approved_by=approved_by or "the shop's team",
        )
        sent = self._deliver(key, requester.email, rendered)
        return EmailsSent(sent=int(sent), skipped=int(not sent))

    @activity.defn(name=Activity.SEND_REMINDER)
    def send_reminder(self, input: SendReminder) -> EmailsSent:
        """R25: remind every member of the shop's team, with their personal link, while the
        request is still pending; a decision that landed meanwhile sends nothing."""
        with read_session(self._engine) as session:
            context = _RequestContext.load(session, input.request_id)
            if context.request.status is not RequestStatus.PENDING:
                return EmailsSent(sent=0)
            team = [
                (
                    user,
                    f"access_request:{input.request_id}:reminder:{input.seq}:{input.n}"
                    f":to:{user.id}",
                )
                for user, _member in team_members(session, context.request.shop_id)
            ]
            done = delivered(session, (key for _user, key in team))
        sent = 0
        for user, key in team:
            if key in done:
                continue
            rendered = emails.request_reminder(
                recipient_name=user.name,
                link=self._links.personal_link(context.request.id, user.email),
                waited_days=input.waited_days,
                **context.approval_fields(),
            )
            sent += int(self._deliver(key, user.email, rendered))
        return EmailsSent(sent=sent, skipped=len(team) - sent)

    def _notify_declined(self, request_id: str) -> EmailsSent:
        """R22: tell the requester the shop's team declined, and why if they said."""
        with read_session(self._engine) as session:
            context = _RequestContext.load(session, request_id)
            request, requester = context.request, context.requester
            decider = (
                session.get(User, request.decided_by_user_id)
                if request.decided_by_user_id is not None
                else None
            )
            key = f"access_request:{request.id}:declined:to:{requester.id}"
            if delivered(session, [key]):
                return EmailsSent(sent=0, skipped=1)
        rendered = emails.request_declined(
            recipient_name=requester.name,
            bc_name=context.bc.name,
            bc_id=context.bc.id,
            shop_name=context.shop.name,
            shop_code=context.shop.code,
            method_label=request.method.label,
            declined_by=decider.email if decider else "the shop's team",
            reason=request.decline_reason,
        )
        sent = self._deliver(key, requester.email, rendered)
        return EmailsSent(sent=int(sent), skipped=int(not sent))

    def _deliver(self, key: str, to: str, rendered: RenderedEmail) -> bool:
        """Claim, send and mark ``key`` (activities.delivery.deliver_once); False if it
        needed no sending or the recipient's server refused it for good."""
        message = build_message(key=key, sender=self._sender, to=to, email=rendered)
        return deliver_once(self._engine, self._transport, message, key)


_CONTEXT = (
    select(AccessRequest, BusinessCenter, Shop, User)
    .join(BusinessCenter, BusinessCenter.id == AccessRequest.bc_id)  # type: ignore[arg-type]
    .join(Shop, Shop.id == AccessRequest.shop_id)  # type: ignore[arg-type]
    .join(User, User.id == AccessRequest.requested_by_user_id)  # type: ignore[arg-type]
    .where(AccessRequest.id == bindparam("request_id"))
)


_GRANTED = (
    select(ShopGrant.relationship, ShopGrant.permission, User.email)
    .join(AccessRequest, AccessRequest.id == ShopGrant.source_request_id)  # type: ignore[arg-type]
    .outerjoin(User, User.id == AccessRequest.decided_by_user_id)  # type: ignore[arg-type]
    .where(ShopGrant.source_request_id == bindparam("request_id"))
)


@dataclass(frozen=True)
class _RequestContext:
    """What every e-mail about a request shows: the request, its BC, shop and requester."""

    request: AccessRequest
    bc: BusinessCenter
    shop: Shop
    requester: User

    @classmethod
    def load(cls, session: Session, request_id: str) -> _RequestContext:
        row = session.exec(_CONTEXT, params={"request_id": request_id}).first()
        if row is None:
            raise ValueError(f"unknown request {request_id}")
        return cls(*row)

    def approval_fields(self) -> dict[str, Any]:
        """The fields shared by the e-mails that carry an approval link (R7)."""
        return {
            "bc_name": self.bc.name,
            "bc_id": self.bc.id,
            "requester": self.requester.email,
            "shop_name": self.shop.name,
            "shop_code": self.shop.code,
            "method_label": self.request.method.label,
            "permission_label": permission_label(self.request.method),
        }
