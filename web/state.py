"""What every route needs, built once per app and reached through ``request.app.state``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Engine

from models.settings import Settings
from service.links import LinkSigner
from service.requests import RequestService
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


@dataclass
class WebState:
    settings: Settings
    engine: Engine
    links: LinkSigner
    forms: FormTokens
    sessions: SessionCookies
    service: RequestService | None = None

    @property
    def requests(self) -> RequestService:
        if self.service is None:  # only before the lifespan has connected
            raise PageError(503, "Starting up", "The service is starting; try again shortly.")
        return self.service

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
