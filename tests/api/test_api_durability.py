"""Retries of the ops API's POSTs do nothing twice (issue 12 item 1, R6), across
processes and across a worker outage: the key is claimed in the store, and an answer that
was a fault is not kept, so the retry runs again and meets the first attempt's work."""

from __future__ import annotations

import asyncio
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Engine
from sqlmodel import func, select
from temporalio.client import Client

from models.settings import Settings
from models.tables import AccessRequest, ApiIdempotency, Shop
from store.api_tokens import Scope
from store.db import read_session
from tests.api.conftest import BASE, Token, error_of, make_token
from tests.conftest import AGENCY, ANA, S1_SHOP
from web.app import create_app

pytestmark = pytest.mark.asyncio(loop_scope="session")

ASK = {"bc_id": AGENCY, "shop_code": S1_SHOP, "as": ANA}


def requests_for_shop(engine: Engine, code: str) -> int:
    with read_session(engine) as session:
        return int(
            session.exec(
                select(func.count())
                .select_from(AccessRequest)
                .join(Shop, Shop.id == AccessRequest.shop_id)  # type: ignore[arg-type]
                .where(Shop.code == code)
            ).one()
        )


def client_of(app: FastAPI, settings: Settings, token: Token) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url=settings.link_base_url + BASE,
        headers={**token.headers, "Idempotency-Key": "crm-retry-1"},
    )


async def test_one_key_raced_through_two_app_processes_asks_once(
    app: FastAPI, settings: Settings, demo: Engine, client: Client, act_token: Token
) -> None:
    """Two link handlers (two apps over one store) get the same keyed POST at once: one
    runs it, the other answers the first call's answer or says it is still running; one
    request exists either way."""
    other = create_app(settings, client=client, engine=demo)
    async with (
        client_of(app, settings, act_token) as one,
        client_of(other, settings, act_token) as two,
    ):
        first, second = await asyncio.gather(
            one.post("/requests", json=ASK), two.post("/requests", json=ASK)
        )
    answers = sorted([first, second], key=lambda r: r.status_code)
    assert answers[0].status_code == 201, answers[0].text
    if answers[1].status_code == 201:  # the loser came after the winner had answered
        assert answers[1].content == answers[0].content
        assert answers[1].headers["idempotent-replayed"] == "true"
    else:
        assert error_of(answers[1]) == (409, "idempotency_key_in_flight")
    assert requests_for_shop(demo, S1_SHOP) == 1


@pytest.fixture()
def lonely(settings: Settings) -> Settings:
    """A task queue no worker polls yet (the suite's worker polls the settings' own)."""
    return settings.model_copy(update={"task_queue": f"lonely-{uuid.uuid4().hex[:10]}"})


async def test_a_retry_after_the_worker_was_down_meets_the_first_attempt(
    lonely: Settings, demo: Engine, client: Client
) -> None:
    """No worker: the call ends 503 service_unavailable and its key is not kept (a fault is
    not an answer). The worker comes back; the same call with the same key then finds the
    request the first attempt started, and names it: one request, not two."""
    from worker import build_worker

    app = create_app(lonely, client=client, engine=demo)
    app.state.web.requests.timeout = 2.0  # how long the call waits for a worker
    token = make_token(demo, Scope.ACT, name="crm")
    async with client_of(app, lonely, token) as api:
        down = await api.post("/requests", json=ASK)
        assert error_of(down) == (503, "service_unavailable")
        with read_session(demo) as session:
            assert session.get(ApiIdempotency, (token.id, "crm-retry-1")) is None

        with ThreadPoolExecutor(max_workers=lonely.activity_threads) as executor:
            async with build_worker(client, lonely, demo, executor):
                app.state.web.requests.timeout = 60.0
                again = await api.post("/requests", json=ASK)
                # The first attempt's request went on once a worker came: the retry is
                # told so, with its id (R6), and asks nothing again.
                assert error_of(again) == (409, "request_already_pending")
                with read_session(demo) as session:
                    rows = session.exec(select(AccessRequest)).all()
                assert [r.id for r in rows] == [again.json()["error"]["details"]["request_id"]]
                assert rows[0].status == "pending"
