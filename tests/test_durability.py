"""R20: the worker is killed (SIGKILL) while 50 requests are being approved; a new worker
process takes over and every request reaches its right state, with one grant per approved
request and one e-mail per (request, send, recipient): nothing lost, nothing done twice.

The worker runs as the real ``python worker.py`` process, configured only through its
environment, against the session's dev server.
"""

from __future__ import annotations

import asyncio
import email
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from email import policy
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import col, func, select
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from models.enums import RequestMethod, RequestStatus
from models.errors import Refusal
from models.messages import ApproveRequest, RequestResult
from models.tables import AccessRequest, EmailDelivery, ShopGrant
from service.requests import RequestService, Submitted
from store.db import read_session
from tests.conftest import LINKED_BC, OLI, load_data

ROOT = Path(__file__).resolve().parent.parent
N = 50
BCS = [7100000000000000201, 7100000000000000202, 7100000000000000203]  # R4: 20 a day each
ADMINS = [f"admin{i}@durable.example" for i in range(len(BCS))]
DATA = {
    "users": [{"email": e, "name": e.split("@")[0]} for e in ADMINS],
    "business_centers": [
        {"id": bc, "name": f"Durable BC {i}", "type": "regular", "country": "SG",
         "timezone": "Asia/Singapore", "members": [{"email": ADMINS[i], "role": "admin"}]}
        for i, bc in enumerate(BCS)
    ],
    "shops": [
        {"code": f"DURABLE{i:03d}", "name": f"Durable shop {i}", "location": "SG",
         "linked_bc": LINKED_BC, "team": [{"email": OLI, "role": "owner"}]}
        for i in range(N)
    ],
}  # fmt: skip

pytestmark = pytest.mark.slow


class WorkerProcess:
    """``python worker.py`` with the test's configuration, logging to a file."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.log = log
        self._out = log.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "worker.py"], cwd=ROOT, env=env, stdout=self._out,
            stderr=subprocess.STDOUT,
        )  # fmt: skip

    async def polling(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while b"Worker polling task queue" not in self.log.read_bytes():
            assert self.proc.poll() is None, self.log.read_text()[-2000:]
            assert time.monotonic() < deadline, "worker did not start"
            await asyncio.sleep(0.1)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        self._out.close()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._out.close()


@pytest.fixture()
def worker_env(engine: Engine, tmp_path: Path, temporal_env: WorkflowEnvironment) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": engine.url.render_as_string(hide_password=False),
        "DEV_MODE": "1",
        "TASK_QUEUE": f"durable-{uuid.uuid4().hex[:10]}",
        "MAIL_OUTBOX_DIR": str(tmp_path / "outbox"),
        "TEMPORAL_ADDRESS": temporal_env.client.service_client.config.target_host,
        "TEMPORAL_NAMESPACE": temporal_env.client.namespace,
    }


@pytest.fixture()
def workers(worker_env: dict[str, str], tmp_path: Path) -> Iterator[list[WorkerProcess]]:
    started: list[WorkerProcess] = []
    yield started
    for w in started:
        w.stop()


def approved_count(engine: Engine) -> int:
    with read_session(engine) as session:
        return int(
            session.exec(
                select(func.count())
                .select_from(AccessRequest)
                .where(AccessRequest.status == RequestStatus.APPROVED)
            ).one()
        )


async def approve_until_decided(service: RequestService, sub: Submitted) -> Any:
    """Approve as a seller would: if the service is unavailable, click again (same key)."""
    key = f"approve-{sub.request_id}"
    for _ in range(5):
        try:
            return await service.approve(
                sub.request_id, ApproveRequest(by=OLI), idempotency_key=key
            )
        except Refusal as refusal:
            if refusal.code != "service_unavailable":
                return refusal
    raise AssertionError(f"{sub.request_id} never answered")


async def test_r20_sigkill_mid_way_loses_nothing_and_repeats_nothing(
    demo: Engine, client: Client, worker_env: dict[str, str], workers: list[WorkerProcess],
    tmp_path: Path,
) -> None:  # fmt: skip
    load_data(demo, DATA)
    log = tmp_path / "worker.log"
    workers.append(WorkerProcess(worker_env, log))
    await workers[0].polling()
    service = RequestService(client, demo, worker_env["TASK_QUEUE"], timeout=90)

    def submit(i: int) -> Any:
        bc = i % len(BCS)
        return service.submit(
            method=RequestMethod.REQUEST_ACCESS,
            bc_id=BCS[bc],
            shop_code=f"DURABLE{i:03d}",
            by=ADMINS[bc],
        )

    subs: list[Submitted] = await asyncio.gather(*(submit(i) for i in range(N)))
    assert all(s.status == "pending" for s in subs)

    approvals = asyncio.gather(*(approve_until_decided(service, s) for s in subs))
    deadline = time.monotonic() + 30
    while approved_count(demo) < N // 4:  # kill once a quarter are decided
        assert time.monotonic() < deadline, "approvals did not start"
        await asyncio.sleep(0.01)
    workers[0].kill()
    killed_at = approved_count(demo)
    workers.append(WorkerProcess(worker_env, log))
    await workers[1].polling()

    async with asyncio.timeout(120):
        outcomes = await approvals
        results = [
            await client.get_workflow_handle(s.workflow_id, result_type=RequestResult).result()
            for s in subs
        ]
    print(f"killed with {killed_at}/{N} approved")
    assert killed_at < N, "the kill came after everything was done"

    # Every request reached its right state, in the workflow and in the store.
    assert [getattr(o, "status", o) for o in outcomes] == [RequestStatus.APPROVED] * N
    assert [r.status for r in results] == ["approved"] * N
    ids = [s.request_id for s in subs]
    with read_session(demo) as session:
        rows = session.exec(select(AccessRequest).where(col(AccessRequest.id).in_(ids))).all()
        grants = session.exec(select(ShopGrant.source_request_id)).all()
        deliveries = session.exec(select(EmailDelivery)).all()
    assert {r.id: r.status for r in rows} == dict.fromkeys(ids, RequestStatus.APPROVED)
    # Exactly one grant per approved request.
    assert Counter(grants) == Counter(ids)
    # One e-mail per (request, send, recipient): the team's first e-mail and the notice.
    expected = {f"access_request:{i}:send:1:to:" for i in ids} | {
        f"access_request:{i}:approved:to:" for i in ids
    }
    keys = [d.key for d in deliveries]
    assert len(keys) == 2 * N and len(set(keys)) == 2 * N
    assert {k.rsplit(":", 1)[0] + ":" for k in keys} == expected
    assert all(d.sent_at is not None for d in deliveries)
    files = sorted((tmp_path / "outbox").glob("*.eml"))
    sent = [email.message_from_bytes(f.read_bytes(), policy=policy.default) for f in files]
    assert sorted(m["X-Shop-Access-Key"] for m in sent) == sorted(keys)
    assert len({m["Message-ID"] for m in sent}) == 2 * N
