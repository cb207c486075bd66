"""linkhandler/: the root that composes the seller's pages and the ops API over one shared
client context (docs/decisions.md, "The link handler is composed at `linkhandler/`")."""

from __future__ import annotations

import httpx
from fastapi import FastAPI, Request
from sqlalchemy import Engine
from starlette.routing import Mount

from client.context import ClientContext
from linkhandler.app import create_app
from models.settings import Settings
from web.state import WebState


async def test_a_page_before_start_up_says_starting_up(settings: Settings, demo: Engine) -> None:
    """Before the lifespan reached Temporal, a page that needs a service is the 503
    "Starting up" page, not a traceback (ASGITransport runs no lifespan)."""
    app = create_app(settings, engine=demo)

    @app.get("/needs-the-request-service")
    def needs(request: Request) -> str:
        return str(request.app.state.web.requests)

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
        page = await http.get("/needs-the-request-service")
    assert page.status_code == 503
    assert "The service is starting; try again shortly." in page.text


def test_the_pages_and_the_api_share_one_context(settings: Settings, demo: Engine) -> None:
    app = create_app(settings, engine=demo)
    pages = app.state.web
    assert isinstance(pages, WebState) and isinstance(pages, ClientContext)
    (api,) = [r.app for r in app.routes if isinstance(r, Mount) and r.path == "/api/v1"]
    assert isinstance(api, FastAPI)
    assert api.state.context is pages  # one engine, one set of services for both
