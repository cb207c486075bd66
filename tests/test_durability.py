"""R20: the worker is killed (SIGKILL) twice while 30 requests are being approved; each
time a new worker process takes over, and every request reaches its right state, with one
grant per approved request and one e-mail per (request, send, recipient) RECEIVED by a
real SMTP server on loopback: nothing lost, nothing done twice but what SMTP itself cannot
avoid (a message the relay took in the milliseconds before a kill, sent again after it
as the same message: see ``assert_received_once``).

Counting what the server receives, per business key and per Message-ID, is what can see
a double: the outbox names each file after its key, so a second write hides the first.

The worker runs as the real ``python worker.py`` process, configured only through its
environment, against the session's dev server.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import Engine
from sqlmodel import col, func, select
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from client.access_requests import RequestService, Submitted
from models.enums import RequestMethod, RequestStatus
from models.errors import Refusal
from models.messages import ApproveRequest, RequestResult
from models.tables import AccessRequest, EmailDelivery, ShopGrant
from store.db import read_session
from tests.conftest import LINKED_BC, OLI, load_data
from tests.test_mail_smtp import Received, free_port

ROOT = Path(__file__).resolve().parent.parent
N = 30
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
def smtp_server() -> Iterator[tuple[str, Received]]:
    received = Received()
    controller = Controller(received, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield f"smtp://127.0.0.1:{controller.port}", received
    finally:
        controller.stop()


@pytest.fixture()
def worker_env(
    engine: Engine, tmp_path: Path, temporal_env: WorkflowEnvironment,
    smtp_server: tuple[str, Received],
) -> dict[str, str]:  # fmt: skip
    return {
        **os.environ,
        "DATABASE_URL": engine.url.render_as_string(hide_password=False),
        "DEV_MODE": "1",
        "TASK_QUEUE": f"durable-{uuid.uuid4().hex[:10]}",
        "MAIL_OUTBOX_DIR": str(tmp_path / "outbox"),
        "SMTP_URL": smtp_server[0],
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


async def wait_approved(engine: Engine, at_least: int, timeout: float = 60) -> int:
    deadline = time.monotonic() + timeout
    while (count := approved_count(engine)) < at_least:
        assert time.monotonic() < deadline, f"only {count} approved"
        await asyncio.sleep(0.01)
    return count


async def test_r20_sigkill_twice_loses_nothing_and_repeats_only_across_a_kill(
    demo: Engine, client: Client, worker_env: dict[str, str], workers: list[WorkerProcess],
    tmp_path: Path, smtp_server: tuple[str, Received],
) -> None:  # fmt: skip
    load_data(demo, DATA)
    _, received = smtp_server
    workers.append(WorkerProcess(worker_env, tmp_path / "worker-0.log"))
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
    killed_at: list[int] = []
    received_by_kill: list[tuple[int, int]] = []
    for kill, threshold in enumerate((N // 4, N // 2), start=1):
        # Kill while approvals, grants and their e-mails are in flight, then take over.
        await wait_approved(demo, threshold)
        workers[-1].kill()
        killed_at.append(approved_count(demo))
        at_kill = len(received.messages)
        workers.append(WorkerProcess(worker_env, tmp_path / f"worker-{kill}.log"))
        await workers[-1].polling()
        # What the server had at the kill, and once the new worker polls (by then it has
        # answered whatever the dead worker sent before dying).
        received_by_kill.append((at_kill, len(received.messages)))

    async with asyncio.timeout(150):
        outcomes = await approvals
        results = [
            await client.get_workflow_handle(s.workflow_id, result_type=RequestResult).result()
            for s in subs
        ]
    print(f"killed with {killed_at} of {N} approved")
    assert killed_at[-1] < N, "the last kill came after everything was done"

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
    # One e-mail per (request, send, recipient): the team's first e-mail and the notice,
    # each recorded once as sent...
    expected = {f"access_request:{i}:send:1:to:" for i in ids} | {
        f"access_request:{i}:approved:to:" for i in ids
    }
    keys = [d.key for d in deliveries]
    assert len(keys) == 2 * N and len(set(keys)) == 2 * N
    assert {k.rsplit(":", 1)[0] + ":" for k in keys} == expected
    assert all(d.sent_at is not None and d.rejected is None for d in deliveries)
    # ...and RECEIVED by the SMTP server once, or twice only across a kill.
    assert_received_once(received, keys, received_by_kill)
    assert not (tmp_path / "outbox").exists()  # SMTP, not the outbox


def assert_received_once(
    received: Received, keys: list[str], received_by_kill: list[tuple[int, int]]
) -> None:
    """Every key arrived, under one Message-ID; a key arrived twice only where R20's SMTP
    guarantee allows it (docs/operations.md, "E-mail: what is guaranteed").

    SMTP has no way to ask whether a message was taken: a worker killed after the relay's
    250 and before its mark's commit sends again on the next attempt. That repeat must be
    the same message (Message-ID and Date from the claim), and the first copy must have
    arrived before a kill and the second after it. Two copies between the same kills, or a
    repeat that differs, is a double the kill does not explain."""
    copies: dict[str, list[tuple[int, EmailMessage]]] = {}
    for index, (_, message) in enumerate(received.messages):
        copies.setdefault(str(message["X-Shop-Access-Key"]), []).append((index, message))
    assert sorted(copies) == sorted(keys), "lost or unknown keys at the SMTP server"
    by_id = Counter(str(m["Message-ID"]) for _, m in received.messages)
    assert len(by_id) == len(keys), "one Message-ID per key"
    repeated = {k: c for k, c in copies.items() if len(c) > 1}
    for key, [(first, one), *rest] in repeated.items():
        assert len(rest) == 1, f"{key} arrived {1 + len(rest)} times"
        second, again = rest[0]
        assert any(
            first < taken_over and second >= at_kill for at_kill, taken_over in received_by_kill
        ), f"{key} arrived twice with no kill between ({first}, {second}; {received_by_kill})"
        same = ("Message-ID", "Date", "To", "Subject")
        assert [again[h] for h in same] == [one[h] for h in same], f"{key} repeated otherwise"
