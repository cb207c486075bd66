"""Mail activities: render an e-mail per recipient and deliver it once (R7, R8, R14)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine
from temporalio import activity

from activities import emails
from activities.delivery import RenderedEmail, Transport, build_message, deliver_once
from client.links import LinkSigner
from models import i18n
from models.enums import Permission, RequestMethod, RequestStatus
from models.i18n import N_
from models.messages import (
    EmailsSent,
    RequesterNotice,
    SendPersonalLink,
    SendReminder,
    SendRequestEmails,
)
from models.names import Activity
from models.tables import User
from store.db import read_session
from store.deliveries import delivered
from store.grants import GRANT_FOR_METHOD
from store.mail_context import RequestContext, approval_of, request_context, team_member
from store.people import team_members, user_email

# English marked for the catalogue (N_); the e-mail templates show them translated (R28).
PERMISSION_LABELS = {
    Permission.AD_PROMOTION: N_("Ad promotion permission (run Product Sales ads with the shop)"),
    Permission.MANAGER: N_("Manager permission"),
}
# What approving gives, per permission of a partner grant: whole phrases for translators.
PARTNER_LABELS = {
    Permission.AD_PROMOTION: N_(
        "partner with Ad promotion permission (run Product Sales ads with the shop)"
    ),
    Permission.MANAGER: N_("partner with Manager permission"),
}
# Translators: who approved or declined, when the service cannot name the person.
SHOP_TEAM = N_("the shop's team")


def permission_label(method: RequestMethod) -> str:
    _, permission = GRANT_FOR_METHOD[method]
    if method is RequestMethod.ADD_MY_SHOP:
        return N_("the Business Center becomes the shop's owner")
    return PARTNER_LABELS[permission]


def reader_language(user: User, market: str | None) -> str:
    """R28: the recipient's saved language, else their market's: the shop's for its team,
    the BC's country for a BC's people; else English."""
    return i18n.negotiate(saved=user.preferred_language, market=market)


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
            context = request_context(session, input.request_id)
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
                locale=reader_language(user, context.shop.location),
                switch_url=self._links.language_link(user.email),
                **_approval_fields(context),
            )
            sent += int(self._deliver(key, user.email, rendered))
        return EmailsSent(sent=sent, skipped=len(team) - sent)

    @activity.defn(name=Activity.SEND_PERSONAL_LINK)
    def send_personal_link(self, input: SendPersonalLink) -> EmailsSent:
        """R7/R13: a personal link for whoever asked through the copied link, if they are
        (still) on the shop's team; anyone else gets nothing, and the asker is never told
        which."""
        with read_session(self._engine) as session:
            context = request_context(session, input.request_id)
            member = team_member(session, context.request.shop_id, member_id=input.member_id)
        if member is None:
            return EmailsSent(sent=0, skipped=1)
        rendered = emails.personal_link(
            recipient_name=member.name,
            link=self._links.personal_link(context.request.id, member.email),
            locale=reader_language(member, context.shop.location),
            switch_url=self._links.language_link(member.email),
            **_approval_fields(context),
        )
        key = f"access_request:{context.request.id}:personal_link:{input.window}:to:{member.id}"
        sent = self._deliver(key, member.email, rendered)
        return EmailsSent(sent=int(sent), skipped=int(not sent))

    @activity.defn(name=Activity.NOTIFY_REQUESTER)
    def notify_requester(self, input: RequesterNotice) -> EmailsSent:
        if input.kind == "declined":
            return self._notify_declined(input.request_id)
        with read_session(self._engine) as session:
            context = request_context(session, input.request_id)
            request = context.request
            # The grant this approval wrote, and who approved (R14).
            granted = approval_of(session, request.id)
            requester = context.requester
            key = f"access_request:{request.id}:{input.kind}:to:{requester.id}"
            if delivered(session, [key]):
                return EmailsSent(sent=0, skipped=1)
        assert granted is not None
        rendered = emails.request_approved(
            recipient_name=requester.name,
            bc_name=context.bc.name,
            bc_id=context.bc.id,
            shop_name=context.shop.name,
            shop_code=context.shop.code,
            method_label=request.method.label,
            relationship=granted.relationship.value,
            permission_label=PERMISSION_LABELS[granted.permission],
            approved_by=granted.approved_by or SHOP_TEAM,
            locale=reader_language(requester, context.bc.country),
            switch_url=self._links.language_link(requester.email),
        )
        sent = self._deliver(key, requester.email, rendered)
        return EmailsSent(sent=int(sent), skipped=int(not sent))

    @activity.defn(name=Activity.SEND_REMINDER)
    def send_reminder(self, input: SendReminder) -> EmailsSent:
        """R25: remind every member of the shop's team, with their personal link, while the
        request is still pending; a decision that landed meanwhile sends nothing."""
        with read_session(self._engine) as session:
            context = request_context(session, input.request_id)
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
                locale=reader_language(user, context.shop.location),
                switch_url=self._links.language_link(user.email),
                **_approval_fields(context),
            )
            sent += int(self._deliver(key, user.email, rendered))
        return EmailsSent(sent=sent, skipped=len(team) - sent)

    def _notify_declined(self, request_id: str) -> EmailsSent:
        """R22: tell the requester the shop's team declined, and why if they said."""
        with read_session(self._engine) as session:
            context = request_context(session, request_id)
            request, requester = context.request, context.requester
            decider = (
                user_email(session, user_id=request.decided_by_user_id)
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
            declined_by=decider or SHOP_TEAM,
            reason=request.decline_reason,
            locale=reader_language(requester, context.bc.country),
            switch_url=self._links.language_link(requester.email),
        )
        sent = self._deliver(key, requester.email, rendered)
        return EmailsSent(sent=int(sent), skipped=int(not sent))

    def _deliver(self, key: str, to: str, rendered: RenderedEmail) -> bool:
        """Claim, send and mark ``key`` (activities.delivery.deliver_once); False if it
        needed no sending or the recipient's server refused it for good."""
        message = build_message(key=key, sender=self._sender, to=to, email=rendered)
        return deliver_once(self._engine, self._transport, message, key)


def _approval_fields(context: RequestContext) -> dict[str, Any]:
    """The fields shared by the e-mails that carry an approval link (R7)."""
    return {
        "bc_name": context.bc.name,
        "bc_id": context.bc.id,
        "requester": context.requester.email,
        "shop_name": context.shop.name,
        "shop_code": context.shop.code,
        "method_label": context.request.method.label,
        "permission_label": permission_label(context.request.method),
    }
