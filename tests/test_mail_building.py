"""Bad input (defence in depth) and the house rules: building an e-mail from stored text never
fails and never breaks a header, whatever the text holds; the outbox is readable as it is.

Every builder in activities.emails gets, in each of its stored-text fields in turn, text
with CR, LF, NUL, a line separator, RTL marks or 10 kB: the message written to the outbox
parses back with exactly the headers we set, one each, no header line over 998 octets,
and both parts carry the link (R7, R20: a request can never be wedged by a name).
"""

from __future__ import annotations

import email
import subprocess
import uuid
from collections import Counter
from collections.abc import Callable
from contextlib import nullcontext
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlmodel import select

from activities import emails
from activities.delivery import (
    SUBJECT_LIMIT,
    OutboxTransport,
    RenderedEmail,
    build_message,
    has_8bit,
    header_text,
    quoted_copy,
)
from activities.mailer import MailActivities
from client.links import LinkSigner
from models.enums import RequestMethod
from models.messages import SendRequestEmails
from models.tables import EmailDelivery
from store import deliveries
from store.admission import admit_request
from store.db import read_session, write_session
from tests.conftest import load_data

LINK = "http://127.0.0.1:8000/approve/" + "Tok3n-_." * 20
KEY = "access_request:req_x:send:1:to:7"
SENDER = "Shop Access <no-reply@shop-access.local>"
NASTY = {
    "crlf_bcc": "Acme\r\nBcc: evil@attacker.example",
    "bare_lf": "Broken\nNot a header line",
    "bare_cr": "Carriage\rReturn: yes",
    "nul": "Nul\x00in the middle",
    "separators": "Line\u2028separator\x85next\u2029para\x0bvt",
    "rtl": "\u200fRTL mark \u202eevil.exe\u202c",
    "ascii_10kb": "x" * 10_000,
    "words_10kb": "Acme Shop " * 1_000,
    "non_ascii_10kb": "Grüße—店铺" * 1_250 + "\r\nBcc: evil@attacker.example",
}
# The headers every message has, once each: what a receiver and our own tests rely on.
HEADERS = Counter(
    ["content-type", "mime-version", "from", "to", "subject", "date", "message-id",
     "x-shop-access-key", "content-language"]
)  # fmt: skip


def _builders() -> dict[str, tuple[Callable[..., RenderedEmail], dict[str, Any]]]:
    """Each builder with ordinary values for every field; link and flags are not text."""
    request = {
        "recipient_name": "Oli", "bc_name": "Agency One", "bc_id": 7100000000000000001,
        "requester": "ana@agency-one.com", "shop_name": "Linked Shop",
        "shop_code": "GBLINKED01", "method_label": "Request access to other's TikTok Shop",
        "permission_label": "partner with Ad promotion permission", "link": LINK,
    }  # fmt: skip
    return {
        "approval_request": (emails.approval_request, {**request, "resend": False}),
        "personal_link": (emails.personal_link, request),
        "request_approved": (
            emails.request_approved,
            {
                **{k: request[k] for k in ("recipient_name", "bc_name", "bc_id", "shop_name")},
                "shop_code": "GBLINKED01",
                "method_label": "Add my TikTok Shop",
                "relationship": "partner",
                "permission_label": "Manager permission",
                "approved_by": "oli@brand-linked.com",
            },
        ),
        # R22's notice (the reason is stored text too) and R25's reminder.
        "request_declined": (
            emails.request_declined,
            {
                **{k: request[k] for k in ("recipient_name", "bc_name", "bc_id", "shop_name")},
                "shop_code": "GBLINKED01",
                "method_label": "Add my TikTok Shop",
                "declined_by": "oli@brand-linked.com",
                "reason": "We only work with agencies we know",
            },
        ),
        "request_reminder": (emails.request_reminder, {**request, "waited_days": 3}),
        "member_invitation": (
            emails.member_invitation,
            {
                "bc_name": "Agency One",
                "bc_id": 1,
                "invited_by": "ana@agency-one.com",
                "role": "standard",
                "ad_accounts": [("Main ads", 42, "operator")],
                "link": LINK,
            },
        ),
        "partner_invitation": (
            emails.partner_invitation,
            {
                "recipient_name": "Lee",
                "bc_name": "Agency One",
                "bc_id": 1,
                "partner_bc_name": "Sub Agency",
                "partner_bc_id": 2,
                "invited_by": "ana@agency-one.com",
                "shops": [
                    (
                        "Linked Shop",
                        "GBLINKED01",
                        "ad_promotion",
                        datetime(2027, 1, 31, tzinfo=UTC),
                    ),
                    ("Other Shop", "USADMIN003", "manager", None),
                ],
                "link": LINK,
            },
        ),
        "access_removed": (
            emails.access_removed,
            {
                "recipient_name": "Lee",
                "bc_name": "Sub Agency",
                "bc_id": 2,
                "shop_name": "Linked Shop",
                "shop_code": "GBLINKED01",
                "removed_by": "oli@brand-linked.com",
                "direct": True,
            },
        ),
        "access_ending": (  # R23
            emails.access_ending,
            {
                "recipient_name": "Ana",
                "bc_name": "Agency One",
                "bc_id": 1,
                "shop_name": "Linked Shop",
                "shop_code": "GBLINKED01",
                "ends_at": datetime(2027, 2, 1, tzinfo=UTC),
            },
        ),
        "assignment_ending": (  # R23: the member holding an assignment
            emails.assignment_ending,
            {
                "recipient_name": "Sam",
                "bc_name": "Agency One",
                "bc_id": 1,
                "shop_name": "Linked Shop",
                "shop_code": "GBLINKED01",
                "permission_label": "Manager permission",
                "ends_at": datetime(2027, 2, 1, tzinfo=UTC),
                "admins": [("Ana", "ana@agency-one.com")],
            },
        ),
    }


def _with_nasty(value: Any, nasty: str) -> Any:
    """The field's value with every text in it replaced by ``nasty`` (tuples in lists too)."""
    if isinstance(value, str):
        return nasty
    if isinstance(value, list):
        return [tuple(nasty if isinstance(x, str) else x for x in item) for item in value]
    return value


def _text_fields(fields: dict[str, Any]) -> list[str]:
    return [k for k, v in fields.items() if k != "link" and isinstance(v, str | list)]


def assert_sound(raw: bytes, *, link: str | None, key: str = KEY) -> EmailMessage:
    """The message parses back with our headers once each, short header lines, no defect,
    and (when it has one) the link whole in both parts."""
    head = raw.split(b"\n\n", 1)[0]
    assert all(len(line.rstrip(b"\r")) <= 998 for line in head.split(b"\n"))
    parsed = email.message_from_bytes(raw, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    assert Counter(name.lower() for name in parsed) == HEADERS
    assert not parsed.defects
    assert "\n" not in str(parsed["Subject"]) and "\r" not in str(parsed["Subject"])
    assert len(str(parsed["Subject"])) <= SUBJECT_LIMIT
    assert parsed["X-Shop-Access-Key"] == key
    parts = {p.get_content_subtype(): p for p in parsed.iter_parts()}
    assert set(parts) == {"plain", "html"}
    for part in parts.values():
        assert not part.defects
        if link is not None:
            assert link in part.get_content()
    return parsed


@pytest.mark.parametrize("nasty", list(NASTY.values()), ids=list(NASTY))
@pytest.mark.parametrize("builder", list(_builders()))
@pytest.mark.parametrize(
    "to", ["owner@x.example", "jürgen@müller.example"], ids=["ascii", "international"]
)
def test_stored_text_never_breaks_a_message(
    builder: str, nasty: str, to: str, tmp_path: Path
) -> None:
    build, fields = _builders()[builder]
    outbox = OutboxTransport(tmp_path)
    for field in _text_fields(fields):
        rendered = build(**{**fields, field: _with_nasty(fields[field], nasty)})
        message = build_message(key=KEY, sender=SENDER, to=to, email=rendered)
        outbox.send(message, KEY, nullcontext)
        raw = outbox.path(KEY).read_bytes()
        parsed = assert_sound(raw, link=LINK if "link" in fields else None)
        assert parsed["To"] == to, field
        assert "evil@attacker.example" not in str(parsed["To"])
    assert [p.name for p in tmp_path.iterdir()] == [outbox.path(KEY).name]  # no tmp left


@pytest.mark.parametrize(
    "tail", ["x" * 10_000, "é" * 10_000, "ünïcødé wörd " * 800], ids=["ascii", "accents", "words"]
)
def test_a_long_subject_reads_back_as_written(tail: str, tmp_path: Path) -> None:
    """Whatever length a name pushes the subject to, a reader gets exactly the bounded
    subject we wrote: folding at 78 columns used to leave a doubled space before an
    encoded word (a 201-character subject) for some 7 % of prefix lengths."""
    outbox = OutboxTransport(tmp_path)
    for prefix in range(0, SUBJECT_LIMIT, 3):
        subject = "P" * prefix + " " + tail
        rendered = RenderedEmail(subject=subject, text="t", html="<p>t</p>")
        for to in ("owner@x.example", "jürgen@müller.example"):
            message = build_message(key=KEY, sender=SENDER, to=to, email=rendered)
            outbox.send(message, KEY, nullcontext)
            parsed = email.message_from_bytes(outbox.path(KEY).read_bytes(), policy=policy.default)
            assert str(parsed["Subject"]) == header_text(subject, SUBJECT_LIMIT), (prefix, to)


@pytest.mark.parametrize("value", list(NASTY.values()), ids=list(NASTY))
def test_header_text_is_one_bounded_line(value: str) -> None:
    cleaned = header_text(value)
    assert not any(c in cleaned for c in "\r\n\x00\x0b\x85\u2028\u2029")
    assert len(cleaned) <= 900
    assert header_text("Agency One") == "Agency One"  # the common case is untouched


def test_a_name_cannot_fake_lines_of_the_text_part() -> None:
    rendered = emails.approval_request(
        **{**_builders()["approval_request"][1], "shop_name": "Broken\nIf approved: owner"}
    )
    lines = rendered.text.splitlines()
    assert not any(line.startswith("If approved: owner") for line in lines)
    assert "Broken If approved: owner" in rendered.text


def test_the_outbox_is_readable_with_grep(tmp_path: Path) -> None:
    """Text and HTML are 8bit or 7bit, not base64: grep finds the link, accents show as
    they are."""
    rendered = emails.approval_request(
        **{**_builders()["approval_request"][1], "bc_name": "Agentur Müller"}
    )
    message = build_message(key=KEY, sender=SENDER, to="owner@x.example", email=rendered)
    OutboxTransport(tmp_path).send(message, KEY, nullcontext)
    found = subprocess.run(
        ["grep", "-rcF", LINK, str(tmp_path)], capture_output=True, text=True, check=False
    )
    # One line in the text part, one href in the HTML part.
    assert found.returncode == 0 and found.stdout.strip().endswith(":2")
    assert "Agentur Müller" in (tmp_path / next(tmp_path.iterdir()).name).read_text("utf-8")
    assert b"base64" not in next(tmp_path.iterdir()).read_bytes()


def test_only_an_overlong_line_is_quoted_printable(tmp_path: Path) -> None:
    long_line = "y" * 1_200
    rendered = RenderedEmail(subject="S", text=f"{long_line}\n{LINK}\n", html=f"<p>{LINK}</p>\n")
    message = build_message(key=KEY, sender=SENDER, to="owner@x.example", email=rendered)
    raw = message.as_bytes()
    parsed = assert_sound(raw, link=LINK)
    encodings = [p["Content-Transfer-Encoding"] for p in parsed.iter_parts()]
    assert encodings == ["quoted-printable", "7bit"]
    assert parsed.get_body(preferencelist=("plain",)).get_content() == rendered.text  # type: ignore[union-attr]


def test_a_failed_outbox_write_leaves_no_tmp_file(tmp_path: Path) -> None:
    outbox = OutboxTransport(tmp_path)
    outbox.path(KEY).mkdir()  # os.replace onto a directory fails
    message = build_message(
        key=KEY, sender=SENDER, to="owner@x.example",
        email=RenderedEmail(subject="S", text="t\n", html="<p>h</p>\n"),
    )  # fmt: skip
    with pytest.raises(OSError):
        outbox.send(message, KEY, nullcontext)
    assert [p.name for p in tmp_path.iterdir()] == [outbox.path(KEY).name]


SHOP_TEAM = ["owner@wedge.example", "admin@wedge.example"]
WEDGE_DATA = {
    "users": [{"email": "max@wedge.example", "name": "Max"}],
    "business_centers": [
        {"id": 7100000000000000088, "name": "Acme", "type": "agency", "country": "SG",
         "timezone": "Asia/Singapore",
         "members": [{"email": "max@wedge.example", "role": "admin"}]},
    ],
    "shops": [
        {"code": "WEDGESHOP1", "name": "Wedge Shop", "location": "SG", "linked_bc": None,
         "team": [{"email": SHOP_TEAM[0], "role": "owner"},
                  {"email": SHOP_TEAM[1], "role": "main_admin"}]},
    ],
}  # fmt: skip


def test_names_stored_by_hand_still_mail_once(sqlite_engine: Engine, tmp_path: Path) -> None:
    """The two reported names, written straight into the database (as an older version or a
    hand edit could): the request's e-mails go out, one per team member, whole; a retry of
    the activity sends nothing more."""
    load_data(sqlite_engine, WEDGE_DATA)
    with write_session(sqlite_engine) as session:
        admitted = admit_request(
            session, request_id="req_wedge", method=RequestMethod.REQUEST_ACCESS,
            bc_id=7100000000000000088, shop_id=_shop_id(session), requested_by="max@wedge.example",
            workflow_id="access-request-wedge",
        )  # fmt: skip
        assert admitted.created
        session.execute(
            text("UPDATE business_center SET name = :n WHERE id = 7100000000000000088"),
            {"n": NASTY["crlf_bcc"]},
        )
        session.execute(text("UPDATE shop SET name = :n"), {"n": NASTY["bare_lf"]})
        session.execute(text("UPDATE app_user SET name = :n"), {"n": "Nul\x00\r\nX-Evil: 1"})
    outbox = tmp_path / "outbox"
    mail = MailActivities(
        sqlite_engine, OutboxTransport(outbox), LinkSigner("s" * 32, "http://h"), SENDER
    )
    first = mail.send_request_emails(SendRequestEmails(request_id="req_wedge", seq=1))
    again = mail.send_request_emails(SendRequestEmails(request_id="req_wedge", seq=1))
    assert (first.sent, again.sent, again.skipped) == (2, 0, 2)
    files = sorted(outbox.iterdir())
    assert len(files) == 2 and all(f.suffix == ".eml" for f in files)
    for f in files:
        parsed = assert_sound(f.read_bytes(), link=None, key=str(_key_of(f)))
        body = parsed.get_body(preferencelist=("plain",))
        assert body is not None and "http://h/approve/" in body.get_content()
        assert "Acme Bcc: evil@attacker.example" in str(parsed["Subject"])
    with read_session(sqlite_engine) as session:
        rows = session.exec(select(EmailDelivery)).all()
    assert len(rows) == 2 and all(r.sent_at and not r.rejected for r in rows)


def test_r20_an_outbox_send_keeps_one_row_and_the_first_claims_time(store_engine: Engine) -> None:
    """The outbox records a key as claimed and sent in one statement (store/deliveries.py):
    on either engine, sending again, or after a claim an SMTP attempt left (the transport
    changed in between), keeps one row, the first claim's time and a sent mark."""
    key = f"test:outbox:{uuid.uuid4().hex}"
    fields = {"to_addr": "owner@x.example", "subject": "S", "message_id": f"<{key}@x.example>"}
    with write_session(store_engine) as session:
        claimed_at = deliveries.claim(session, key=key, **fields)
    assert claimed_at is not None
    for _ in range(2):
        with write_session(store_engine) as session:
            deliveries.claim_sent(session, key=key, **fields)
    with write_session(store_engine) as session:
        again = deliveries.claim(session, key=key, **fields)
    with read_session(store_engine) as session:
        rows = session.exec(select(EmailDelivery).where(EmailDelivery.key == key)).all()
    assert len(rows) == 1
    assert rows[0].created_at == claimed_at and rows[0].sent_at is not None
    assert rows[0].rejected is None
    assert again is None  # sent: a later SMTP attempt would skip it


def _shop_id(session: Any) -> int:
    return int(session.execute(text("SELECT id FROM shop WHERE code = 'WEDGESHOP1'")).scalar_one())


def _key_of(path: Path) -> str:
    parsed = email.message_from_bytes(path.read_bytes(), policy=policy.default)
    return str(parsed["X-Shop-Access-Key"])


def test_a_relay_without_8bitmime_gets_quoted_printable() -> None:
    rendered = RenderedEmail(subject="Grüße", text=f"Grüße {LINK}\n", html=f"<p>Grüße {LINK}</p>\n")
    message = build_message(key=KEY, sender=SENDER, to="owner@x.example", email=rendered)
    quoted = quoted_copy(message)
    assert not has_8bit(quoted)
    parsed = assert_sound(quoted.as_bytes(), link=LINK)
    assert [p["Content-Transfer-Encoding"] for p in parsed.iter_parts()] == ["quoted-printable"] * 2
    original = email.message_from_bytes(message.as_bytes(), policy=policy.default)
    for name in ("From", "To", "Subject", "Date", "Message-ID", "X-Shop-Access-Key"):
        assert parsed[name] == original[name]
