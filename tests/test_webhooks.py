"""Signed webhooks (R26, R30) through the real worker, to a real HTTP receiver on loopback.

Events arrive signed as Standard Webhooks: the receiver verifies every one with the
``standardwebhooks`` and ``svix`` packages, as docs/webhooks.md tells receivers to. Each
has an event id, in the order the changes happened; a receiver that is down for a while
gets everything once it is back, the refused attempts in the delivery log; a replay
repeats an event with the same id; a removed subscription's dispatcher ends; a rotated
secret signs beside the previous one during the overlap, then alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import standardwebhooks
import svix.webhooks
from sqlalchemy import Engine
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from client.webhooks import start_dispatcher
from models.names import webhook_dispatcher_id
from models.settings import Settings
from models.webhook_messages import DispatchResult
from store import webhooks
from store.audit_export import Scope
from store.db import read_session, write_session
from tests.conftest import S1_SHOP, WAIT_SECONDS, wait_until
from tests.test_audit_export import request_and_approve

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # Standard Webhooks' own example secret
NEXT_SECRET = "whsec_" + "bmV4dC1zZWNyZXQtMDEyMzQ1Njc4OWFiY2RlZg=="


def signature_ok(secret: str, headers: Any, body: bytes) -> bool:
    """The receiver's check, as docs/webhooks.md gives it: one call of the Standard
    Webhooks library, and of Svix's, which must agree."""
    plain = {k.lower(): v for k, v in dict(headers).items()}
    try:
        standardwebhooks.Webhook(secret).verify(body, plain)
    except standardwebhooks.WebhookVerificationError:
        by_standard = False
    else:
        by_standard = True
    try:
        svix.webhooks.Webhook(secret).verify(body, plain)
    except svix.webhooks.WebhookVerificationError:
        by_svix = False
    else:
        by_svix = True
    assert by_standard == by_svix, (by_standard, by_svix)
    return by_standard


@dataclass
class Receiver:
    url: str = ""
    up: bool = True
    accepted: list[dict[str, Any]] = field(default_factory=list)
    refused: int = 0
    bad_signatures: int = 0
    # Accept the event numbered ``stall_at`` (1-based), then hold the answer until
    # ``release`` is set: the sender dies before it learns the event was accepted.
    stall_at: int | None = None
    release: threading.Event = field(default_factory=threading.Event)
    bodies: list[bytes] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # The secrets a POST may be signed with (rotation); which of them verified each event.
    secrets: tuple[str, ...] = (SECRET,)
    verified_by: list[set[str]] = field(default_factory=list)
    signatures: list[str] = field(default_factory=list)

    def ids(self) -> list[str]:
        with self.lock:
            return [e["id"] for e in self.accepted]

    def types(self) -> list[str]:
        with self.lock:
            return [e["type"] for e in self.accepted]


@pytest.fixture()
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            with state.lock:
                if not state.up:
                    state.refused += 1
                    self.send_response(503)
                elif not (
                    good := {s for s in state.secrets if signature_ok(s, self.headers, body)}
                ):
                    state.bad_signatures += 1
                    self.send_response(400)
                else:
                    event = json.loads(body)
                    assert self.headers["webhook-id"] == event["id"]
                    state.accepted.append(event)
                    state.bodies.append(body)
                    state.verified_by.append(good)
                    state.signatures.append(self.headers["webhook-signature"])
                    self.send_response(204)
                stall = state.stall_at is not None and len(state.accepted) == state.stall_at
            if stall:
                state.release.wait(timeout=60)
            with contextlib.suppress(OSError):  # the sender may be gone
                self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


async def subscribe(engine: Engine, client: Client, settings: Settings, receiver: Receiver) -> str:
    with write_session(engine) as session:
        sub = webhooks.add_subscription(
            session, scope=Scope(shop_code=S1_SHOP), url=receiver.url, created_by="ops",
            secret=SECRET,
        )  # fmt: skip
    await start_dispatcher(
        client, settings.task_queue, sub.id, sub.start_seq, max_wait_s=5, first_retry_s=0.5
    )
    return sub.id


def log_of(engine: Engine, sub_id: str) -> dict[str, Any]:
    with read_session(engine) as session:
        return {e.event_id: e for e in webhooks.deliveries(session, sub_id)}


STORY = ["access_request.requested", "access_request.approved", "shop_grant.granted"]


async def test_r26_events_arrive_signed_in_order_and_replay_keeps_the_id(
    demo: Engine, client: Client, settings: Settings, worker: Any, receiver: Receiver
) -> None:
    sub_id = await subscribe(demo, client, settings, receiver)
    request_id = request_and_approve(demo)
    await wait_until(lambda: len(receiver.accepted) >= 3, what="three events delivered")
    assert receiver.types() == STORY
    assert receiver.bad_signatures == 0
    ids = receiver.ids()
    assert len(set(ids)) == 3
    seqs = [e["audit"]["seq"] for e in receiver.accepted]
    assert seqs == sorted(seqs)
    first = receiver.accepted[0]
    assert first["entity"] == {"type": "access_request", "id": request_id}
    assert first["subscription"] == {"id": sub_id, "shop_code": S1_SHOP}

    def all_delivered() -> dict[str, Any] | None:
        log = log_of(demo, sub_id)
        return log if log and all(e.status == "delivered" for e in log.values()) else None

    log = await wait_until(all_delivered, what="the delivery log shows every event delivered")
    assert log is not None and set(log) == set(ids)

    with write_session(demo) as session:
        webhooks.ask_replay(session, sub_id, ids[0])
    await wait_until(lambda: receiver.ids().count(ids[0]) == 2, what="the replay")
    assert receiver.accepted[-1] == first  # the same event, the same id

    with write_session(demo) as session:
        webhooks.remove_subscription(session, sub_id, "ops")
    result = await client.get_workflow_handle(webhook_dispatcher_id(sub_id)).result()
    assert DispatchResult.model_validate(result).delivered == 4


async def test_r26_a_receiver_down_for_a_while_gets_everything_after(
    demo: Engine, client: Client, settings: Settings, worker: Any, receiver: Receiver
) -> None:
    sub_id = await subscribe(demo, client, settings, receiver)
    receiver.up = False
    request_and_approve(demo)
    # Refused attempts are logged; nothing is accepted and nothing is skipped.
    await wait_until(lambda: receiver.refused >= 3, what="three refused attempts")
    pending = log_of(demo, sub_id)
    assert [e.status for e in pending.values()] == ["pending"]
    assert next(iter(pending.values())).last_status_code == 503
    receiver.up = True
    await wait_until(lambda: len(receiver.accepted) >= 3, timeout=90, what="all events")
    assert receiver.types() == STORY
    assert len(set(receiver.ids())) == 3
    first = log_of(demo, sub_id)[receiver.ids()[0]]
    assert first.status == "delivered" and first.attempts >= 4


@pytest.mark.slow
async def test_r26_a_killed_worker_repeats_an_event_only_with_its_id(
    temporal_env: WorkflowEnvironment,
    demo: Engine,
    settings: Settings,
    receiver: Receiver,
    tmp_path: Path,
) -> None:
    """The worker PROCESS is SIGKILLed while the receiver holds its answer to event 2: the
    next worker sends event 2 again, with the same id and the same body (only the
    signature's time differs), then event 3; nothing is lost."""
    address = temporal_env.client.service_client.config.target_host
    log = tmp_path / "worker.log"
    receiver.stall_at = 2
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "DEV_MODE": "1",
        "TASK_QUEUE": settings.task_queue,
        "MAIL_OUTBOX_DIR": str(settings.mail_outbox_dir),
        "TEMPORAL_ADDRESS": address,
    }

    async def start_worker() -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            sys.executable, "worker.py", cwd=Path(__file__).resolve().parent.parent, env=env,
            stdout=log.open("ab"), stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip

    first = await start_worker()
    second = None
    try:
        await subscribe(demo, temporal_env.client, settings, receiver)
        request_and_approve(demo)
        await wait_until(
            lambda: len(receiver.accepted) >= 2, timeout=2 * WAIT_SECONDS, what="event 2 held"
        )
        first.send_signal(signal.SIGKILL)
        await first.wait()
        receiver.release.set()
        second = await start_worker()
        await wait_until(
            lambda: len(receiver.accepted) >= 4,
            timeout=2 * WAIT_SECONDS,
            what="all events",
        )
    finally:
        for proc in (first, second):
            if proc is not None and proc.returncode is None:
                proc.kill()
                await proc.wait()
    ids = receiver.ids()
    assert ids[:2] == [ids[0], ids[1]] and ids[2] == ids[1], ids  # event 2 again
    assert len(set(ids)) == 3 and receiver.types()[-1] == STORY[-1]
    assert receiver.bodies[2] == receiver.bodies[1]  # recognisable: same id, same body


async def test_r30_a_rotated_secret_signs_beside_the_previous_one_during_the_overlap(
    temporal_env: WorkflowEnvironment,
    demo: Engine,
    client: Client,
    settings: Settings,
    worker: Any,
    receiver: Receiver,
) -> None:
    """Rotation with an overlap: every event carries two signatures and receivers holding
    either secret verify it; rotating with no overlap: only the newest secret verifies."""
    from tests.test_cli import run

    third = "whsec_" + "dGhpcmQtc2VjcmV0LTAxMjM0NTY3ODlhYmNkZWZnaA=="
    receiver.secrets = (SECRET, NEXT_SECRET, third)
    sub_id = await subscribe(demo, client, settings, receiver)
    env = {"DATABASE_URL": settings.database_url, "DEV_MODE": "1"}
    rotated = await run("starter.py", "webhook", "rotate-secret", sub_id, "--secret",
                        NEXT_SECRET, "--overlap-hours", "1", "--json", env=env)  # fmt: skip
    assert rotated.code == 0, rotated.err
    assert rotated.json["secret"] == NEXT_SECRET and rotated.json["previous_secret_until"]
    request_and_approve(demo)
    await wait_until(lambda: len(receiver.accepted) >= 3, what="three events delivered")
    assert receiver.verified_by == [{SECRET, NEXT_SECRET}] * 3
    assert all(len(sig.split(" ")) == 2 for sig in receiver.signatures)

    with write_session(demo) as session:
        webhooks.rotate_secret(session, sub_id, by="ops", overlap=timedelta(0), secret=third)
        webhooks.ask_replay(session, sub_id, receiver.ids()[0])
    await wait_until(lambda: len(receiver.accepted) >= 4, what="the replay")
    assert receiver.verified_by[-1] == {third}
    assert len(receiver.signatures[-1].split(" ")) == 1


# --- the CLI: refusals change nothing ------------------------------------------------------


@pytest.mark.slow
async def test_r26_cli_refuses_bad_input_and_adds_nothing(demo: Engine) -> None:
    from tests.test_cli import dump, refused, run

    env = {
        "DATABASE_URL": demo.url.render_as_string(hide_password=False),
        "DEV_MODE": "1",
        "TEMPORAL_ADDRESS": "127.0.0.1:1",  # refusals come before Temporal is needed
    }
    url = "http://127.0.0.1:9/hooks"
    cases = [
        (["--shop-code", S1_SHOP, "--url", "ftp://x/y"], "invalid_input", "--url"),
        (["--shop-code", S1_SHOP, "--url", "http:///nohost"], "invalid_input", "--url"),
        (["--shop-code", S1_SHOP, "--url", url, "--secret", "short"], "invalid_input", "--secret"),
        # Text of the right length but not whsec_<base64>: what the old scheme took.
        (["--shop-code", S1_SHOP, "--url", url, "--secret", "x" * 40], "invalid_input", "whsec_"),
        # 16 bytes: under Standard Webhooks' 24.
        (
            ["--shop-code", S1_SHOP, "--url", url, "--secret", "whsec_" + "A" * 22 + "=="],
            "invalid_input",
            "24 to 64",
        ),
        # R31 holds in DEV_MODE too for anything but loopback (no traffic: refused first).
        (["--shop-code", S1_SHOP, "--url", "http://10.0.0.5/h"], "invalid_input", "R31"),
        (["--shop-code", S1_SHOP, "--url", "https://169.254.169.254/"], "invalid_input", "R31"),
        (["--url", url], "invalid_input", "exactly one"),
        (["--shop-code", "NOPE", "--url", url], "unknown_shop_code", ""),
        (["--bc", "12345", "--url", url], "unknown_bc", ""),
    ]
    for args, code, words in cases:
        message = refused(await run("starter.py", "webhook", "add", *args, "--json", env=env), code)
        assert words in message, (args, message)
    unknown = await run("starter.py", "webhook", "remove", "whk_nope", "--json", env=env)
    assert "whk_nope" in refused(unknown, "unknown_webhook")
    log = await run("starter.py", "webhook", "deliveries", "whk_nope", "--json", env=env)
    refused(log, "unknown_webhook")
    listed = await run("starter.py", "webhook", "list", "--json", env=env)
    assert listed.code == 0 and listed.json == {"subscriptions": []}

    with write_session(demo) as session:
        sub = webhooks.add_subscription(
            session, scope=Scope(shop_code=S1_SHOP), url=url, created_by="ops"
        )
    replay = await run("starter.py", "webhook", "replay", sub.id, "evt_1", "--json", env=env)
    assert "webhook deliveries" in refused(replay, "unknown_webhook_event")

    # Rotation refusals (R30) change nothing: not the secret, not the audit trail.
    before = dump(demo)
    rotations = [
        (["whk_nope"], "unknown_webhook", "whk_nope"),
        ([sub.id, "--overlap-hours", "-1"], "invalid_input", "--overlap-hours"),
        ([sub.id, "--overlap-hours", "721"], "invalid_input", "0 to 720"),
        ([sub.id, "--overlap-hours", "nan"], "invalid_input", "--overlap-hours"),
        ([sub.id, "--secret", "not-a-whsec-secret-at-all"], "invalid_input", "--secret"),
    ]
    for args, code, words in rotations:
        result = await run("starter.py", "webhook", "rotate-secret", *args, "--json", env=env)
        assert words in refused(result, code), args
    assert dump(demo) == before

    removed = await run("starter.py", "webhook", "remove", sub.id, "--json", env=env)
    assert removed.code == 0 and removed.json["removed_at"]
    listed = await run("starter.py", "webhook", "list", "--json", env=env)
    assert [s["id"] for s in listed.json["subscriptions"]] == [sub.id]
    assert "secret" not in listed.json["subscriptions"][0]
    before = dump(demo)
    late = await run("starter.py", "webhook", "rotate-secret", sub.id, "--json", env=env)
    assert sub.id in refused(late, "webhook_removed")
    assert dump(demo) == before


async def test_r26_cli_add_deliveries_and_remove(
    temporal_env: WorkflowEnvironment,
    demo: Engine,
    client: Client,
    settings: Settings,
    worker: Any,
    receiver: Receiver,
) -> None:
    from tests.test_cli import run

    env = {
        "DATABASE_URL": settings.database_url,
        "DEV_MODE": "1",
        "TASK_QUEUE": settings.task_queue,
        "TEMPORAL_ADDRESS": temporal_env.client.service_client.config.target_host,
    }
    added = await run("starter.py", "webhook", "add", "--shop-code", S1_SHOP.lower(),
                      "--url", receiver.url, "--secret", SECRET, "--json", env=env)  # fmt: skip
    assert added.code == 0, (added.out, added.err)
    sub_id = added.json["id"]
    assert added.json["secret"] == SECRET
    assert added.json["workflow_id"] == webhook_dispatcher_id(sub_id)
    request_and_approve(demo)
    await wait_until(lambda: len(receiver.accepted) >= 3, what="three events delivered")
    assert receiver.types() == STORY and receiver.bad_signatures == 0
    log = await run("starter.py", "webhook", "deliveries", sub_id, "--json", env=env)
    assert [(d["type"], d["status"]) for d in reversed(log.json["deliveries"])] == [
        (t, "delivered") for t in STORY
    ]
    removed = await run("starter.py", "webhook", "remove", sub_id, "--json", env=env)
    assert removed.code == 0
    result = await client.get_workflow_handle(webhook_dispatcher_id(sub_id)).result()
    assert DispatchResult.model_validate(result).delivered == 3


# --- waiting: one read of the chain's head per process -------------------------------------


async def test_r26_idle_waits_share_one_read_of_the_chain_head(demo: Engine) -> None:
    """However many subscriptions wait, the process reads the audit chain's head once per
    poll and no subscription or scope until the head moves; a change then wakes every
    wait, and those of its scope return with it."""
    from sqlalchemy import event
    from temporalio.testing import ActivityEnvironment

    from activities.webhooks import WebhookActivities
    from client.safe_targets import TargetPolicy
    from models.webhook_messages import EventBatch, WaitForEvents

    waits = 20
    with write_session(demo) as session:
        subs = [
            webhooks.add_subscription(
                session, scope=Scope(shop_code=S1_SHOP), url="https://192.0.43.10/h",
                created_by="ops",
            )
            for _ in range(waits)
        ]  # fmt: skip
        started = [(s.id, s.start_seq) for s in subs]
    activities = WebhookActivities(demo, TargetPolicy())
    statements: list[str] = []
    event.listen(demo, "before_cursor_execute", lambda *a: statements.append(str(a[2])))
    tasks = [
        asyncio.create_task(
            ActivityEnvironment().run(
                activities.wait_for_events,
                WaitForEvents(subscription_id=sub_id, after_seq=start, max_wait_s=600),
            )
        )
        for sub_id, start in started
    ]
    head = activities.head
    await wait_until(lambda: head.polls >= 2 and head.waiting == waits, what="every wait waiting")
    polls = head.polls
    statements.clear()
    await wait_until(lambda: head.polls >= polls + 4, what="four more polls")
    assert [s for s in statements if "webhook" in s] == []  # no wait read anything
    assert 4 <= sum("audit_chain_head" in s for s in statements) < waits

    request_and_approve(demo)
    batches: list[EventBatch] = await asyncio.wait_for(asyncio.gather(*tasks), WAIT_SECONDS)
    assert all(len(b.seqs) == 3 for b in batches)
