"""Retries of the ops API's POSTs do nothing twice (R26, R6), across
processes and across a worker outage: the key is claimed in the store, and an answer that
was a fault is not kept, so the retry runs again and meets the first attempt's work."""

from __future__ import annotations

import asyncio
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Engine
from sqlmodel import func, select
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

import client.webhooks as client_webhooks
from linkhandler.app import create_app
from models.settings import Settings
from models.tables import AccessRequest, ApiIdempotency, AuditEvent, Shop, WebhookSubscription
from store.api_tokens import Scope
from store.db import read_session, write_session
from tests.api.conftest import BASE, Token, error_of, make_token
from tests.bulk_support import BULK_ADMIN, BULK_BC, BULK_SHOPS, admitted_per_shop, bulk_data
from tests.conftest import (
    AGENCY,
    ANA,
    S1_SHOP,
    load_data,
    wait_until,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")

ASK = {"bc_id": str(AGENCY), "shop_code": S1_SHOP, "as": ANA}


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
    """No worker: the call ends 503 service_unavailable and its answer is not kept (a fault
    is not an answer). The worker comes back; the same call with the same key then finds
    the request the first attempt started and answers it as if it had made it (201): one
    request, not two, and not request_already_pending."""
    from worker import build_worker

    app = create_app(lonely, client=client, engine=demo)
    app.state.web.requests.timeout = 2.0  # how long the call waits for a worker
    token = make_token(demo, Scope.ACT, name="crm")
    async with client_of(app, lonely, token) as api:
        down = await api.post("/requests", json=ASK)
        assert error_of(down) == (503, "service_unavailable")
        with read_session(demo) as session:
            claim = session.get(ApiIdempotency, (token.id, "crm-retry-1"))
        assert claim is not None and claim.status_code is None  # no answer kept...
        assert claim.lease_until is None  # ...and the key is free for a retry at once

        with ThreadPoolExecutor(max_workers=lonely.activity_threads) as executor:
            async with build_worker(client, lonely, demo, executor):
                app.state.web.requests.timeout = 60.0
                again = await api.post("/requests", json=ASK)
                # The first attempt's request went on once a worker came: the retry is
                # answered with it, as the first attempt would have been (R6: no second).
                assert again.status_code == 201, again.text
                with read_session(demo) as session:
                    rows = session.exec(select(AccessRequest)).all()
                assert [r.id for r in rows] == [again.json()["request_id"]]
                assert rows[0].status == "pending"
                assert again.json()["status"] == "pending" and again.json()["approval_url"]
                assert again.headers["location"] == f"/api/v1/requests/{rows[0].id}"
                replayed = await api.post("/requests", json=ASK)
                assert replayed.headers["idempotent-replayed"] == "true"
                assert replayed.content == again.content


async def test_another_call_for_a_pending_request_is_still_told_so(
    api: httpx.AsyncClient, demo: Engine
) -> None:
    """Only a retry of the same call (same key) is answered with the pending request: a
    new call, with another key or none, is told it is pending (R6), and asks nothing."""
    first = await api.post("/requests", json=ASK, headers={"Idempotency-Key": "crm-a"})
    assert first.status_code == 201, first.text
    for headers in ({"Idempotency-Key": "crm-b"}, {}):
        other = await api.post("/requests", json=ASK, headers=headers)
        assert error_of(other) == (409, "request_already_pending")
        assert other.json()["error"]["details"]["request_id"] == first.json()["request_id"]
    assert requests_for_shop(demo, S1_SHOP) == 1


async def test_a_retry_after_the_request_was_decided_answers_it_as_it_is(
    lonely: Settings, demo: Engine, client: Client
) -> None:
    """The first attempt faulted (503) but its request went on and was withdrawn before
    the retry: the retry answers with that request as it is now (201, cancelled), and
    starts nothing under its id."""
    from worker import build_worker

    app = create_app(lonely, client=client, engine=demo)
    app.state.web.requests.timeout = 2.0
    token = make_token(demo, Scope.ACT, name="crm")
    async with client_of(app, lonely, token) as api:
        assert error_of(await api.post("/requests", json=ASK)) == (503, "service_unavailable")
        with ThreadPoolExecutor(max_workers=lonely.activity_threads) as executor:
            async with build_worker(client, lonely, demo, executor):
                app.state.web.requests.timeout = 60.0

                def admitted() -> list[AccessRequest]:
                    with read_session(demo) as session:
                        return list(session.exec(select(AccessRequest)).all())

                [made] = await wait_until(admitted, what="the first attempt's request")
                cancelled = await api.post(
                    f"/requests/{made.id}/cancel",
                    json={"as": ANA},
                    headers={"Idempotency-Key": "crm-cancel-1"},
                )
                assert cancelled.status_code == 200, cancelled.text
                again = await api.post("/requests", json=ASK)
                assert again.status_code == 201, again.text
                assert again.json()["request_id"] == made.id
                assert again.json()["status"] == "cancelled"
                assert again.json()["approval_url"].startswith(lonely.link_base_url + "/approve/")
                assert [r.id for r in admitted()] == [made.id]
                # The cancelled run ends on its own (a moment after the update answered, on
                # a loaded machine); had the retry started another run, it would still run.
                handle = client.get_workflow_handle(made.workflow_id)

                async def closed() -> bool:
                    found = await handle.describe()
                    return found.status != WorkflowExecutionStatus.RUNNING

                await wait_until(closed, what="the cancelled request's run closed, none new")
                assert [r.id for r in admitted()] == [made.id]


async def test_a_bulk_whose_link_handler_died_is_answered_not_started_twice(
    api: httpx.AsyncClient, demo: Engine, act_token: Token
) -> None:
    """R24 over a retry: the first attempt started the bulk and its link handler died
    before answering (its claim left unanswered, its lease passed). The retry with the
    same key answers that bulk (202, the same id) and starts no second one."""
    load_data(demo, bulk_data())
    ask = {"as": BULK_ADMIN, "bc_id": str(BULK_BC), "shop_codes": BULK_SHOPS[:2]}
    key = {"Idempotency-Key": "crm-bulk-1"}
    first = await api.post("/bulk-requests", json=ask, headers=key)
    assert first.status_code == 202, first.text
    with write_session(demo) as session:  # what a link handler dead mid-call leaves
        claim = session.get(ApiIdempotency, (act_token.id, "crm-bulk-1"))
        assert claim is not None
        claim.status_code = claim.body = claim.location = claim.lease_until = None
        session.add(claim)
    again = await api.post("/bulk-requests", json=ask, headers=key)
    assert again.status_code == 202, again.text
    assert "idempotent-replayed" not in again.headers  # run again, not replayed...
    assert again.json()["bulk_id"] == first.json()["bulk_id"]  # ...and met the same bulk

    async def finished() -> bool:
        done = await api.get(f"/bulk-requests/{first.json()['bulk_id']}")
        return bool(done.json()["status"] == "completed")

    await wait_until(finished, what="the bulk completed")
    assert admitted_per_shop(demo) == dict.fromkeys(BULK_SHOPS[:2], 1)


@pytest.fixture()
def dispatcher_down_once(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Temporal refuses the first dispatcher start after the subscription's write; the
    subscription ids of every start are listed."""
    real_start = client_webhooks.start_dispatcher
    starts: list[str] = []

    async def down_once(*args: Any, **kwargs: Any) -> str:
        starts.append(args[2])  # the subscription id
        if len(starts) == 1:
            raise RPCError("Temporal is down", RPCStatusCode.UNAVAILABLE, b"")
        return await real_start(*args, **kwargs)

    monkeypatch.setattr(client_webhooks, "start_dispatcher", down_once)
    return starts


HOOK = {"bc_id": str(AGENCY), "url": "http://127.0.0.1:9/hook"}


def subscriptions_written(engine: Engine) -> list[WebhookSubscription]:
    with read_session(engine) as session:
        return list(session.exec(select(WebhookSubscription)).all())


async def test_r30_a_subscription_whose_start_failed_is_the_retry_s_own(
    api: httpx.AsyncClient, demo: Engine, client: Client, dispatcher_down_once: list[str]
) -> None:
    """A keyed POST /webhooks wrote its subscription, then Temporal failed to start the
    dispatcher (503). The retry with the same key answers that subscription (201, the same
    id and secret) and starts its dispatcher: one subscription, so no event sent twice.
    Another key still subscribes anew."""
    starts, ask = dispatcher_down_once, HOOK
    key = {"Idempotency-Key": "crm-hook-1"}
    assert error_of(await api.post("/webhooks", json=ask, headers=key)) == (
        503, "service_unavailable",
    )  # fmt: skip
    [first] = subscriptions_written(demo)  # the first attempt's row, no dispatcher behind it yet
    again = await api.post("/webhooks", json=ask, headers=key)
    assert again.status_code == 201, again.text
    assert (again.json()["id"], again.json()["secret"]) == (first.id, first.secret)
    assert again.headers["location"] == f"/api/v1/webhooks/{first.id}"
    assert starts == [first.id, first.id]
    running = await client.get_workflow_handle(again.json()["workflow_id"]).describe()
    assert running.status == WorkflowExecutionStatus.RUNNING
    with read_session(demo) as session:
        added = session.exec(select(AuditEvent.entity_id).where(AuditEvent.action == "added")).all()
    assert added == [first.id]  # recorded once

    other = await api.post("/webhooks", json=ask, headers={"Idempotency-Key": "crm-hook-2"})
    assert other.status_code == 201, other.text
    assert other.json()["id"] != first.id and len(subscriptions_written(demo)) == 2
    for sub in (first.id, other.json()["id"]):
        assert (await api.delete(f"/webhooks/{sub}")).status_code == 200


async def test_r30_a_keyless_subscription_whose_start_failed_is_left_removed(
    api: httpx.AsyncClient, demo: Engine, dispatcher_down_once: list[str]
) -> None:
    """Without a key no retry can name the subscription the failed call wrote: it is
    marked removed (and audited so), not listed as active with nothing sending."""
    down = await api.post("/webhooks", json=HOOK)
    assert error_of(down) == (503, "service_unavailable")
    assert "UNAVAILABLE" in down.json()["error"]["message"]
    [left] = subscriptions_written(demo)
    assert left.removed_at is not None
    shown = await api.get(f"/webhooks/{left.id}")
    assert shown.json()["removed_at"] is not None
    with read_session(demo) as session:
        actions = session.exec(
            select(AuditEvent.action).where(AuditEvent.entity_id == left.id)
        ).all()
    assert sorted(actions) == ["added", "removed"]
