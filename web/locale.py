"""Which language a page is in (R28), and the switcher that changes it.

``LocaleMiddleware`` negotiates once per page request from what the request alone says
(the anonymous visitor's cookie, then Accept-Language), then a route that knows who is
reading or which shop the page is about refines it (``refine``: the person's saved choice
first, the shop's market after the browser). Every page answers with
``Vary: Accept-Language`` and ``Content-Language``. The ops API at /api is left alone:
it stays English with stable codes.

``POST /language`` saves a choice: in a cookie always, and on the person when the page it
came from names them (a signed-in session, the personal link being read, or the e-mail's
language link ``/language/<token>``, signed for its recipient).
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from models import i18n
from store.people import page_reader, remember_language
from web.security import SESSION_COOKIE
from web.state import PageError, State, WebState

LANGUAGE_COOKIE = "shop_access_lang"
COOKIE_MAX_AGE = 365 * 24 * 3600


@dataclass
class Choice:
    """The request's language; mutable, so a route running in a worker thread can refine
    it and the middleware still sees the final one for Content-Language."""

    locale: str = i18n.DEFAULT
    cookie: str | None = None
    accept_language: str | None = None
    path: str = "/"
    query: str = ""
    # The IANA timezone the page's times are shown in (R28); None: UTC.
    timezone: str | None = None
    refined: dict[str, str | None] = field(default_factory=dict)


_CHOICE: ContextVar[Choice | None] = ContextVar("shop_access_language", default=None)


def current() -> str:
    """The language of the page being rendered (English outside a request)."""
    choice = _CHOICE.get()
    return choice.locale if choice is not None else i18n.DEFAULT


def timezone() -> str | None:
    """The timezone of the page being rendered: the approving BC's or the shop's."""
    choice = _CHOICE.get()
    return choice.timezone if choice is not None else None


def here() -> str:
    """The path and query of the page being rendered: where the switcher comes back to."""
    choice = _CHOICE.get()
    if choice is None:
        return "/"
    return choice.path + (f"?{choice.query}" if choice.query else "")


def say(message: str, **values: object) -> str:
    """``message`` (English marked with N_) in the page's language, its ``%(name)s``
    placeholders filled: for sentences made in Python with data in them."""
    return i18n.gettext(current(), message) % values


def refine(
    state: WebState,
    *,
    email: str | None = None,
    shop_code: str | None = None,
    bc_id: int | None = None,
) -> str:
    """R28 for a page that knows its reader or its shop: the person's saved choice, else
    the cookie, else Accept-Language, else the shop's market, else English. Its times are
    then shown in the approving BC's (``bc_id``) or the shop's timezone."""
    choice = _CHOICE.get()
    if choice is None:
        return i18n.DEFAULT
    saved = market = None
    if email or shop_code:
        saved, market, choice.timezone = page_reader(
            state.engine, email=email, shop_code=shop_code, bc_id=bc_id
        )
    choice.locale = i18n.negotiate(
        saved=saved if i18n.is_known(saved) else choice.cookie,
        accept_language=choice.accept_language,
        market=market,
    )
    return choice.locale


class LocaleMiddleware:
    """Negotiates each page request's language and labels the answer (pure ASGI: no
    per-request task, unlike BaseHTTPMiddleware)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or str(scope["path"]).startswith(("/api/", "/static/")):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        cookie = _cookie(headers.get("cookie", ""))
        choice = Choice(
            cookie=cookie if i18n.is_known(cookie) else None,
            accept_language=headers.get("accept-language"),
            path=str(scope["path"]),
            query=scope.get("query_string", b"").decode("latin-1"),
        )
        choice.locale = i18n.negotiate(saved=choice.cookie, accept_language=choice.accept_language)

        async def labelled(message: Message) -> None:
            if message["type"] == "http.response.start":
                out = MutableHeaders(scope=message)
                vary = out.get("vary")
                if vary is None:
                    out["Vary"] = "Accept-Language"
                elif "accept-language" not in vary.lower():
                    out["Vary"] = f"{vary}, Accept-Language"
                if out.get("content-type", "").startswith("text/html"):
                    out["Content-Language"] = i18n.tag(choice.locale)
            await send(message)

        token = _CHOICE.set(choice)
        try:
            await self.app(scope, receive, labelled)
        finally:
            _CHOICE.reset(token)


def _cookie(header: str) -> str | None:
    for part in header.split(";"):
        name, _, value = part.strip().partition("=")
        if name == LANGUAGE_COOKIE:
            return value.strip() or None
    return None


# --- the switcher ----------------------------------------------------------------------

router = APIRouter()


class LanguageForm(BaseModel):
    language: str = ""
    next: str = "/"


def _safe_next(raw: str) -> str:
    """Back to a page of this site only: a path, never another host (no open redirect)."""
    parts = urlsplit(raw)
    if parts.scheme or parts.netloc or not raw.startswith("/") or raw.startswith("//"):
        return "/"
    if "\\" in raw:
        return "/"
    return raw


def _reader(request: Request, state: WebState, back: str) -> str | None:
    """Who the page the choice came from was for: the signed-in person, or the reader of
    the personal approval link or invitation link it shows."""
    email = state.signed_in(request.cookies.get(SESSION_COOKIE))
    if email:
        return email
    path = urlsplit(back).path
    if path.startswith("/approve/"):
        # A bad link names nobody (the cookie still applies); a copied link, no person.
        claims = state.links.verify(path.removeprefix("/approve/").split("/", 1)[0])
        return claims.email if claims is not None and claims.email else None
    if path.startswith("/language/"):
        # The e-mail's language link, signed for its recipient (client/language_links.py).
        return state.links.language_reader(path.removeprefix("/language/").split("/")[0])
    if path.startswith("/invitations/"):
        invited = state.invitation_links.verify(path.removeprefix("/invitations/").split("/")[0])
        return invited.email if invited is not None and invited.email else None
    return None


@router.get("/language", response_class=HTMLResponse)
def language_page() -> HTMLResponse:
    """The switcher on its own page: e-mails link here (GET shows, POST acts)."""
    from web.rendering import page

    return page("language.html")


@router.get("/language/{token}", response_class=HTMLResponse)
def language_page_for(token: str, state: State) -> HTMLResponse:
    """The switcher from an e-mail's language link: a choice made here is saved on the
    recipient it names (R28). A forged or altered link is refused and shows no switcher."""
    from web.rendering import page

    if state.links.language_reader(token) is None:
        raise PageError(
            400,
            i18n.N_("This link is not valid"),
            i18n.N_(
                "The link is incomplete or has been changed, so it cannot be used. Nothing was "
                "changed."
            ),
        )
    return page("language.html")


@router.post("/language")
def choose_language(
    form: Annotated[LanguageForm, Form()], request: Request, state: State
) -> Response:
    """Save the reader's language (R28); an unknown one is refused and nothing is saved."""
    if form.language not in i18n.KNOWN:
        raise PageError(
            400,
            i18n.N_("Unknown language"),
            i18n.N_("Pick one of the languages listed on the page."),
        )
    back = _safe_next(form.next)
    email = _reader(request, state, back)
    if email:
        remember_language(state.engine, email, form.language)
    response = RedirectResponse(back, status_code=303)
    response.set_cookie(
        LANGUAGE_COOKIE,
        form.language,
        max_age=COOKIE_MAX_AGE,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    return response
