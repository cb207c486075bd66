"""Delivering rendered e-mail: real SMTP when SMTP_URL is set, else an outbox folder of
RFC 5322 ``.eml`` files. ``deliver_once`` claims the business key in the store before
sending, so a retried activity or a restarted worker never sends a message twice.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import re
import smtplib
import ssl
import tempfile
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime
from email import policy as email_policy
from email.charset import QP, Charset
from email.generator import BytesGenerator
from email.message import EmailMessage, Message
from email.mime.multipart import MIMEMultipart
from email.mime.nonmultipart import MIMENonMultipart
from email.utils import format_datetime, getaddresses
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlsplit

from sqlalchemy import Engine

from models.tables import utcnow
from store import deliveries
from store.db import write_session

log = logging.getLogger(__name__)

EMAIL_REJECTED = "email_rejected"
"""What ``email_delivery.rejected`` and the worker log call a permanent refusal."""


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str
    # R28: the BCP 47 tag of the language it is written in (the Content-Language header).
    language: str = "en"


Record = Callable[[], AbstractContextManager[None]]
"""Entered by a transport just before the point of no return and left once the message is
taken: leaving normally commits the "sent" mark, leaving with an exception rolls it back."""


class Transport(Protocol):
    def send(self, message: Message, key: str, record: Record) -> None: ...


class EmailRejected(Exception):
    """The receiving server refused the message for good (a 5xx reply): retrying with the
    same message cannot heal it."""


# --- headers from stored text ------------------------------------------------------------

# C0 and C1 controls (CR, LF and NUL among them) and the Unicode line and paragraph
# separators, which some parsers split lines on.
_UNSAFE_IN_HEADER = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
SUBJECT_LIMIT = 200
HEADER_LIMIT = 900  # under RFC 5322's 998 octets a line, with the field name
# Headers fold only past RFC 5322's line limit: the email package's folding at 78 keeps
# the space before an encoded word at the line's end, so a long subject read back had
# two spaces where it had one.
RFC_LINE_LIMIT = 998


def header_text(value: str, limit: int = HEADER_LIMIT) -> str:
    """``value`` as one safe header value: every control character (CR, LF, NUL...) and
    line separator becomes a space and the length is bounded, so no stored text can end
    the header block early, add a header (``\\r\\nBcc: ...``) or make the generator fail.
    Non-ASCII stays, and the email package encodes it (RFC 2047) when the message is
    written."""
    if len(value) <= limit and value.isascii() and value.isprintable():
        return value  # nearly every value: no regex, no copy
    cleaned = _UNSAFE_IN_HEADER.sub(" ", value).strip()
    if len(cleaned) > limit:
        cleaned = cleaned[: limit - 1].rstrip() + "…"
    return cleaned


# --- bodies --------------------------------------------------------------------------------

# A part is sent as it is (7bit or 8bit, so ``cat`` and ``grep`` read the outbox) unless a
# line is too long for SMTP or it holds a control character 8bit forbids; then, and only
# then, quoted-printable.
_AS_IS = Charset("utf-8")
_AS_IS.body_encoding = None  # type: ignore[assignment]  # documented: None, no encoding
_QUOTED = Charset("utf-8")
_QUOTED.body_encoding = QP
_UNSAFE_IN_BODY = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_MAX_LINE = 998


def _readable(body: str) -> bool:
    if _UNSAFE_IN_BODY.search(body):
        return False
    if len(body) <= _MAX_LINE // 4:  # 4 bytes a character at most in UTF-8
        return True
    return max(map(len, body.encode().split(b"\n"))) <= _MAX_LINE


def _text_part(body: str, subtype: str) -> MIMENonMultipart:
    part = MIMENonMultipart("text", subtype)
    part.set_payload(body, _AS_IS if _readable(body) else _QUOTED)
    return part


def build_message(
    *,
    key: str,
    sender: str,
    to: str,
    email: RenderedEmail,
    domain: str = "shop-access.local",
    date: datetime | None = None,
) -> Message:
    """A multipart/alternative message (text, then HTML) with stable identifying headers.

    Every header value goes through ``header_text``, so stored text can never break or
    add a header. ``deliver_once`` sets Date to the time the key was claimed, so a repeat
    is byte-identical where it matters (Message-ID, Date) and receivers can drop it.

    ASCII addresses, nearly all of them, take the stdlib's compat32 classes: a third of
    the CPU of ``EmailMessage``, whose header objects dominated the mail activities'
    cost (docs/performance.md). Non-ASCII addresses need SMTPUTF8 and take
    ``EmailMessage``.
    """
    headers = {
        "From": header_text(sender),
        "To": header_text(to),
        "Subject": header_text(email.subject, SUBJECT_LIMIT),
        "Date": format_datetime(date or utcnow()),
        # Stable per business key: if a send is ever repeated, receivers can tell.
        "Message-ID": message_id(key, domain),
        "X-Shop-Access-Key": header_text(key),
        "Content-Language": header_text(email.language),
    }
    if not (headers["From"].isascii() and headers["To"].isascii()):
        return _international_message(headers, email)
    message = MIMEMultipart("alternative")
    for name, value in headers.items():
        message[name] = value
    message.attach(_text_part(email.text, "plain"))
    message.attach(_text_part(email.html, "html"))
    return message


def message_id(key: str, domain: str = "shop-access.local") -> str:
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:32]}@{domain}>"


def _international_message(headers: dict[str, str], email: RenderedEmail) -> EmailMessage:
    message = EmailMessage()
    for name, value in headers.items():
        if name != "Content-Language":
            message[name] = value
    message.set_content(email.text, cte="8bit" if _readable(email.text) else "quoted-printable")
    message.add_alternative(
        email.html, subtype="html", cte="8bit" if _readable(email.html) else "quoted-printable"
    )
    # set_content drops every Content-* header set before it: the language goes on after.
    message["Content-Language"] = headers["Content-Language"]
    return message


def has_8bit(message: Message) -> bool:
    return any(part.get("Content-Transfer-Encoding") == "8bit" for part in message.walk())


def quoted_copy(message: Message) -> Message:
    """``message`` with its 8bit parts quoted-printable, for a relay without 8BITMIME."""
    rebuilt = MIMEMultipart("alternative")
    for name, value in message.items():
        if name.lower() not in ("content-type", "mime-version", "content-transfer-encoding"):
            rebuilt[name] = value
    for part in message.walk():
        if part.get_content_maintype() == "text":
            body = part.get_payload(decode=True)
            assert isinstance(body, bytes)
            quoted = MIMENonMultipart("text", part.get_content_subtype())
            quoted.set_payload(body.decode("utf-8", "replace"), _QUOTED)
            rebuilt.attach(quoted)
    return rebuilt


# --- transports ----------------------------------------------------------------------------


# An international address is written as UTF-8, as SMTPUTF8 carries it, not mangled by
# RFC 2047. Made once: cloning a policy per message showed in the worker's profile.
_OUTBOX_POLICY = email_policy.SMTPUTF8.clone(linesep="\n", max_line_length=RFC_LINE_LIMIT)


class OutboxTransport:
    """Writes one ``.eml`` per message. The file name comes from the business key and the
    file appears whole (written aside, then renamed), so a repeated write replaces the same
    file: the outbox holds each message exactly once."""

    # A repeated send of one key is the same file: deliver_once needs no claim first.
    idempotent_by_key = True

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def path(self, key: str) -> Path:
        return self.directory / (hashlib.sha256(key.encode()).hexdigest()[:24] + ".eml")

    def send(self, message: Message, key: str, record: Record) -> None:
        # Serialised before any file exists: a failure here leaves none.
        data = (
            message.as_bytes(policy=_OUTBOX_POLICY)
            if isinstance(message, EmailMessage)
            else message.as_bytes()
        )
        self.directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            # No fsync: the store commits with synchronous=NORMAL, so both survive a
            # process crash (what R20 promises) and neither is forced to disk per message.
            os.replace(tmp, self.path(key))
        except BaseException:
            with suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        with record():
            pass


def _wire(message: Message, utf8: bool) -> bytes:
    """The message as SMTP's DATA carries it, CRLF line ends and leading dots doubled,
    without the final ``.`` line."""
    out = io.BytesIO()
    if isinstance(message, EmailMessage):
        smtp_policy = email_policy.SMTPUTF8 if utf8 else email_policy.SMTP
        unfolded = smtp_policy.clone(max_line_length=RFC_LINE_LIMIT)
        BytesGenerator(out, policy=unfolded).flatten(message)
    else:
        BytesGenerator(out, policy=email_policy.compat32).flatten(message, linesep="\r\n")
    data = re.sub(rb"(?m)^\.", b"..", out.getvalue())
    return data if data.endswith(b"\r\n") else data + b"\r\n"


class SmtpTransport:
    """smtp://[user[:password]@]host[:port] (STARTTLS when offered), smtps:// for TLS.

    The dialogue goes up to the message's last line first; only then does it take the
    store's write transaction that marks the key sent, send the final dot, and commit as
    soon as the server answers 250. A crash can repeat a message only between the
    server's acceptance and that commit, and the repeat has the same Message-ID and Date.
    """

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

    def _connect(self) -> smtplib.SMTP:
        if self.tls:
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                self.host, self.port, timeout=self.timeout, context=ssl.create_default_context()
            )
        else:
            client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        client.ehlo()
        if not self.tls and client.has_extn("starttls"):
            client.starttls(context=ssl.create_default_context())
            client.ehlo()
        if self.username:
            client.login(self.username, self.password or "")
        return client

    def send(self, message: Message, key: str, record: Record) -> None:
        (_, sender), (_, to) = getaddresses([str(message["From"]), str(message["To"])])
        client = self._connect()
        try:
            self._dialogue(client, message, sender, to, record)
        finally:
            with suppress(smtplib.SMTPException, OSError):
                client.quit()
            client.close()

    def _dialogue(
        self, client: smtplib.SMTP, message: Message, sender: str, to: str, record: Record
    ) -> None:
        options: list[str] = []
        utf8 = not (sender.isascii() and to.isascii())
        if utf8:
            if not client.has_extn("smtputf8"):
                raise EmailRejected("the relay does not offer SMTPUTF8 for this address")
            options += ["SMTPUTF8", "BODY=8BITMIME"]
        elif has_8bit(message):
            if client.has_extn("8bitmime"):
                options.append("BODY=8BITMIME")
            else:
                message = quoted_copy(message)
        data = _wire(message, utf8)
        _expect(client.mail(sender, options), (250,), "MAIL FROM")
        _expect(client.rcpt(to), (250, 251), f"RCPT TO <{to}>")
        _expect(client.docmd("DATA"), (354,), "DATA")
        client.send(data)
        with record():
            client.send(b".\r\n")
            _expect(client.getreply(), (250,), "end of data")


def _expect(reply: tuple[int, bytes], ok: tuple[int, ...], step: str) -> None:
    code, text = reply
    if code in ok:
        return
    said = f"{step}: {code} {text.decode('utf-8', 'replace')}"
    if 500 <= code < 600:
        raise EmailRejected(said)
    raise smtplib.SMTPResponseException(code, said)  # 4xx or odd: retried


def make_transport(smtp_url: str | None, outbox: Path) -> Transport:
    return SmtpTransport(smtp_url) if smtp_url else OutboxTransport(outbox)


# --- exactly once -------------------------------------------------------------------------


def deliver_once(engine: Engine, transport: Transport, message: Message, key: str) -> bool:
    """Send ``message`` unless the message with this key was already sent (or refused for
    good). True if the transport took it now.

    The key is claimed first: a committed row with no ``sent_at``. A retry finding the
    row sent skips; finding it only claimed (a crash mid-send) sends again, with the
    Message-ID from the key and the Date from the claim, so the repeat is the same
    message. A permanent refusal (5xx) is recorded in ``rejected`` and logged, and the
    key is never tried again: retrying cannot heal it, and the caller's other recipients
    must still get theirs.

    The outbox (``idempotent_by_key``) skips the claim: a repeat rewrites the same file, so
    the row is claimed and marked sent in one transaction after the write (one write
    transaction per message instead of two, a measurable part of the worker's CPU).
    """
    if getattr(transport, "idempotent_by_key", False):
        # The outbox: a repeat rewrites the same file, so exactly once needs no claim
        # before the write; the row is claimed and marked sent in one transaction after.
        transport.send(message, key, lambda: _claiming_sent(engine, key, message))
        return True
    with write_session(engine) as session:
        claimed_at = deliveries.claim(
            session,
            key=key,
            to_addr=str(message["To"]),
            subject=str(message["Subject"]),
            message_id=str(message["Message-ID"]),
        )
    if claimed_at is None:
        return False
    message.replace_header("Date", format_datetime(claimed_at))
    try:
        transport.send(message, key, lambda: _marking_sent(engine, key))
    except EmailRejected as refusal:
        with write_session(engine) as session:
            deliveries.mark_rejected(session, key, str(refusal))
        log.warning("%s: %s refused for good: %s", EMAIL_REJECTED, key, refusal)
        return False
    return True


@contextmanager
def _claiming_sent(engine: Engine, key: str, message: Message) -> Iterator[None]:
    with write_session(engine) as session:
        deliveries.claim_sent(
            session,
            key=key,
            to_addr=str(message["To"]),
            subject=str(message["Subject"]),
            message_id=str(message["Message-ID"]),
        )
        yield


@contextmanager
def _marking_sent(engine: Engine, key: str) -> Iterator[None]:
    with write_session(engine) as session:
        # Executed before the transport's point of no return, so the writer lock (SQLite)
        # or the row lock (PostgreSQL) is already held: after the server's 250 only the
        # commit remains, with no wait behind other writers.
        deliveries.mark_sent(session, key)
        yield
