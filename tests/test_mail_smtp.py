"""R7 and R20 over real SMTP: an aiosmtpd server on loopback receives what the worker sends
when SMTP_URL is set.

Each member of the shop's team gets one e-mail with a text and an HTML part and their own
approval link; names are escaped in HTML; a retried delivery sends once.
"""

from __future__ import annotations

import asyncio
import email
import re
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage, Message
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import Engine
from sqlmodel import select

from activities.delivery import RenderedEmail, SmtpTransport, build_message, deliver_once
from models.enums import RequestMethod
from models.settings import Settings
from models.tables import EmailDelivery
from service.links import LinkSigner
from service.requests import RequestService
from store.db import read_session
from tests.conftest import load_data

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
    """What the SMTP server accepted: envelope recipients and the parsed message."""

    messages: list[tuple[list[str], EmailMessage]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
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
    deadline = time.monotonic() + 15
    while len(received.messages) < len(TEAM) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.3)  # nothing more follows
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
