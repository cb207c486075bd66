"""What every route needs, built once per app and reached through ``request.app.state``.

The services are made once: at ``create_app`` when a client is injected (the tests), else
in the app's lifespan, which connects to Temporal (``WebState.connect``). Routes never
build a service per request.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Engine
from temporalio.client import Client

from client.access_requests import RequestService
from client.invitation_links import InvitationLinks
from client.links import LinkSigner
from client.partners import PartnerService
from models.i18n import N_
from models.settings import Settings
from store import sessions
from web.security import FormTokens, SessionCookies


class PageError(Exception):
    """Ends a request with a plain-language error page (and changes nothing)."""

    def __init__(self, status_code: int, title: str, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.status_code = status_code
        self.title = title
        self.message = message
        self.hint = hint


def _starting_up() -> PageError:
    return PageError(503, N_("Starting up"), N_("The service is starting; try again shortly."))


@dataclass
class WebState:
    settings: Settings
    engine: Engine
    links: LinkSigner
    invitation_links: InvitationLinks
    forms: FormTokens
    sessions: SessionCookies
    service: RequestService | None = None
    partner_service: PartnerService | None = None

    def connect(self, client: Client) -> None:
        """Build the services over ``client``: once, at start-up."""
        self.service = RequestService(
            client,
            self.engine,
            self.settings.task_queue,
            reminder_days=self.settings.reminder_days,
        )
        self.partner_service = PartnerService(client, self.engine, self.settings.task_queue)

    @property
    def requests(self) -> RequestService:
        if self.service is None:  # only before the lifespan has connected
            raise _starting_up()
        return self.service

    @property
    def partners(self) -> PartnerService:
        if self.partner_service is None:  # only before the lifespan has connected
            raise _starting_up()
        return self.partner_service

    def signed_in(self, cookie: str | None) -> str | None:
        """The e-mail of the open server-side session the cookie names, else None."""
        session_id = self.sessions.load(cookie)
        return sessions.email_of(self.engine, session_id) if session_id else None

    @property
    def secure_cookies(self) -> bool:
        return self.settings.link_base_url.startswith("https://")


def web_state(request: Request) -> WebState:
    state: WebState = request.app.state.web
    return state


State = Annotated[WebState, Depends(web_state)]
"""A route's parameter type for the app's WebState."""
