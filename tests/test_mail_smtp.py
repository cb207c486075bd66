"""R7 and R20 over real SMTP: an aiosmtpd server on loopback receives what the worker sends
when SMTP_URL is set.

Each member of the shop's team gets one e-mail with a text and an HTML part and their own
approval link; names are escaped in HTML; a retried delivery sends once.
"""

from __future__ import annotations

import asyncio
import email
import re
import smtplib
import socket
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage, Message
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import Engine
from sqlmodel import select

from activities.delivery import (
    Record,
    RenderedEmail,
    SmtpTransport,
    build_message,
    deliver_once,
)
from client.access_requests import RequestService
from client.links import LinkSigner
from models.enums import RequestMethod, RequestStatus
from models.messages import ApproveRequest, RequestState
from models.names import Message as WorkflowMessage
from models.settings import Settings
from models.tables import EmailDelivery
from store.db import read_session
from tests.conftest import load_data, wait_until

BOLD_BC = 7100000000000000077
BOLD_NAME = "Agency <b>Bold</b> & Co"
TEAM = {
    "owner@mailshop.example": "owner",
    "admin@mailshop.example": "main_admin",
    "ads@mailshop.example": "ad_manager",
}
DATA = {
    "users": [{"email": "max@bold.example", "name": "Max"}],
    "business_centers": [
        {"id": BOLD_BC, "name": BOLD_NAME, "type": "agency", "country": "SG",
         "timezone": "Asia/Singapore", "members": [{"email": "max@bold.example", "role": "admin"}]},
    ],
    "shops": [
        {"code": "MAILSHOP01", "name": "Mail Shop", "location": "SG", "linked_bc": None,
         "team": [{"email": e, "role": r} for e, r in TEAM.items()]},
    ],
}  # fmt: skip


@dataclass
class Received:
    """What the SMTP server accepted: envelope recipients and the parsed message.

    ``refuse`` maps a recipient to the reply its RCPT gets instead of 250; ``on_data``
    runs when the final dot arrives, before the server answers."""

    messages: list[tuple[list[str], EmailMessage]] = field(default_factory=list)
    refuse: dict[str, str] = field(default_factory=dict)
    rcpts: list[str] = field(default_factory=list)
    on_data: Callable[[], None] | None = None

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        self.rcpts.append(address)
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.on_data is not None:
            self.on_data()
        parsed = email.message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append((list(envelope.rcpt_tos), parsed))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture()
def smtp() -> Iterator[tuple[str, Received]]:
    received = Received()
    controller = Controller(received, hostname="127.0.0.1", port=free_port(), enable_SMTPUTF8=True)
    controller.start()
    try:
        yield f"smtp://127.0.0.1:{controller.port}", received
    finally:
        controller.stop()


@pytest.fixture()
def settings(engine: Engine, tmp_path: Path, smtp: tuple[str, Received]) -> Settings:
    """Overrides conftest's: the worker delivers over SMTP instead of to the outbox."""
    return Settings(
        database_url=engine.url.render_as_string(hide_password=False),
        task_queue=f"test-{uuid.uuid4().hex[:10]}",
        mail_outbox_dir=tmp_path / "outbox",
        smtp_url=smtp[0],
        dev_mode=True,
        link_base_url="http://127.0.0.1:8000",
    )


async def test_r7_each_team_member_gets_one_email_with_their_own_link(
    service: RequestService, demo: Engine, settings: Settings, smtp: tuple[str, Received]
) -> None:
    load_data(demo, DATA)
    _, received = smtp
    sub = await service.submit(
        method=RequestMethod.REQUEST_ACCESS, bc_id=BOLD_BC, shop_code="MAILSHOP01",
        by="max@bold.example",
    )  # fmt: skip
    handle = service.client.get_workflow_handle(sub.workflow_id)

    async def team_mailed() -> bool:
        state = await handle.query(WorkflowMessage.STATE, result_type=RequestState)
        return state.first_email_sent

    # The team's e-mail activity has finished: every member's message was accepted (the
    # server records it before its 250), and nothing more is sent for this request.
    await wait_until(team_mailed, what="the team's e-mails sent")
    assert sorted(r for rcpts, _ in received.messages for r in rcpts) == sorted(TEAM)
    assert not (settings.mail_outbox_dir).exists()  # SMTP, not the outbox

    links = LinkSigner(settings.secret_key.get_secret_value(), settings.link_base_url)
    for rcpts, message in received.messages:
        (recipient,) = rcpts
        assert message["To"] == recipient
        assert BOLD_NAME in message["Subject"] and "Mail Shop" in message["Subject"]
        text_part = message.get_body(preferencelist=("plain",))
        html_part = message.get_body(preferencelist=("html",))
        assert text_part is not None and html_part is not None
        text, html = text_part.get_content(), html_part.get_content()
        # The personal link: signed for this request and this recipient only (R7, R13).
        tokens = set(re.findall(r"/approve/([A-Za-z0-9_.\-]+)", text))
        assert len(tokens) == 1
        (token,) = tokens
        claims = links.verify(token)
        assert claims is not None
        assert (claims.request_id, claims.email) == (sub.request_id, recipient)
        assert token in html
        # Names are data, not markup: escaped in HTML, verbatim in text.
        assert "Agency &lt;b&gt;Bold&lt;/b&gt; &amp; Co" in html
        assert "<b>Bold</b>" not in html
        assert BOLD_NAME in text
    with read_session(demo) as session:
        rows = session.exec(select(EmailDelivery)).all()
    assert len(rows) == len(TEAM) and all(r.sent_at is not None for r in rows)


def test_r20_a_retried_delivery_sends_once(
    sqlite_engine: Engine, smtp: tuple[str, Received]
) -> None:
    url, received = smtp
    transport = SmtpTransport(url, timeout=5)
    key = "access_request:req_retry:send:1:to:1"

    def message() -> Message:
        return build_message(
            key=key, sender="Shop Access <no-reply@shop-access.local>", to="owner@x.example",
            email=RenderedEmail(subject="Hello", text="text", html="<p>html</p>"),
        )  # fmt: skip

    assert deliver_once(sqlite_engine, transport, message(), key) is True
    assert deliver_once(sqlite_engine, transport, message(), key) is False  # the retry
    assert len(received.messages) == 1
    rcpts, sent = received.messages[0]
    assert rcpts == ["owner@x.example"] and sent["X-Shop-Access-Key"] == key


@pytest.mark.parametrize(
    "to", ["owner@x.example", "jürgen@müller.example"], ids=["ascii", "international"]
)
def test_r7_a_message_arrives_whole_over_smtp(to: str, smtp: tuple[str, Received]) -> None:
    """ASCII addresses take the fast compat32 build, others SMTPUTF8; both arrive intact:
    the subject's dash, both parts' accents and the recipient the server saw."""
    url, received = smtp
    rendered = RenderedEmail(
        subject="Zugriff — Müller Shop", text="Grüße, Jürgen\n", html="<p>Grüße, Jürgen</p>\n"
    )
    message = build_message(key="k:1", sender="no-reply@shop-access.local", to=to, email=rendered)
    SmtpTransport(url, timeout=5).send(message, "k:1", nullcontext)
    ((rcpts, sent),) = received.messages
    assert rcpts == [to] and sent["To"] == to
    assert sent["Subject"] == rendered.subject
    text_part = sent.get_body(preferencelist=("plain",))
    html_part = sent.get_body(preferencelist=("html",))
    assert text_part is not None and html_part is not None
    # (SMTPUTF8 sends 8-bit parts, whose line ends arrive as CRLF.)
    assert text_part.get_content().replace("\r\n", "\n") == rendered.text
    assert html_part.get_content().replace("\r\n", "\n") == rendered.html


# --- exactly once (R20), and refusals ------------------------------------------------------


class CutOff(Exception):
    """The worker dies after the server's 250 and before the store's commit."""


class DiesBeforeCommit:
    """A transport whose process dies in the one window left: the server has accepted the
    message, the "sent" mark is not committed (so it rolls back)."""

    def __init__(self, inner: SmtpTransport) -> None:
        self.inner = inner

    def send(self, message: Message, key: str, record: Record) -> None:
        @contextmanager
        def dying() -> Iterator[None]:
            with record():
                yield
                raise CutOff

        self.inner.send(message, key, dying)


def _message(key: str, to: str = "owner@x.example", date: datetime | None = None) -> Message:
    return build_message(
        key=key, sender="Shop Access <no-reply@shop-access.local>", to=to, date=date,
        email=RenderedEmail(subject="Hello", text="text\n", html="<p>html</p>\n"),
    )  # fmt: skip


def _row(engine: Engine, key: str) -> EmailDelivery:
    with read_session(engine) as session:
        row = session.get(EmailDelivery, key)
    assert row is not None
    return row


def test_r20_a_repeat_after_a_crash_mid_send_has_the_same_message_id_and_date(
    store_engine: Engine, smtp: tuple[str, Received]
) -> None:
    url, received = smtp
    transport = SmtpTransport(url, timeout=5)
    key = "access_request:req_cut:approved:to:9"
    with pytest.raises(CutOff):
        deliver_once(store_engine, DiesBeforeCommit(transport), _message(key), key)
    assert _row(store_engine, key).sent_at is None  # claimed, not marked: send again
    # The retry builds its message later; the claim's time, not the build's, is its Date.
    later = datetime(2031, 1, 1, tzinfo=UTC)
    assert deliver_once(store_engine, transport, _message(key, date=later), key) is True
    assert deliver_once(store_engine, transport, _message(key), key) is False
    first, second = (m for _, m in received.messages)
    assert len(received.messages) == 2
    assert (first["Message-ID"], first["Date"]) == (second["Message-ID"], second["Date"])
    assert _row(store_engine, key).sent_at is not None


def test_r20_the_sent_mark_holds_the_write_lock_before_the_final_dot(
    sqlite_engine: Engine, smtp: tuple[str, Received]
) -> None:
    """When the server sees the final dot, our write transaction already holds SQLite's
    writer lock (so nothing can delay the commit after the 250), and its mark is not yet
    visible; once the server answered, it is committed."""
    url, received = smtp
    database = sqlite_engine.url.database
    assert database is not None
    key = "access_request:req_lock:send:1:to:3"
    seen: list[tuple[bool, object]] = []

    def at_final_dot() -> None:
        other = sqlite3.connect(database, timeout=0, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
            locked = False
        except sqlite3.OperationalError:
            locked = True
        sent_at = other.execute("SELECT sent_at FROM email_delivery WHERE key = ?", (key,))
        seen.append((locked, sent_at.fetchone()[0]))
        other.close()

    received.on_data = at_final_dot
    assert deliver_once(sqlite_engine, SmtpTransport(url, timeout=5), _message(key), key)
    assert seen == [(True, None)]
    assert _row(sqlite_engine, key).sent_at is not None


def test_a_permanent_refusal_is_recorded_and_never_retried(
    store_engine: Engine, smtp: tuple[str, Received]
) -> None:
    url, received = smtp
    received.refuse["nobody@x.example"] = "550 5.1.1 no such user"
    transport = SmtpTransport(url, timeout=5)
    key = "access_request:req_550:send:1:to:4"
    message = _message(key, to="nobody@x.example")
    assert deliver_once(store_engine, transport, message, key) is False
    row = _row(store_engine, key)
    assert row.sent_at is None and row.rejected is not None and "550" in row.rejected
    assert deliver_once(store_engine, transport, _message(key, "nobody@x.example"), key) is False
    assert received.rcpts == ["nobody@x.example"]  # the retry did not even connect
    assert received.messages == []


def test_a_transient_refusal_retries_and_then_sends_once(
    store_engine: Engine, smtp: tuple[str, Received]
) -> None:
    url, received = smtp
    received.refuse["busy@x.example"] = "451 4.3.0 try again later"
    transport = SmtpTransport(url, timeout=5)
    key = "access_request:req_451:send:1:to:5"
    with pytest.raises(smtplib.SMTPResponseException):
        deliver_once(store_engine, transport, _message(key, "busy@x.example"), key)
    row = _row(store_engine, key)
    assert row.sent_at is None and row.rejected is None  # still to be sent
    del received.refuse["busy@x.example"]
    assert deliver_once(store_engine, transport, _message(key, "busy@x.example"), key)
    assert [rcpts for rcpts, _ in received.messages] == [["busy@x.example"]]


async def test_a_refused_team_member_does_not_stop_the_others(
    service: RequestService, demo: Engine, smtp: tuple[str, Received]
) -> None:
    """Through the real worker: the owner's server refuses for good; the main admin and
    the ad manager still get theirs, the request stays pending and can be approved."""
    _, received = smtp
    received.refuse["owner@mailshop.example"] = "550 5.1.1 mailbox unavailable"
    load_data(demo, DATA)
    sub = await service.submit(
        method=RequestMethod.REQUEST_ACCESS, bc_id=BOLD_BC, shop_code="MAILSHOP01",
        by="max@bold.example",
    )  # fmt: skip

    def settled() -> dict[str, EmailDelivery]:
        with read_session(demo) as session:
            rows = {r.to_addr: r for r in session.exec(select(EmailDelivery)).all()}
        done = [a for a, r in rows.items() if r.sent_at is not None or r.rejected is not None]
        return rows if len(done) == len(TEAM) else {}

    deadline = time.monotonic() + 15
    while not (rows := settled()):
        assert time.monotonic() < deadline, "the team's e-mails never settled"
        await asyncio.sleep(0.05)
    assert sorted(r for rcpts, _ in received.messages for r in rcpts) == sorted(
        set(TEAM) - {"owner@mailshop.example"}
    )
    assert rows["owner@mailshop.example"].rejected is not None
    assert all(rows[a].sent_at for a in TEAM if a != "owner@mailshop.example")
    outcome = await service.approve(
        sub.request_id,
        ApproveRequest(
            by="admin@mailshop.example", new_bc_name="Mail Shop BC", timezone="Asia/Singapore"
        ),
    )
    assert outcome.status == RequestStatus.APPROVED
    deadline = time.monotonic() + 15  # R14: and the requester is told
    while ["max@bold.example"] not in [r for r, _ in received.messages]:
        assert time.monotonic() < deadline, "the approval e-mail never came"
        await asyncio.sleep(0.05)


def test_r7_lines_starting_with_a_dot_arrive_intact(smtp: tuple[str, Received]) -> None:
    """We send DATA ourselves (to mark the key sent around the final dot), so we also
    double leading dots: a lone "." line must not end the message early."""
    url, received = smtp
    text = "first\n.\n.leading dot\n..two\nlast\n"
    rendered = RenderedEmail(subject="Dots", text=text, html="<p>.</p>\n.\n")
    message = build_message(key="k:dots", sender="no-reply@shop-access.local",
                            to="owner@x.example", email=rendered)  # fmt: skip
    SmtpTransport(url, timeout=5).send(message, "k:dots", nullcontext)
    ((_, sent),) = received.messages
    text_part = sent.get_body(preferencelist=("plain",))
    html_part = sent.get_body(preferencelist=("html",))
    assert text_part is not None and html_part is not None
    assert text_part.get_content().replace("\r\n", "\n") == text
    assert html_part.get_content().replace("\r\n", "\n") == rendered.html
