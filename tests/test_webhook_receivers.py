"""R30: the receivers docs/webhooks.md gives, in Python and in Node.js, verify real
deliveries from the real worker with the Standard Webhooks libraries (``standardwebhooks``
on PyPI, ``standardwebhooks`` on npm), and refuse what the secret did not sign.

The npm package is installed from the registry into ``var/npm`` once and kept there for
later runs. Without Node.js (or npm) the Node case skips and says so; with REQUIRE_NODE=1
(set by .ci/run) it fails instead.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
import standardwebhooks
from sqlalchemy import Engine
from temporalio.client import Client

from client.webhooks import start_dispatcher
from models.settings import Settings
from store import webhooks
from store.audit_export import Scope
from store.db import write_session
from tests.conftest import S1_SHOP, WAIT_SECONDS
from tests.test_audit_export import request_and_approve
from tests.test_webhooks import NEXT_SECRET, SECRET, STORY

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "docs" / "examples"
NPM_PREFIX = ROOT / "var" / "npm"
NPM_PACKAGE = "standardwebhooks@1.3.0"
REQUIRE_NODE = os.environ.get("REQUIRE_NODE") == "1"


def _missing(reason: str) -> None:
    if REQUIRE_NODE:
        pytest.fail(reason + " (REQUIRE_NODE=1)")
    pytest.skip(reason)


def node_modules() -> Path:
    """``var/npm/node_modules`` holding the npm standardwebhooks package, installed from
    the registry the first time."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        _missing("Node.js (node and npm) is not installed: the Node receiver is not tested")
    modules = NPM_PREFIX / "node_modules"
    if not (modules / "standardwebhooks" / "package.json").exists():
        NPM_PREFIX.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            [str(npm), "install", "--no-audit", "--no-fund", "--prefix", str(NPM_PREFIX),
             NPM_PACKAGE],
            capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        if done.returncode != 0:
            _missing(f"npm install {NPM_PACKAGE} failed: {done.stderr.strip()[-300:]}")
    return modules


class Running:
    def __init__(self, proc: asyncio.subprocess.Process, url: str) -> None:
        self.proc = proc
        self.url = url

    async def line(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        raw = await asyncio.wait_for(self.proc.stdout.readline(), WAIT_SECONDS)
        assert raw, "the receiver stopped"
        event: dict[str, Any] = json.loads(raw)
        return event


@pytest_asyncio.fixture(params=["python", "node"])
async def example_receiver(request: pytest.FixtureRequest) -> AsyncIterator[Running]:
    env = {**os.environ, "WEBHOOK_SECRET": SECRET, "PORT": "0"}
    if request.param == "node":
        env["NODE_PATH"] = str(node_modules())
        command = [str(shutil.which("node")), str(EXAMPLES / "webhook_receiver.js")]
    else:
        command = [sys.executable, str(EXAMPLES / "webhook_receiver.py")]
    proc = await asyncio.create_subprocess_exec(
        *command, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    try:
        assert proc.stdout is not None
        first = (await asyncio.wait_for(proc.stdout.readline(), WAIT_SECONDS)).decode()
        assert first.startswith("listening on "), first
        yield Running(proc, f"http://127.0.0.1:{int(first.split()[-1])}/hooks")
    finally:
        if proc.returncode is None:
            proc.kill()
        await proc.wait()


async def test_r30_the_documented_receivers_verify_real_deliveries(
    demo: Engine, client: Client, settings: Settings, worker: Any, example_receiver: Running
) -> None:
    with write_session(demo) as session:
        sub = webhooks.add_subscription(
            session,
            scope=Scope(shop_code=S1_SHOP),
            url=example_receiver.url,
            created_by="ops",
            secret=SECRET,
        )
        sub_id, start = sub.id, sub.start_seq
    await start_dispatcher(client, settings.task_queue, sub_id, start, max_wait_s=5)
    try:
        request_id = request_and_approve(demo)
        events = [await example_receiver.line() for _ in STORY]
        assert [e["type"] for e in events] == STORY
        assert events[0]["entity"] == request_id

        # Signed with another secret, or altered after signing: refused, not printed.
        body = json.dumps({"id": "evt_0", "type": "access_request.approved"}).encode()
        msg_id, now = "evt_0", int(time.time())
        foreign = webhooks.signed_headers([NEXT_SECRET], msg_id, body, now)
        genuine = webhooks.signed_headers([SECRET], msg_id, body, now)
        async with httpx.AsyncClient() as http:
            refused = await http.post(example_receiver.url, content=body, headers=foreign)
            altered = await http.post(
                example_receiver.url, content=body.replace(b"approved", b"revoked"), headers=genuine
            )
        assert (refused.status_code, altered.status_code) == (400, 400)
        # The library the docs name agrees with the receivers (and with our signer).
        standardwebhooks.Webhook(SECRET).verify(body, dict(genuine))
    finally:
        with write_session(demo) as session:
            webhooks.remove_subscription(session, sub_id, "ops")
