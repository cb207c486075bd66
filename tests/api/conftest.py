"""Fixtures for the ops HTTP API (R26, docs/api.md): the link handler's app over the
real worker and dev server (the web tests' fixtures), and tokens made as ops make them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from sqlalchemy import Engine

from models.settings import Settings
from store import api_tokens
from store.api_tokens import Scope
from store.db import write_session
from tests.web import conftest as web

# The web tests' fixtures, for these tests too: the app over the real worker and server.
app = web.app
http = web.http
live_server = web.live_server
settings = web.settings
web_port = web.web_port

BASE = "/api/v1"


@dataclass(frozen=True)
class Token:
    id: str
    secret: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.secret}"}


def make_token(engine: Engine, *scopes: Scope, name: str = "test") -> Token:
    with write_session(engine) as session:
        token, secret = api_tokens.create_token(session, name=name, scopes=set(scopes))
    return Token(token.id, secret)


@pytest.fixture()
def act_token(demo: Engine) -> Token:
    return make_token(demo, Scope.ACT, name="ops robot")


@pytest.fixture()
def read_token(demo: Engine) -> Token:
    return make_token(demo, Scope.READ, name="dashboard")


@pytest_asyncio.fixture(loop_scope="session")
async def api(
    app: FastAPI, settings: Settings, act_token: Token
) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client for /api/v1 carrying an ``act`` token."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url=settings.link_base_url + BASE, headers=act_token.headers
    ) as client:
        yield client


def error_of(response: httpx.Response) -> tuple[int, str]:
    """The status and error code of a refusal, checking the contract's shape."""
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "details"}, body
    assert body["error"]["message"], body
    return response.status_code, body["error"]["code"]
