"""The link handler's composition root: the seller's pages (web/) and the ops API (api/,
mounted at /api/v1) over one shared ``ClientContext`` (client/context.py), so neither
package imports the other.

``create_app(settings)`` builds everything once: the store engine and, in the lifespan,
the Temporal client (``client.temporal.connect``, so TEMPORAL_ADDRESS and friends apply).
Tests inject their own client and engine.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from anyio import to_thread
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine
from starlette.exceptions import HTTPException as StarletteHTTPException
from temporalio.client import Client

from api.app import api_mount
from client.context import StartingUp
from client.invitation_links import InvitationLinks
from client.links import LinkSigner
from client.temporal import connect
from models.i18n import N_
from models.settings import Settings
from runtime import tracing
from runtime.heap import freeze_startup_heap
from runtime.http_metrics import instrument
from store.db import make_engine
from web import approval, end_date_pages, home, invitations, locale, partners
from web.rendering import STATIC, error_page
from web.security import FormTokens, SessionCookies
from web.state import PageError, WebState, starting_up


def create_app(
    settings: Settings, *, client: Client | None = None, engine: Engine | None = None
) -> FastAPI:
    owns_engine = engine is None
    store = engine if engine is not None else make_engine(settings.database_url)
    secret = settings.secret_keys  # the newest signs, all verify (key rotation)
    state = WebState(
        settings=settings,
        engine=store,
        links=LinkSigner(secret, settings.link_base_url),
        invitation_links=InvitationLinks(secret, settings.link_base_url),
        forms=FormTokens(secret),
        sessions=SessionCookies(secret),
    )
    if client is not None:
        state.connect(client)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Plain-def routes and run_in_threadpool draw on this limiter (settings.page_threads).
        to_thread.current_default_thread_limiter().total_tokens = settings.page_threads
        if state.service is None:
            state.connect(await connect(interceptors=tracing.temporal_interceptors()))
        freeze_startup_heap()
        try:
            yield
        finally:
            if owns_engine:
                store.dispose()

    app = FastAPI(
        title="Shop Access link handler",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.web = state
    observe(app, settings)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(approval.router)  # R7, R10, R12, R13: /approve/<token>
    app.include_router(partners.router)  # R15, R19: /partners, /signout
    app.include_router(end_date_pages.router)  # R23: /partners/<shop>/grants/<grant>/until
    app.include_router(invitations.router)  # R16, R17: /invitations/<token>
    app.include_router(home.router)  # /, /healthz, /readyz
    app.include_router(locale.router)  # R28: /language, the switcher
    app.router.routes.append(api_mount(state))  # the ops API at /api/v1 (docs/api.md)
    add_error_pages(app)
    # R28: each page's language, Vary: Accept-Language and Content-Language.
    app.add_middleware(locale.LocaleMiddleware)
    return app


def add_error_pages(app: FastAPI) -> None:
    """Every failure is a page in plain language (and changes nothing)."""

    @app.exception_handler(PageError)
    async def on_page_error(_request: Request, err: PageError) -> HTMLResponse:
        return error_page(err.status_code, err.title, err.message, hint=err.hint)

    @app.exception_handler(StartingUp)
    async def on_starting_up(_request: Request, _err: StartingUp) -> HTMLResponse:
        page = starting_up()
        return error_page(page.status_code, page.title, page.message)

    @app.exception_handler(StarletteHTTPException)
    async def on_http_error(_request: Request, err: StarletteHTTPException) -> HTMLResponse:
        if err.status_code == 404:
            return error_page(
                404,
                N_("Page not found"),
                N_("There is nothing at this address."),
                hint=N_("Open the link from your e-mail again."),
            )
        if err.status_code == 405:
            return error_page(405, N_("Not allowed"), N_("This address cannot be used that way."))
        return error_page(err.status_code, N_("Something went wrong"), str(err.detail))

    @app.exception_handler(RequestValidationError)
    async def on_bad_request(_request: Request, _err: RequestValidationError) -> HTMLResponse:
        return error_page(
            400, N_("This address is not valid"), N_("Open the link from your e-mail again.")
        )


def observe(app: FastAPI, settings: Settings) -> None:
    """Request metrics at /metrics (WEB_METRICS) and a server span per request when
    tracing is configured (OTEL_*): docs/operations.md, "Metrics, traces and logs"."""
    if settings.web_metrics:
        instrument(app)
    tracing.instrument_web(app)
