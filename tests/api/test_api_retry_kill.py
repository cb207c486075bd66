"""Retries safe at every moment (R6, docs/api.md "Idempotency-Key"): a link handler killed
in the middle of a keyed POST leaves a claim no one will answer. Its lease (a little past
the call's deadline) holds the key briefly, then a retry with the same key takes it over
and is answered with the request the dead call started, as if it had made it (201)."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine
from sqlmodel import select
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError

from linkhandler.app import create_app
from models.enums import RequestMethod
from models.names import request_workflow_id
from models.settings import Settings
from models.tables import AccessRequest, ApiIdempotency, utcnow
from store.api_tokens import Scope
from store.db import read_session
from tests.api.conftest import BASE, error_of, make_token
from tests.conftest import AGENCY, ANA, S1_SHOP, wait_until

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent.parent
ASK = {"bc_id": str(AGENCY), "shop_code": S1_SHOP, "as": ANA}
KEY = "crm-killed-1"
# Process start-up imports temporalio, SQLAlchemy and FastAPI: seconds of CPU each, many
# more on a busy machine.
START_SECONDS = 180.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_a_retry_after_the_link_handler_died_mid_call_answers_its_request(
    demo: Engine, client: Client, settings: Settings, tmp_path: Path
) -> None:
    queue = f"lonely-{uuid.uuid4().hex[:10]}"  # no worker yet: the call waits mid-way
    lonely = settings.model_copy(update={"task_queue": queue})
    token = make_token(demo, Scope.ACT, name="crm")
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": demo.url.render_as_string(hide_password=False),
        "TASK_QUEUE": queue,
        "DEV_MODE": "1",
        "MAIL_OUTBOX_DIR": str(tmp_path / "outbox"),
        "TEMPORAL_ADDRESS": client.service_client.config.target_host,
        "TEMPORAL_NAMESPACE": client.namespace,
        "WEB_HOST": "127.0.0.1",
        "WEB_PORT": str(port),
        "LINK_BASE_URL": f"http://127.0.0.1:{port}",
    }
    log = (tmp_path / "web.log").open("ab")
    web = subprocess.Popen(
        [sys.executable, "-m", "linkhandler"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    headers = {**token.headers, "Idempotency-Key": KEY}
    workflow_id = request_workflow_id(RequestMethod.REQUEST_ACCESS, AGENCY, S1_SHOP)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=120) as remote:

            async def answering() -> bool:
                assert web.poll() is None, (tmp_path / "web.log").read_text()[-3000:]
                try:
                    return (await remote.get("/healthz")).text == "ok"
                except httpx.TransportError:
                    return False

            await wait_until(answering, timeout=START_SECONDS, interval=0.2, what="web up")
            call = asyncio.create_task(remote.post(BASE + "/requests", json=ASK, headers=headers))

            async def started() -> bool:
                """This call's workflow: running on our queue (an earlier test's run of
                the same business key is closed, on another queue)."""
                try:
                    found = await client.get_workflow_handle(workflow_id).describe()
                except RPCError:
                    return False
                return found.status == WorkflowExecutionStatus.RUNNING and (
                    found.task_queue == queue
                )

            # Mid-call: the key is claimed and the request's workflow started, waiting for
            # a worker to admit it. Then the link handler dies.
            await wait_until(started, timeout=60, what="the request's workflow started")
            web.send_signal(signal.SIGKILL)
            web.wait(30)
            with pytest.raises(httpx.TransportError):
                await call
    finally:
        if web.poll() is None:
            web.kill()
            web.wait(30)
        log.close()

    with read_session(demo) as session:
        claim = session.get(ApiIdempotency, (token.id, KEY))
    assert claim is not None and claim.status_code is None
    assert claim.lease_until is not None and claim.lease_until > utcnow()

    other = create_app(lonely, client=client, engine=demo)  # the link handler that is left
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=other),
        base_url=lonely.link_base_url + BASE,
        headers=headers,
    ) as api:
        # While the dead call's lease holds, a retry is told the call is in flight.
        early = await api.post("/requests", json=ASK)
        assert error_of(early) == (409, "idempotency_key_in_flight")
        assert early.json()["error"]["details"] == {"key": KEY}
        from worker import build_worker

        with ThreadPoolExecutor(max_workers=lonely.activity_threads) as executor:
            async with build_worker(client, lonely, demo, executor):

                async def answered() -> httpx.Response | None:
                    retry = await api.post("/requests", json=ASK)
                    if retry.status_code == 409 and "in_flight" in retry.text:
                        return None  # the lease still holds
                    return retry

                # Then the lease passes and a retry takes the key over.
                again = await wait_until(answered, timeout=120, interval=0.5, what="a 201")
                assert again is not None
                assert again.status_code == 201, again.text
                with read_session(demo) as session:
                    rows = session.exec(select(AccessRequest)).all()
                # One request, the dead call's, answered as this call's own.
                assert [r.id for r in rows] == [again.json()["request_id"]]
                assert again.json()["workflow_id"] == workflow_id
                assert again.json()["status"] == "pending"
