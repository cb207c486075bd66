"""What every ops API call passes (R26, docs/api.md): a live bearer token
with the scope the call needs, the token's rate counted in the store (so it holds across
link-handler processes), and a POST's Idempotency-Key; the acting user is the one the
body names, and no token ever reaches a log line."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from datetime import datetime

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from sqlalchemy import Engine
from sqlmodel import select
from temporalio.client import Client

from linkhandler.app import create_app
from models.messages import RequestState
from models.names import Message
from models.settings import Settings
from models.tables import AccessRequest, ApiToken, AuditEvent
from store import api_tokens
from store.api_tokens import Scope
from store.db import read_session, write_session
from tests.api.conftest import BASE, Token, error_of, make_token
from tests.conftest import AGENCY, ANA, S1_SHOP, wait_until
from tests.web.conftest import LiveServer, snapshot
from tests.web.test_log_redaction import written_lines

pytestmark = pytest.mark.asyncio(loop_scope="session")

ASK = {"bc_id": str(AGENCY), "shop_code": S1_SHOP, "as": ANA}
UNKNOWN_SHOP = {"bc_id": str(AGENCY), "shop_code": "NOPE", "as": ANA}


@pytest_asyncio.fixture(loop_scope="session")
async def bare(app: FastAPI, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """A client for /api/v1 carrying no token."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url=settings.link_base_url + BASE
    ) as client:
        yield client


def revoked(engine: Engine) -> Token:
    token = make_token(engine, Scope.ACT, name="revoked")
    with write_session(engine) as session:
        api_tokens.revoke_token(session, token.id)
    return token


@pytest.mark.parametrize(
    "authorization",
    ["", "Basic YWxhZGRpbjpvcGVuc2VzYW1l", "Bearer", "Bearer sa_unknown", "revoked"],
)
async def test_no_live_token_is_401(
    bare: httpx.AsyncClient, demo: Engine, authorization: str
) -> None:
    if authorization == "revoked":
        authorization = "Bearer " + revoked(demo).secret
    headers = {"Authorization": authorization} if authorization else {}
    before = snapshot(demo)
    for answer in (
        await bare.post("/requests", json=ASK, headers=headers),
        await bare.get("/requests", params={"bc_id": str(AGENCY)}, headers=headers),
    ):
        assert error_of(answer) == (401, "unauthenticated")
        assert answer.headers["www-authenticate"] == "Bearer"
        assert "Authorization: Bearer" in answer.json()["error"]["message"]
    assert snapshot(demo) == before


async def test_a_read_token_cannot_act(
    bare: httpx.AsyncClient, demo: Engine, read_token: Token
) -> None:
    before = snapshot(demo)
    answer = await bare.post("/requests", json=ASK, headers=read_token.headers)
    assert error_of(answer) == (403, "scope_required")
    assert answer.json()["error"]["message"] == "This token lacks the 'act' scope this call needs."
    assert snapshot(demo) == before
    read = await bare.get("/requests", params={"bc_id": str(AGENCY)}, headers=read_token.headers)
    assert read.status_code == 200


async def test_the_rate_limit_holds_across_two_apps_on_one_store(
    settings: Settings, demo: Engine, client: Client, worker: object, read_token: Token
) -> None:
    """Two link-handler apps over one store share the token's count (it is in the store)."""
    tight = settings.model_copy(update={"api_calls_per_minute": 3})
    first, second = (create_app(tight, client=client, engine=demo) for _ in range(2))
    answers = []
    for app in (first, second, first, second, first):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url=settings.link_base_url + BASE
        ) as http:
            answers.append(await http.get("/requests/req_nope", headers=read_token.headers))
    assert [a.status_code for a in answers] == [404, 404, 404, 429, 429]
    for limited in answers[3:]:
        assert error_of(limited) == (429, "rate_limited")
        retry_after = limited.headers["retry-after"]
        assert retry_after.isdigit() and 1 <= int(retry_after) <= 60
        assert limited.json()["error"]["details"] == {"limit": 3, "retry_after": int(retry_after)}
    with read_session(demo) as session:
        token = session.get(ApiToken, read_token.id)
        assert token is not None and isinstance(token.last_used_at, datetime)
        assert token.window_count == 5


async def first_emails_sent(client: Client, workflow_id: str) -> None:
    """The request's team e-mails are out, so later snapshots see only what a call did."""
    handle = client.get_workflow_handle(workflow_id)

    async def sent() -> bool:
        state = await handle.query(Message.STATE, result_type=RequestState)
        return state.first_email_sent

    await wait_until(sent, what="the request's first e-mails")


async def test_a_repeated_post_gets_the_first_answer_and_does_nothing_again(
    api: httpx.AsyncClient, demo: Engine, client: Client
) -> None:
    key = {"Idempotency-Key": str(uuid.uuid4())}
    first = await api.post("/requests", json=ASK, headers=key)
    assert first.status_code == 201, first.text
    assert "idempotent-replayed" not in first.headers
    await first_emails_sent(client, first.json()["workflow_id"])
    after_first = snapshot(demo)
    again = await api.post("/requests", json=ASK, headers=key)
    assert again.status_code == 201
    assert again.content == first.content
    assert again.headers["idempotent-replayed"] == "true"
    assert again.headers["location"] == first.headers["location"]
    assert snapshot(demo) == after_first
    request_id = first.json()["request_id"]
    with read_session(demo) as session:
        assert len(session.exec(select(AccessRequest)).all()) == 1
        actors = session.exec(
            select(AuditEvent.actor).where(AuditEvent.entity_id == request_id)
        ).all()
    assert actors and set(actors) == {ANA}  # the body's `as`, not the token's name

    other = await api.post("/requests", json={**ASK, "method": "add_my_shop"}, headers=key)
    assert error_of(other) == (422, "idempotency_key_reused")
    assert other.json()["error"]["details"] == {"key": key["Idempotency-Key"]}
    assert snapshot(demo) == after_first


async def test_a_refusal_is_replayed_and_keys_are_per_token(
    api: httpx.AsyncClient, demo: Engine, bare: httpx.AsyncClient
) -> None:
    key = {"Idempotency-Key": "refused-once"}
    before = snapshot(demo)
    first = await api.post("/requests", json=UNKNOWN_SHOP, headers=key)
    assert error_of(first) == (404, "unknown_shop_code")
    again = await api.post("/requests", json=UNKNOWN_SHOP, headers=key)
    assert again.content == first.content and again.status_code == 404
    assert again.headers["idempotent-replayed"] == "true"
    other_token = make_token(demo, Scope.ACT, name="other robot")
    theirs = await bare.post(
        "/requests", json=ASK, headers={**key, **other_token.headers}
    )  # the same key, another token: its own call, not a reuse
    assert theirs.status_code == 201, theirs.text
    assert "idempotent-replayed" not in theirs.headers
    assert len(snapshot(demo).requests) == len(before.requests) + 1


@pytest.mark.parametrize("bad_key", [b"k" * 256, "clé".encode(), b"tab\there", b""])
async def test_a_bad_key_is_invalid_input(
    api: httpx.AsyncClient, demo: Engine, bad_key: bytes
) -> None:
    """Too long, not ASCII (sent as Latin-1 bytes), a control character, empty."""
    before = snapshot(demo)
    answer = await api.post("/requests", json=ASK, headers={b"Idempotency-Key": bad_key})
    assert error_of(answer) == (400, "invalid_input")
    assert "Idempotency-Key" in answer.json()["error"]["message"]
    assert snapshot(demo) == before


async def test_no_token_reaches_a_log_line(
    live_server: LiveServer, demo: Engine, act_token: Token
) -> None:
    """Calls with good, bad and revoked tokens, through uvicorn's access log and the app's
    loggers: no bearer secret in any line written."""
    gone = revoked(demo)
    secrets = {act_token.secret, gone.secret, "sa_" + "x" * 43}
    with written_lines() as written:
        async with httpx.AsyncClient(base_url=live_server.url + BASE) as http:
            ok = await http.post(
                "/requests",
                json=ASK,
                headers={**act_token.headers, "Idempotency-Key": act_token.secret},
            )
            assert ok.status_code == 201, ok.text
            for secret in secrets:
                await http.get(
                    f"/requests?shop_code={secret}", headers={"Authorization": f"Bearer {secret}"}
                )
        # A logger quoting a header or a secret goes through the same scrub.
        logging.getLogger("api.test").warning("Authorization: Bearer %s", act_token.secret)
        logging.getLogger("api.test").warning("token was %s", gone.secret)
    lines = written.getvalue().splitlines()
    assert any("/api/v1/requests" in line for line in lines), lines
    assert sum("api.test" in line or "Authorization" in line for line in lines) >= 1, lines
    for secret in secrets:
        assert [line for line in lines if secret in line] == [], secret


async def test_a_body_that_is_not_json_is_invalid_input(
    api: httpx.AsyncClient, demo: Engine
) -> None:
    """Found by the schema run: FastAPI's own 400 for an unreadable body was answered as
    not_found; it is invalid_input, and an unknown path under /api/v1 with a newline in it
    is still the API's JSON not_found, not the seller pages' HTML."""
    before = snapshot(demo)
    answer = await api.post(
        "/requests", content=b"\xff{", headers={"Content-Type": "application/json"}
    )
    assert error_of(answer) == (400, "invalid_input")
    assert answer.json()["error"]["details"]["errors"][0]["field"] == "body"
    lost = await api.get("/requests/a%0Ab/x")
    assert error_of(lost) == (404, "not_found")
    assert snapshot(demo) == before
