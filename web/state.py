"""What every page needs, built once per app and reached through ``request.app.state``:
the shared ``ClientContext`` (client/context.py: settings, engine, link signers, the
services) plus what only the seller's pages use (form tokens, session cookies).

Routes never build a service per request.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from client.context import ClientContext
from models.i18n import N_
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


def starting_up() -> PageError:
    """The page for a request that arrives before the process reached Temporal."""
    return PageError(503, N_("Starting up"), N_("The service is starting; try again shortly."))


@dataclass(kw_only=True)
class WebState(ClientContext):
    forms: FormTokens
    sessions: SessionCookies

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
