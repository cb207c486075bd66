"""Fixtures for the link handler: the app over the real worker and dev server, an HTTP
client, a live uvicorn server in a thread (its own event loop and Temporal client, like
production), and headless Debian chromium through Playwright.

Browser tests skip with a reason when /usr/bin/chromium is missing, unless
REQUIRE_BROWSER=1 (CI), where they fail instead. Playwright never downloads a browser.
"""

from __future__ import annotations

import asyncio
import os
import re
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
import uvicorn
from fastapi import FastAPI
from sqlalchemy import Engine
from sqlmodel import func, select
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from client.access_requests import RequestService, Submitted
from client.links import LinkSigner
from client.temporal import connect
from linkhandler.app import create_app
from models.enums import RequestMethod
from models.settings import Settings
from models.tables import AccessRequest, AuditEvent, BusinessCenter, EmailDelivery, ShopGrant
from runtime.log_redaction import uvicorn_log_config
from store.db import read_session
from tests.conftest import AGENCY, ANA, WAIT_SECONDS, wait_until

CHROMIUM = Path("/usr/bin/chromium")
REQUIRE_BROWSER = os.environ.get("REQUIRE_BROWSER") == "1"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture()
def web_port() -> int:
    return free_port()


@pytest.fixture()
def settings(settings: Settings, web_port: int) -> Settings:
    """The conftest settings, with links pointing at this test's own web server."""
    return settings.model_copy(update={"link_base_url": f"http://127.0.0.1:{web_port}"})


@pytest.fixture()
def app(settings: Settings, demo: Engine, client: Client, worker: Any) -> FastAPI:
    return create_app(settings, client=client, engine=demo)


@pytest_asyncio.fixture(loop_scope="session")
async def http(app: FastAPI, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The app in this event loop (the worker's), spoken to over ASGI."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url=settings.link_base_url, follow_redirects=False
    ) as http_client:
        yield http_client


# --- helpers -------------------------------------------------------------------------------


def links(settings: Settings) -> LinkSigner:
    return LinkSigner(settings.secret_key.get_secret_value(), settings.link_base_url)


def personal_path(settings: Settings, request_id: str, email: str) -> str:
    return "/approve/" + links(settings).token(request_id, email)


def copy_path(settings: Settings, request_id: str) -> str:
    return "/approve/" + links(settings).token(request_id)


async def submit(
    service: RequestService,
    shop_code: str,
    *,
    method: RequestMethod = RequestMethod.REQUEST_ACCESS,
    bc_id: int = AGENCY,
    by: str = ANA,
) -> Submitted:
    """Ask for access as the agency would, and wait until the team's e-mails are out, so a
    test's before/after snapshots see only what the page did."""
    from models.messages import RequestState
    from models.names import Message

    submitted = await service.submit(method=method, bc_id=bc_id, shop_code=shop_code, by=by)
    handle = service.client.get_workflow_handle(submitted.workflow_id)

    async def first_email_sent() -> bool:
        state = await handle.query(Message.STATE, result_type=RequestState)
        return state.first_email_sent

    await wait_until(first_email_sent, what="the request's first e-mails sent")
    return submitted


def csrf_in(html: str, kind: str = "approve") -> str:
    """The csrf value of a page's form: ``approve`` (POST /approve/<token>), ``signin``,
    ``personal-link``, or ``signout``."""
    for form in re.findall(r"<form\b.*?</form>", html, flags=re.S):
        action = re.search(r'action="([^"]*)"', form)
        if action is None:
            continue
        target = action.group(1)
        matches = (
            re.fullmatch(r"/approve/[^/]+", target) is not None
            if kind == "approve"
            else target.endswith("/" + kind)
        )
        found = re.search(r'name="csrf" value="([^"]+)"', form)
        if matches and found:
            return found.group(1)
    raise AssertionError(f"no {kind!r} form with a csrf field on the page")


@dataclass(frozen=True)
class StoreSnapshot:
    """What a refused or read-only page must leave exactly as it was."""

    requests: tuple[tuple[str, str], ...]
    grants: int
    business_centers: int
    audit_events: int
    emails: int


def snapshot(engine: Engine) -> StoreSnapshot:
    with read_session(engine) as session:
        rows = session.exec(select(AccessRequest.id, AccessRequest.status)).all()

        def count(table: Any) -> int:
            return int(session.exec(select(func.count()).select_from(table)).one())

        return StoreSnapshot(
            requests=tuple(sorted((i, str(s)) for i, s in rows)),
            grants=count(ShopGrant),
            business_centers=count(BusinessCenter),
            audit_events=count(AuditEvent),
            emails=count(EmailDelivery),
        )


# --- a live server and a browser --------------------------------------------------------------


class LiveServer:
    """uvicorn serving the app in a thread with its own loop and Temporal client."""

    def __init__(self, settings: Settings, engine: Engine, target_host: str, namespace: str):
        self.settings = settings
        self.engine = engine
        self.target_host = target_host
        self.namespace = namespace
        self.port = int(settings.link_base_url.rsplit(":", 1)[1])
        self.url = settings.link_base_url
        self._server: uvicorn.Server | None = None
        self._thread = threading.Thread(target=self._run, name="web-live-server", daemon=True)
        self._error: BaseException | None = None

    def _run(self) -> None:
        async def serve() -> None:
            client = await connect(target_host=self.target_host, namespace=self.namespace)
            app = create_app(self.settings, client=client, engine=self.engine)
            config = uvicorn.Config(
                app, host="127.0.0.1", port=self.port, log_config=uvicorn_log_config(app),
                lifespan="on",
            )  # fmt: skip
            self._server = uvicorn.Server(config)
            await self._server.serve()

        try:
            asyncio.run(serve())
        except BaseException as err:  # reported by start()
            self._error = err

    def start(self) -> None:
        self._thread.start()
        # A bound on a loaded machine, not a speed requirement: it returns once started.
        deadline = time.monotonic() + WAIT_SECONDS
        while time.monotonic() < deadline:
            if self._error is not None:
                raise RuntimeError("the live server failed to start") from self._error
            if self._server is not None and self._server.started:
                return
            time.sleep(0.05)
        raise RuntimeError(f"the live server did not start within {WAIT_SECONDS:.0f} s")

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        self._thread.join(timeout=15)


@pytest.fixture()
def live_server(
    settings: Settings, demo: Engine, temporal_env: WorkflowEnvironment, worker: Any
) -> Iterator[LiveServer]:
    config = temporal_env.client.service_client.config
    server = LiveServer(settings, demo, config.target_host, temporal_env.client.namespace)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def browser() -> AsyncIterator[Any]:
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing (apt-get install chromium)"
        if REQUIRE_BROWSER:
            pytest.fail(reason + " and REQUIRE_BROWSER=1")
        pytest.skip(reason)
    from playwright.async_api import async_playwright

    playwright = await async_playwright().start()
    launched = await playwright.chromium.launch(
        executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
    )
    try:
        yield launched
    finally:
        await launched.close()
        await playwright.stop()


@pytest_asyncio.fixture(loop_scope="session")
async def page(browser: Any) -> AsyncIterator[Any]:
    context = await browser.new_context(viewport={"width": 1000, "height": 800})
    tab = await context.new_page()
    tab.set_default_timeout(15_000)
    try:
        yield tab
    finally:
        await context.close()


async def screenshot(tab: Any, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    await tab.screenshot(path=str(path), full_page=True)
    return path
