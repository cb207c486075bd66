"""Delivering rendered e-mail: real SMTP when SMTP_URL is set, else an outbox folder of
RFC 5322 ``.eml`` files. ``deliver_once`` makes a retried activity never send twice.
"""

from __future__ import annotations

import hashlib
import os
import smtplib
import ssl
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from email.charset import BASE64, Charset
from email.message import EmailMessage, Message
from email.mime.multipart import MIMEMultipart
from email.mime.nonmultipart import MIMENonMultipart
from email.utils import formatdate
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlsplit

from sqlalchemy import Engine
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from models.tables import EmailDelivery, utcnow
from store.db import read_session, write_session


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


class Transport(Protocol):
    def send(self, message: Message, key: str) -> None: ...


class OutboxTransport:
    """Writes one ``.eml`` per message. The file name comes from the business key, so a
    repeated write replaces the same file instead of adding a second message."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def send(self, message: Message, key: str) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        name = hashlib.sha256(key.encode()).hexdigest()[:24] + ".eml"
        fd, tmp = tempfile.mkstemp(dir=self.directory, suffix=".tmp")
        with os.fdopen(fd, "wb") as out:
            out.write(message.as_bytes())
        os.replace(tmp, self.directory / name)


class SmtpTransport:
    """smtp://[user[:password]@]host[:port] (STARTTLS when offered), smtps:// for TLS."""

    def __init__(self, url: str, timeout: float = 30.0) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError(f"SMTP_URL must look like smtp://host:port, not {url!r}")
        self.tls = parts.scheme == "smtps"
        self.host = parts.hostname
        self.port = parts.port or (465 if self.tls else 25)
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.timeout = timeout

    def send(self, message: Message, key: str) -> None:
        if self.tls:
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                self.host, self.port, timeout=self.timeout, context=ssl.create_default_context()
            )
        else:
            client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        with client:
            client.ehlo()
            if not self.tls and client.has_extn("starttls"):
                client.starttls(context=ssl.create_default_context())
                client.ehlo()
            if self.username:
                client.login(self.username, self.password or "")
            client.send_message(message)


def make_transport(smtp_url: str | None, outbox: Path) -> Transport:
    return SmtpTransport(smtp_url) if smtp_url else OutboxTransport(outbox)


_UTF8 = Charset("utf-8")
_UTF8.body_encoding = BASE64


def build_message(
    *, key: str, sender: str, to: str, email: RenderedEmail, domain: str = "shop-access.local"
) -> Message:
    """A multipart/alternative message (text, then HTML) with stable identifying headers.

    ASCII addresses, nearly all of them, take the stdlib's compat32 classes: a third of
    the CPU of ``EmailMessage``, whose header objects dominated the mail activities'
    cost (docs/performance.md). Non-ASCII addresses need SMTPUTF8 and take
    ``EmailMessage``.
    """
    headers = {
        "From": sender,
        "To": to,
        "Subject": email.subject,
        "Date": formatdate(localtime=False),
        # Stable per business key: if a send is ever repeated, receivers can tell.
        "Message-ID": f"<{hashlib.sha256(key.encode()).hexdigest()[:32]}@{domain}>",
        "X-Shop-Access-Key": key,
    }
    if not (sender.isascii() and to.isascii()):
        return _international_message(headers, email)
    message = MIMEMultipart("alternative")
    for name, value in headers.items():
        message[name] = value
    for body, subtype in ((email.text, "plain"), (email.html, "html")):
        part = MIMENonMultipart("text", subtype)
        part.set_payload(body, _UTF8)
        message.attach(part)
    return message


def _international_message(headers: dict[str, str], email: RenderedEmail) -> EmailMessage:
    message = EmailMessage()
    for name, value in headers.items():
        message[name] = value
    message.set_content(email.text)
    message.add_alternative(email.html, subtype="html")
    return message


def delivered(session: Session, keys: Iterable[str]) -> set[str]:
    """Which of ``keys`` were already sent: for activities that read their context in one
    session anyway, instead of a session per message in ``deliver_once``."""
    wanted = list(keys)
    if not wanted:
        return set()
    return set(
        session.exec(select(EmailDelivery.key).where(col(EmailDelivery.key).in_(wanted))).all()
    )


def deliver_once(engine: Engine, transport: Transport, message: Message, key: str) -> bool:
    """Send ``message`` unless the message with this key was already sent. True if sent."""
    with read_session(engine) as session:
        if session.get(EmailDelivery, key) is not None:
            return False
    deliver(engine, transport, message, key)
    return True


def deliver(engine: Engine, transport: Transport, message: Message, key: str) -> None:
    """Send ``message``, found not yet sent, and record it under ``key``.

    A row is written only once the transport has taken the message. A crash between the
    two sends again on retry (the outbox rewrites the same file; SMTP may deliver a
    duplicate with the same Message-ID): at least once is the best any mail transport
    offers, and the window is one database write wide.
    """
    transport.send(message, key)
    with write_session(engine) as session:
        # A retry racing this one may have recorded the key since: keep the first row.
        session.exec(
            _RECORD[engine.dialect.name],
            params={
                "key": key,
                "to_addr": str(message["To"]),
                "subject": str(message["Subject"])[:300],
                "message_id": str(message["Message-ID"]),
                "created_at": utcnow(),
                "sent_at": utcnow(),
            },
        )


_RECORD = {
    "sqlite": sqlite_insert(EmailDelivery).on_conflict_do_nothing(index_elements=["key"]),
    "postgresql": postgresql_insert(EmailDelivery).on_conflict_do_nothing(index_elements=["key"]),
}
