"""Activities of the access-end workflows (R23): the reminder e-mails (a grant's to the
BC's admins, an assignment's to its member) and the store's decision at the end date.
Each is one transaction or one delivery per recipient, and idempotent on its business key
(the grant or assignment, and its end date)."""

from __future__ import annotations

from sqlalchemy import Engine
from temporalio import activity

from activities import emails
from activities.delivery import Transport, build_message, deliver_once
from activities.mailer import PERMISSION_LABELS
from activities.refusals import refusals_as_errors
from client.language_links import LanguageLinks
from models import i18n
from models.end_date_messages import (
    EndAssignment,
    EndGrant,
    GrantEndOutcome,
    RemindAssignmentEnding,
    RemindEnding,
)
from models.names import EndDateName
from models.partner_messages import PartnerEmailsSent
from models.tables import BusinessCenter, Shop
from store import end_dates
from store.db import read_session, write_session
from store.people import bc_admin_emails, find_user


class EndDateActivities:
    def __init__(
        self,
        engine: Engine,
        transport: Transport,
        sender: str,
        *,
        languages: LanguageLinks | None = None,
    ) -> None:
        self._engine = engine
        self._transport = transport
        self._sender = sender
        # R28: the page where a reader picks their language, on one line of each e-mail,
        # signed for its recipient (client/language_links.py).
        self._languages = languages

    def _language_url(self, email: str) -> str:
        return self._languages.link(email) if self._languages is not None else ""

    @activity.defn(name=EndDateName.REMIND)
    @refusals_as_errors
    def remind(self, input: RemindEnding) -> PartnerEmailsSent:
        """Three days before: each admin of the BC, once per grant and end date (a changed
        date reminds again)."""
        jobs = []
        with read_session(self._engine) as session:
            grant = end_dates.ending_grant(session, input.grant_id, input.ends_at)
            if grant is None:
                return PartnerEmailsSent(sent=0)
            bc = session.get(BusinessCenter, grant.bc_id)
            shop = session.get(Shop, grant.shop_id)
            assert bc is not None and shop is not None
            for address in bc_admin_emails(session, bc.id):
                user = find_user(session, address)
                rendered = emails.access_ending(
                    recipient_name=user.name if user else address,
                    bc_name=bc.name,
                    bc_id=bc.id,
                    shop_name=shop.name,
                    shop_code=shop.code,
                    ends_at=input.ends_at,
                    timezone=bc.timezone,
                    # R28: the admin's saved language, else the BC's country.
                    locale=i18n.negotiate(
                        saved=user.preferred_language if user else None, market=bc.country
                    ),
                    switch_url=self._language_url(address),
                )
                key = f"until:grant-{grant.id}:{int(input.ends_at.timestamp())}:to:{address}"
                jobs.append((key, address, rendered))
        sent = 0
        for key, to, rendered in jobs:
            message = build_message(key=key, sender=self._sender, to=to, email=rendered)
            sent += int(deliver_once(self._engine, self._transport, message, key))
        return PartnerEmailsSent(sent=sent)

    @activity.defn(name=EndDateName.REMIND_ASSIGNMENT)
    @refusals_as_errors
    def remind_assignment(self, input: RemindAssignmentEnding) -> PartnerEmailsSent:
        """Three days before an assignment's end date: its holder, the member, once per
        assignment and end date (a changed date reminds again)."""
        with read_session(self._engine) as session:
            ending = end_dates.ending_assignment(session, input.assignment_id, input.ends_at)
        if ending is None:
            return PartnerEmailsSent(sent=0)
        rendered = emails.assignment_ending(
            recipient_name=ending.member_name,
            bc_name=ending.bc_name,
            bc_id=ending.bc_id,
            shop_name=ending.shop_name,
            shop_code=ending.shop_code,
            permission_label=PERMISSION_LABELS[ending.permission],
            ends_at=input.ends_at,
            admins=ending.admins,
            timezone=ending.timezone,
            locale=i18n.negotiate(saved=ending.language, market=ending.country),
            switch_url=self._language_url(ending.member_email),
        )
        to = ending.member_email
        key = f"until:assignment-{ending.assignment_id}:{int(input.ends_at.timestamp())}:to:{to}"
        message = build_message(key=key, sender=self._sender, to=to, email=rendered)
        sent = deliver_once(self._engine, self._transport, message, key)
        return PartnerEmailsSent(sent=int(sent))

    @activity.defn(name=EndDateName.END_GRANT)
    @refusals_as_errors
    def end_grant(self, input: EndGrant) -> GrantEndOutcome:
        with write_session(self._engine) as session:
            return end_dates.end_grant(session, grant_id=input.grant_id, ends_at=input.ends_at)

    @activity.defn(name=EndDateName.END_ASSIGNMENT)
    @refusals_as_errors
    def end_assignment(self, input: EndAssignment) -> GrantEndOutcome:
        with write_session(self._engine) as session:
            return end_dates.end_assignment(
                session, assignment_id=input.assignment_id, ends_at=input.ends_at
            )
