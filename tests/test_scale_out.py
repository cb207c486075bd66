"""Scale-out: the rules that count or race hold when two worker processes and two
link-handler processes share one PostgreSQL store.

One stack for the module: the session's dev server, a fresh PostgreSQL database, two
``python worker.py`` processes and two ``python -m linkhandler`` processes on their own ports, all
configured only through their environment. Requests start from two client processes
(``tests/scale_client.py``) released together; approvals are real HTTP POSTs of the
approval form, one to each link handler at once.

- R4: 25 requests from one BC, both methods, split over two client processes and served
  by both workers: exactly 20 admitted, 5 refused with ``daily_limit_reached``, 20 rows.
- R6: the same (BC, shop, method) asked from both client processes at once, for five
  shops: per shop one pending, one ``request_already_pending``, one row.
- R11: a race pair approved at the same moment through the two link handlers: one
  approved, the other expired naming the winner, one grant.
- Double approval (R13, R14, R20): one request approved through both link handlers at
  once: one decision, one grant, one "approved" e-mail to the requester.
"""

from __future__ import annotations

import asyncio
import email
import functools
import json
import os
import signal
import socket
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, time
from email import policy
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import Engine, text
from sqlmodel import col, select
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from client.access_requests import RequestService, Submitted
from client.links import LinkSigner
from models.enums import RequestMethod, RequestStatus
from models.messages import RequestResult
from models.tables import AccessRequest, AuditEvent, EmailDelivery, Shop, ShopGrant
from store.db import make_engine, read_session
from tests.conftest import (
    LINKED_BC,
    OLI,
    PG_ADMIN_URL,
    fresh_namespace,
    load_data,
    load_demo,
    wait_until,
)
from tests.web.conftest import csrf_in

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent
SECRET = "scale-out-test-secret-not-for-production"
# Process start-up imports temporalio, SQLAlchemy and FastAPI: seconds of CPU each, many
# more when the machine is busy.
START_SECONDS = 180.0
# One answer from the stack (an admission, an approval, a workflow closing).
ANSWER_SECONDS = 120.0

LIMIT_BC, RACE_BC = 7100000000000000301, 7100000000000000302
LIMIT_ADMIN, RACE_ADMIN = "admin@limit.example", "admin@race.example"
LIMIT_SHOPS = [f"SCALELIMIT{i:02d}" for i in range(25)]
ONCE_SHOPS = [f"SCALEONCE{i}" for i in range(5)]
RACE_SHOP, DOUBLE_SHOP = "SCALERACE1", "SCALEDOUBLE1"
SINGAPORE = ZoneInfo("Asia/Singapore")
DATA = {
    "users": [{"email": e, "name": e.split("@")[0]} for e in (LIMIT_ADMIN, RACE_ADMIN)],
    "business_centers": [
        {"id": bc, "name": name, "type": "regular", "country": "SG",
         "timezone": "Asia/Singapore", "members": [{"email": admin, "role": "admin"}]}
        for bc, name, admin in ((LIMIT_BC, "Limit BC", LIMIT_ADMIN),
                                (RACE_BC, "Race BC", RACE_ADMIN))
    ],
    "shops": [
        {"code": code, "name": f"Scale shop {code}", "location": "SG",
         "linked_bc": LINKED_BC, "team": [{"email": OLI, "role": "owner"}]}
        for code in [*LIMIT_SHOPS, *ONCE_SHOPS, RACE_SHOP, DOUBLE_SHOP]
    ],
}  # fmt: skip


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Process:
    """A stack process (``worker.py`` or ``-m web``) logging to a file."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        self._out = log.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, *args], cwd=ROOT, env=env, stdout=self._out,
            stderr=subprocess.STDOUT,
        )  # fmt: skip

    def alive(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"{self.log.name} exited:\n{self.log.read_text()[-3000:]}")
        return True

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._out.close()


@dataclass
class Stack:
    client: Client
    engine: Engine
    env: dict[str, str]
    task_queue: str
    outbox: Path
    workers: list[Process]
    web_urls: list[str]
    logs: Path

    def service(self) -> RequestService:
        return RequestService(self.client, self.engine, self.task_queue, timeout=ANSWER_SECONDS)

    def personal_path(self, request_id: str, who: str) -> str:
        return "/approve/" + LinkSigner(SECRET, self.web_urls[0]).token(request_id, who)


async def worker_polling(worker: Process) -> bool:
    return worker.alive() and b"Worker polling task queue" in worker.log.read_bytes()


async def web_answering(web: Process, url: str) -> bool:
    web.alive()
    try:
        async with httpx.AsyncClient(timeout=5) as http:
            return (await http.get(url + "/healthz")).text == "ok"
    except httpx.TransportError:
        return False


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def stack(
    postgres_admin: Engine,
    postgres_template: str,
    temporal_server: WorkflowEnvironment,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Stack]:
    name = f"shop_access_scale_{uuid.uuid4().hex[:12]}"
    with postgres_admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{postgres_template}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    engine = make_engine(url)
    load_demo(engine)
    load_data(engine, DATA)

    logs = tmp_path_factory.mktemp("scale")
    ports = [free_port(), free_port()]
    web_urls = [f"http://127.0.0.1:{port}" for port in ports]
    client = await fresh_namespace(temporal_server)  # one for the module's stack
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "TASK_QUEUE": f"scale-{uuid.uuid4().hex[:10]}",
        "MAIL_OUTBOX_DIR": str(logs / "outbox"),
        "SECRET_KEY": SECRET,
        "LINK_BASE_URL": web_urls[0],
        "TEMPORAL_ADDRESS": client.service_client.config.target_host,
        "TEMPORAL_NAMESPACE": client.namespace,
        "WEB_HOST": "127.0.0.1",
    }
    workers = [Process(["worker.py"], env, logs / f"worker{i}.log") for i in (1, 2)]
    webs = [
        Process(["-m", "linkhandler"], {**env, "WEB_PORT": str(port)}, logs / f"web{i}.log")
        for i, port in enumerate(ports, start=1)
    ]
    try:
        for worker in workers:
            await wait_until(
                functools.partial(worker_polling, worker), timeout=START_SECONDS, interval=0.2,
                what=f"{worker.log.name} polling",
            )  # fmt: skip
        for web, web_url in zip(webs, web_urls, strict=True):
            await wait_until(
                functools.partial(web_answering, web, web_url), timeout=START_SECONDS,
                interval=0.2, what=f"{web.log.name} answering",
            )  # fmt: skip
        yield Stack(client, engine, env, env["TASK_QUEUE"], logs / "outbox", workers, web_urls,
                    logs)  # fmt: skip
    finally:
        for process in [*webs, *workers]:
            process.stop()
        engine.dispose()
        with postgres_admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


# --- helpers -------------------------------------------------------------------------------


def plan(method: RequestMethod, bc_id: int, by: str, shop_code: str) -> dict[str, Any]:
    return {"method": method.value, "bc_id": bc_id, "shop_code": shop_code, "by": by}


async def submit_from_processes(
    stack: Stack, batches: list[list[dict[str, Any]]]
) -> list[dict[str, Any]]:
    """Run one client process per batch; release them together once all are connected, so
    their submissions overlap; return every process's results, in batch order."""
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.scale_client", json.dumps(batch), cwd=ROOT,
            env=stack.env, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=(stack.logs / f"client-{uuid.uuid4().hex[:6]}.log").open("wb"),
        )
        for batch in batches
    ]  # fmt: skip
    try:
        async with asyncio.timeout(START_SECONDS):
            for proc in procs:
                assert proc.stdout is not None
                assert await proc.stdout.readline() == b"ready\n", "a client did not start"
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write(b"go\n")
            await proc.stdin.drain()
        results: list[dict[str, Any]] = []
        async with asyncio.timeout(ANSWER_SECONDS):
            for proc in procs:
                out, _ = await proc.communicate()
                assert proc.returncode == 0, out
                results += json.loads(out.decode().strip().splitlines()[-1])
        return results
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()


def rows_for(engine: Engine, bc_id: int, shop_codes: list[str]) -> list[tuple[str, str, str]]:
    """(request id, shop code, status) of the BC's requests for those shops."""
    with read_session(engine) as session:
        found = session.exec(
            select(AccessRequest.id, Shop.code, AccessRequest.status)
            .join(Shop, Shop.id == AccessRequest.shop_id)  # type: ignore[arg-type]
            .where(AccessRequest.bc_id == bc_id, col(Shop.code).in_(shop_codes))
        ).all()
    return [(i, c, str(s)) for i, c, s in found]


async def task_pids(client: Client, workflow_ids: list[str]) -> Counter[int]:
    """Which processes ran these workflows' tasks and activities (identity ``pid@host``)."""
    pids: Counter[int] = Counter()
    for workflow_id in workflow_ids:
        history = await client.get_workflow_handle(workflow_id).fetch_history()
        for event in history.events:
            for attrs in (
                event.workflow_task_started_event_attributes,
                event.activity_task_started_event_attributes,
            ):
                if attrs.identity:
                    pids[int(attrs.identity.split("@", 1)[0])] += 1
    return pids


async def approve_through(http: httpx.AsyncClient, base: str, path: str) -> httpx.Response:
    """A seller opening the page on one link handler and submitting its form there."""
    page = await http.get(base + path)
    assert page.status_code == 200, page.text
    return await http.post(base + path, data={"csrf": csrf_in(page.text)})


async def both_at_once(
    http: httpx.AsyncClient, posts: list[tuple[str, str]]
) -> list[httpx.Response]:
    """Open every (link handler, path) page first, then submit all forms at the same time."""
    forms = []
    for base, path in posts:
        page = await http.get(base + path)
        assert page.status_code == 200 and 'data-scenario="S1"' in page.text, page.text
        forms.append({"csrf": csrf_in(page.text)})
    return list(
        await asyncio.gather(
            *(
                http.post(base + path, data=form)
                for (base, path), form in zip(posts, forms, strict=True)
            )
        )
    )


async def closed_result(client: Client, sub: Submitted) -> RequestResult:
    async with asyncio.timeout(ANSWER_SECONDS):
        handle = client.get_workflow_handle(sub.workflow_id, result_type=RequestResult)
        return await handle.result()


def active_grants(engine: Engine, bc_id: int, shop_code: str) -> list[ShopGrant]:
    with read_session(engine) as session:
        return list(
            session.exec(
                select(ShopGrant)
                .join(Shop, Shop.id == ShopGrant.shop_id)  # type: ignore[arg-type]
                .where(
                    ShopGrant.bc_id == bc_id,
                    Shop.code == shop_code,
                    col(ShopGrant.revoked_at).is_(None),
                )
            ).all()
        )


# --- the rules -------------------------------------------------------------------------------


async def test_r4_25_requests_over_two_clients_and_two_workers_admit_exactly_20(
    stack: Stack,
) -> None:
    # Both methods count toward the limit (R4): every third request is "Add my TikTok Shop".
    batch = [
        plan(RequestMethod.ADD_MY_SHOP if i % 3 == 0 else RequestMethod.REQUEST_ACCESS,
             LIMIT_BC, LIMIT_ADMIN, code)
        for i, code in enumerate(LIMIT_SHOPS)
    ]  # fmt: skip
    results = await submit_from_processes(stack, [batch[0::2], batch[1::2]])

    admitted = [r for r in results if r.get("status") == "pending"]
    refused = [r for r in results if "error" in r]
    assert len(admitted) == 20 and len(refused) == 5, results
    for r in refused:
        assert r["error"]["code"] == "daily_limit_reached"
        assert "the limit resets at midnight Asia/Singapore" in r["error"]["message"]
        resets_at = datetime.fromisoformat(r["error"]["details"]["resets_at"])
        assert resets_at.astimezone(SINGAPORE).time() == time(0, 0)  # the BC's midnight

    # The store holds exactly the 20 admitted requests, all pending; the refused shops
    # have no row at all.
    rows = rows_for(stack.engine, LIMIT_BC, LIMIT_SHOPS)
    assert sorted(i for i, _, _ in rows) == sorted(r["request_id"] for r in admitted)
    assert {c for _, c, _ in rows} == {r["shop_code"] for r in admitted}
    assert {s for _, _, s in rows} == {"pending"}

    # Both worker processes took part: the admissions really raced across processes.
    with read_session(stack.engine) as session:
        workflow_ids = list(
            session.exec(
                select(AccessRequest.workflow_id).where(AccessRequest.bc_id == LIMIT_BC)
            ).all()
        )
    pids = await task_pids(stack.client, workflow_ids)
    assert set(pids) == {w.proc.pid for w in stack.workers}, pids


async def test_r6_one_request_asked_from_two_processes_at_once_is_pending_once(
    stack: Stack,
) -> None:
    batch = [plan(RequestMethod.REQUEST_ACCESS, RACE_BC, RACE_ADMIN, c) for c in ONCE_SHOPS]
    results = await submit_from_processes(stack, [batch, batch])

    rows = rows_for(stack.engine, RACE_BC, ONCE_SHOPS)
    assert sorted(c for _, c, _ in rows) == sorted(ONCE_SHOPS)  # one row per shop
    assert {s for _, _, s in rows} == {"pending"}
    pending_id = {c: i for i, c, _ in rows}
    for code in ONCE_SHOPS:
        answers = [r for r in results if r["shop_code"] == code]
        won = [r for r in answers if r.get("status") == "pending"]
        lost = [r for r in answers if "error" in r]
        assert len(won) == 1 and len(lost) == 1, answers
        assert won[0]["request_id"] == pending_id[code]
        error = lost[0]["error"]
        assert error["code"] == "request_already_pending"
        assert f"A request for shop {code} is already pending approval" in error["message"]
        assert "resend it instead" in error["message"]
        # It names the pending request, or says it is still being admitted.
        assert error["details"]["request_id"] in (pending_id[code], "being admitted")


async def test_r11_race_pair_approved_through_two_link_handlers_at_once_has_one_winner(
    stack: Stack,
) -> None:
    service = stack.service()
    partner = await service.submit(
        method=RequestMethod.REQUEST_ACCESS, bc_id=RACE_BC, shop_code=RACE_SHOP, by=RACE_ADMIN
    )
    owner = await service.submit(
        method=RequestMethod.ADD_MY_SHOP, bc_id=RACE_BC, shop_code=RACE_SHOP, by=RACE_ADMIN
    )
    web_a, web_b = stack.web_urls
    async with httpx.AsyncClient(timeout=ANSWER_SECONDS) as http:
        answers = await both_at_once(
            http,
            [
                (web_a, stack.personal_path(partner.request_id, OLI)),
                (web_b, stack.personal_path(owner.request_id, OLI)),
            ],
        )
    results = [await closed_result(stack.client, sub) for sub in (partner, owner)]

    assert sorted(r.status for r in results) == ["approved", "expired"], results
    winner, loser = (partner, owner) if results[0].status == "approved" else (owner, partner)
    with read_session(stack.engine) as session:
        won = session.get(AccessRequest, winner.request_id)
        lost = session.get(AccessRequest, loser.request_id)
    assert won is not None and won.status is RequestStatus.APPROVED
    assert lost is not None and lost.status is RequestStatus.EXPIRED
    assert lost.superseded_by == winner.request_id
    grants = active_grants(stack.engine, RACE_BC, RACE_SHOP)
    assert [g.source_request_id for g in grants] == [winner.request_id]

    # What the two sellers' browsers showed: one approval, one expiry naming the winner.
    by_id = dict(zip((partner.request_id, owner.request_id), answers, strict=True))
    assert by_id[winner.request_id].status_code == 200
    assert "<h1>Approved</h1>" in by_id[winner.request_id].text
    assert by_id[loser.request_id].status_code == 409, by_id[loser.request_id].text
    assert "This request has expired" in by_id[loser.request_id].text
    assert winner.request_id in by_id[loser.request_id].text


async def test_double_approval_through_two_link_handlers_decides_grants_and_mails_once(
    stack: Stack,
) -> None:
    service = stack.service()
    sub = await service.submit(
        method=RequestMethod.REQUEST_ACCESS, bc_id=RACE_BC, shop_code=DOUBLE_SHOP, by=RACE_ADMIN
    )
    path = stack.personal_path(sub.request_id, OLI)
    async with httpx.AsyncClient(timeout=ANSWER_SECONDS) as http:
        answers = await both_at_once(http, [(url, path) for url in stack.web_urls])
    result = await closed_result(stack.client, sub)  # the notice is sent before it closes

    assert result.status == "approved"
    for answer in answers:  # the seller sees "approved" on both tabs
        assert answer.status_code == 200, answer.text
        assert 'data-status="approved"' in answer.text
    # One tab made the decision; the other says it was already approved, by this seller.
    assert sorted("<h1>Approved</h1>" in a.text for a in answers) == [False, True], [
        a.text for a in answers
    ]
    assert any("<h1>You already approved this request</h1>" in a.text for a in answers)

    with read_session(stack.engine) as session:
        decisions = session.exec(
            select(AuditEvent).where(
                AuditEvent.entity_id == sub.request_id, AuditEvent.action == "approved"
            )
        ).all()
        notices = session.exec(
            select(EmailDelivery.key).where(
                col(EmailDelivery.key).startswith(f"access_request:{sub.request_id}:approved:")
            )
        ).all()
    assert len(decisions) == 1
    assert len(active_grants(stack.engine, RACE_BC, DOUBLE_SHOP)) == 1
    assert len(notices) == 1, notices
    sent = [
        email.message_from_bytes(p.read_bytes(), policy=policy.default)
        for p in stack.outbox.glob("*.eml")
    ]
    approved_mails = [m for m in sent if m["X-Shop-Access-Key"] == notices[0]]
    assert len(approved_mails) == 1 and RACE_ADMIN in str(approved_mails[0]["To"])
