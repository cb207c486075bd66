"""R31: webhook targets are safe, at subscription and at every delivery.

Every test here sends traffic to loopback only. Names resolve through a stub resolver (no
DNS query leaves the machine), and deliveries connect through a guard that fails the test
if anything but a loopback address is ever dialled: a refused private address is proven
refused by the guard never being called for it, not by trying it.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
import socketserver
import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr, ValidationError
from sqlalchemy import Engine, func
from sqlmodel import select
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.webhooks import WebhookActivities
from client import webhooks as service
from client.safe_targets import TargetPolicy, TargetRefused, parse_networks, policy_from
from models.errors import Refusal
from models.settings import Settings
from models.tables import AuditEvent, WebhookSubscription
from models.webhook_messages import DeliverEvent
from store import webhooks
from store.audit_export import Scope
from store.db import read_session, write_session
from tests.conftest import S1_SHOP
from tests.test_audit_export import request_and_approve

LOOPBACK = parse_networks("127.0.0.0/8")


class Guard:
    """The opener deliveries use here: records every address dialled and refuses to dial
    anything off loopback, so a bug could never send a packet elsewhere."""

    def __init__(self, hang: bool = False) -> None:
        self.dialled: list[str] = []
        self.hang = hang

    async def __call__(
        self, host: str, port: int, *, ssl: ssl.SSLContext | None, server_hostname: str | None
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        self.dialled.append(host)
        assert ipaddress.ip_address(host).is_loopback, f"a test must never dial {host}"
        if self.hang:  # a connection that never completes
            await asyncio.Event().wait()
        return await asyncio.open_connection(host, port, ssl=ssl, server_hostname=server_hostname)


def stub_resolver(names: dict[str, list[str]]) -> Callable[[str, int], list[str]]:
    def resolve(host: str, port: int) -> list[str]:
        if host not in names:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return names[host]

    return resolve


NAMES = {
    "internal.test": ["10.0.0.5"],
    "metadata.test": ["169.254.169.254"],
    "loop.test": ["127.0.0.1"],
    "v6loop.test": ["::1"],
    # One public and one private address: one bad address refuses the name.
    "mixed.test": ["192.0.43.10", "192.168.1.20"],
}


# --- the check ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("https://127.0.0.1/h", "loopback"),
        ("https://127.1/h", "loopback"),
        ("https://2130706433/h", "loopback"),
        ("https://0x7f000001/h", "loopback"),
        ("https://0177.0.0.1/h", "loopback"),
        ("https://[::1]/h", "loopback"),
        ("https://[0:0:0:0:0:0:0:1]:8443/h", "loopback"),
        ("https://0.0.0.0/h", "unspecified"),
        ("https://0/h", "unspecified"),
        ("https://[::]/h", "unspecified"),
        ("https://10.0.0.5/h", "private"),
        ("https://172.16.3.4/h", "private"),
        ("https://192.168.1.1/h", "private"),
        ("https://0xa000005/h", "private"),
        ("https://169.254.169.254/latest", "link-local"),
        ("https://[fe80::1]/h", "link-local"),
        ("https://100.64.0.1/h", "carrier-grade NAT"),
        ("https://[fd12:3456::1]/h", "unique-local"),
        ("https://[fc00::1]/h", "unique-local"),
        ("https://224.0.0.251/h", "multicast"),
        ("https://[ff02::1]/h", "multicast"),
        ("https://[::ffff:127.0.0.1]/h", "IPv4-mapped"),
        ("https://[::ffff:8.8.8.8]/h", "IPv4-mapped"),
        ("https://[2002:a00:5::]/h", "wrapping an internal IPv4"),
        ("https://internal.test/h", "private"),
        ("https://metadata.test/h", "link-local"),
        ("https://loop.test/h", "loopback"),
        ("https://v6loop.test/h", "loopback"),
        ("https://mixed.test/h", "private"),
    ],
)
def test_r31_every_spelling_of_an_internal_address_is_refused(url: str, why: str) -> None:
    policy = TargetPolicy(resolver=stub_resolver(NAMES), opener=Guard())
    with pytest.raises(TargetRefused) as refused:
        policy.check(url)
    assert why in str(refused.value) and "(R31)" in str(refused.value)
    assert "WEBHOOK_ALLOWED_NETWORKS" in str(refused.value)


def test_r31_https_only_outside_dev_mode_and_allowed_networks() -> None:
    public = "192.0.43.10"  # checked, never dialled: check() only classifies
    strict = TargetPolicy(resolver=stub_resolver(NAMES))
    assert strict.check(f"https://{public}/h").addresses == (ipaddress.ip_address(public),)
    with pytest.raises(TargetRefused, match=r"must be https:// \(R31\)"):
        strict.check(f"http://{public}/h")
    # An allowed network: internal addresses there, http included, and only there.
    allowed = TargetPolicy(allowed_networks=LOOPBACK, resolver=stub_resolver(NAMES))
    assert allowed.check("http://127.0.0.9:8080/h").port == 8080
    assert allowed.check("http://loop.test/h").host == "loop.test"
    with pytest.raises(TargetRefused, match="loopback"):
        allowed.check("https://[::1]/h")  # IPv6 loopback is another network
    with pytest.raises(TargetRefused, match="private"):
        allowed.check("http://10.0.0.5/h")
    with pytest.raises(TargetRefused, match="https"):
        allowed.check(f"http://{public}/h")
    # DEV_MODE: http, and the developer's own loopback receiver; nothing else internal.
    dev = TargetPolicy(dev_mode=True, resolver=stub_resolver(NAMES))
    assert dev.check("http://127.0.0.1:9/h").scheme == "http"
    with pytest.raises(TargetRefused, match="private"):
        dev.check("http://internal.test/h")


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("ftp://192.0.43.10/h", "http:// or https://"),
        ("https://user:pw@192.0.43.10/h", "user name or password"),
        ("https://192.0.43.10:99999/h", "port"),
        ("https://[fe80::1%25eth0]/h", "zone"),
        ("https://bad_host!/h", "not a valid name"),
        ("https://999.1.1.1/h", "not a valid address"),
        ("https://nowhere.test/h", "does not resolve"),
    ],
)
def test_r31_malformed_or_unresolvable_targets_are_refused(url: str, words: str) -> None:
    with pytest.raises(TargetRefused, match=words):
        TargetPolicy(resolver=stub_resolver(NAMES)).check(url)


def test_r31_allowed_networks_setting_is_checked() -> None:
    with pytest.raises(ValidationError, match="WEBHOOK_ALLOWED_NETWORKS"):
        Settings(dev_mode=True, webhook_allowed_networks="10.0.0.0/8, not-a-network")
    settings = Settings(
        dev_mode=False,
        secret_key=SecretStr("s" * 32),
        webhook_allowed_networks=" 127.0.0.0/8 ,fd00::/8",
    )
    policy = policy_from(settings)
    assert policy.allowed_networks == parse_networks("127.0.0.0/8,fd00::/8")
    assert not policy.dev_mode
    assert policy.check("http://127.0.0.1:9/h").scheme == "http"


# --- at subscription: a refusal names the rule and changes nothing -------------------------


def _counts(engine: Engine) -> tuple[int, int]:
    with read_session(engine) as session:
        subs = session.exec(select(func.count()).select_from(WebhookSubscription)).one()
        audit = session.exec(select(func.count()).select_from(AuditEvent)).one()
    return int(subs), int(audit)


@pytest.mark.parametrize(
    "url",
    [
        "https://127.1:8443/h",  # loopback outside DEV_MODE
        "http://192.0.43.10/h",  # public but http
        "https://internal.test/h",  # a name resolving inside
        "https://nowhere.test/h",
    ],
)
async def test_r31_a_refused_subscription_names_the_rule_and_adds_nothing(
    demo: Engine, url: str
) -> None:
    async def connect() -> Any:
        raise AssertionError("Temporal must not be asked: the target is refused first")

    before = _counts(demo)
    with pytest.raises(Refusal) as refused:
        await service.add_subscription(
            demo,
            connect,
            "unused",
            scope=Scope(shop_code=S1_SHOP),
            url=url,
            secret=None,
            by="ops",
            targets=TargetPolicy(resolver=stub_resolver(NAMES), opener=Guard()),
        )
    assert refused.value.code == "invalid_input"
    assert refused.value.message.startswith("--url: ")
    assert refused.value.details == {"field": "url"}
    if "nowhere" not in url:
        assert "R31" in refused.value.message
    assert _counts(demo) == before


# --- at delivery ---------------------------------------------------------------------------


@dataclass
class Listener:
    """A raw TCP receiver on loopback: ``answer`` gets each connection's socket."""

    answer: Callable[[socket.socket, bytes], None]
    requests: list[bytes] = field(default_factory=list)
    port: int = 0


@contextlib.contextmanager
def listening(answer: Callable[[socket.socket, bytes], None]) -> Iterator[Listener]:
    state = Listener(answer)

    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            sock: socket.socket = self.request
            sock.settimeout(30)
            data = b""
            with contextlib.suppress(OSError):
                while b"\r\n\r\n" not in data:
                    chunk = sock.recv(65536)
                    if not chunk:
                        return
                    data += chunk
                head, _, rest = data.partition(b"\r\n\r\n")
                length = next(
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                while len(rest) < length:
                    rest += sock.recv(65536)
                state.requests.append(head + b"\r\n\r\n" + rest)
                answer(sock, head)

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def answering(raw: bytes) -> Callable[[socket.socket, bytes], None]:
    return lambda sock, _head: sock.sendall(raw)


def endless(prefix: bytes) -> Callable[[socket.socket, bytes], None]:
    """Sends ``prefix`` and then bytes without end, until the client goes."""

    def answer(sock: socket.socket, _head: bytes) -> None:
        sock.sendall(prefix)
        with contextlib.suppress(OSError):
            while True:
                sock.sendall(b"x" * 65536)

    return answer


def silent(sock: socket.socket, _head: bytes) -> None:
    with contextlib.suppress(OSError):
        sock.recv(1)  # holds the connection open until the client gives up


def subscribed(engine: Engine, url: str) -> tuple[str, int]:
    """A subscription to ``url`` and the seq of its first event."""
    with write_session(engine) as session:
        sub = webhooks.add_subscription(
            session, scope=Scope(shop_code=S1_SHOP), url=url, created_by="ops"
        )
        sub_id = sub.id
    request_and_approve(engine)
    with read_session(engine) as session:
        sub = webhooks.require_subscription(session, sub_id)
        seq = webhooks.events_after(session, sub, 0, 1)[0]
    return sub_id, seq


async def deliver(
    engine: Engine, policy: TargetPolicy, sub_id: str, seq: int
) -> tuple[str | None, Any]:
    """One attempt through the real activity: the failure's message (or None) and the
    log's entry."""
    activities = WebhookActivities(engine, policy)
    error = None
    try:
        await ActivityEnvironment().run(
            activities.deliver, DeliverEvent(subscription_id=sub_id, seq=seq)
        )
    except ApplicationError as failed:
        assert failed.type == "webhook_not_accepted"
        error = failed.message
    with read_session(engine) as session:
        (entry,) = webhooks.deliveries(session, sub_id)
    return error, entry


async def test_r31_delivery_connects_to_the_address_that_was_checked(demo: Engine) -> None:
    """The name resolves once per attempt, through the policy's resolver, and the POST
    goes to that address: the OS never looks the name up again."""
    with listening(answering(b"HTTP/1.1 204 No Content\r\n\r\n")) as receiver:
        url = f"http://hooks.example.test:{receiver.port}/in box?x=1"
        guard = Guard()
        policy = TargetPolicy(
            allowed_networks=LOOPBACK,
            resolver=stub_resolver({"hooks.example.test": ["127.0.0.1"]}),
            opener=guard,
        )
        service.check_target(policy, url)
        sub_id, seq = subscribed(demo, url)
        error, entry = await deliver(demo, policy, sub_id, seq)
    assert error is None and entry.status == "delivered" and entry.last_status_code == 204
    assert guard.dialled == ["127.0.0.1"]
    (request,) = receiver.requests
    assert request.startswith(b"POST /in%20box?x=1 HTTP/1.1\r\n")  # one request line
    assert f"\r\nHost: hooks.example.test:{receiver.port}\r\n".encode() in request
    assert b"\r\nwebhook-id: evt_" in request


async def test_r31_a_name_rebound_to_an_internal_address_is_never_dialled(demo: Engine) -> None:
    """DNS rebinding: the name passed the check at subscription, then resolves inside. The
    attempt fails before connecting, logged with the rule; nothing is dialled."""
    answers = iter([["127.0.0.1"], ["10.0.0.5"]])
    guard = Guard()
    policy = TargetPolicy(
        allowed_networks=LOOPBACK, resolver=lambda host, port: next(answers), opener=guard
    )
    url = "http://rebind.example.test:8080/h"
    service.check_target(policy, url)  # at subscription: 127.0.0.1, allowed
    sub_id, seq = subscribed(demo, url)
    error, entry = await deliver(demo, policy, sub_id, seq)
    assert error is not None and error.startswith("refused before connecting")
    assert "10.0.0.5" in error and "(R31)" in error
    assert entry.status == "pending" and entry.attempts == 1 and entry.last_error == error
    assert guard.dialled == []


async def test_r31_a_redirect_is_a_failed_attempt_and_is_not_followed(demo: Engine) -> None:
    with listening(answering(b"HTTP/1.1 204 No Content\r\n\r\n")) as elsewhere:
        moved = (
            f"HTTP/1.1 307 Temporary Redirect\r\nLocation: http://127.0.0.1:{elsewhere.port}/"
            "\r\nContent-Length: 0\r\n\r\n"
        ).encode()
        with listening(answering(moved)) as receiver:
            policy = TargetPolicy(allowed_networks=LOOPBACK, opener=Guard())
            sub_id, seq = subscribed(demo, f"http://127.0.0.1:{receiver.port}/h")
            error, entry = await deliver(demo, policy, sub_id, seq)
    assert error is not None and "redirect" in error and "(R31)" in error
    assert entry.last_status_code == 307 and entry.status == "pending"
    assert len(receiver.requests) == 1 and elsewhere.requests == []


async def test_r31_at_most_64_kib_of_an_answer_is_read(demo: Engine) -> None:
    """An answer with no line end in its first 64 KiB is cut there (not read to a
    timeout); a good status line followed by an endless body counts at once."""
    policy = TargetPolicy(allowed_networks=LOOPBACK, opener=Guard(), exchange_timeout_s=120)
    with listening(endless(b"HTTP/1.1 ")) as receiver:
        sub_id, seq = subscribed(demo, f"http://127.0.0.1:{receiver.port}/h")
        error, entry = await deliver(demo, policy, sub_id, seq)
    assert error is not None and error.startswith("not an HTTP answer"), error
    with listening(endless(b"HTTP/1.1 200 OK\r\nContent-Length: 999999999999\r\n\r\n")) as ok:
        with write_session(demo) as session:
            sub = webhooks.require_subscription(session, sub_id)
            sub.url = f"http://127.0.0.1:{ok.port}/h"
            session.add(sub)
        error, entry = await deliver(demo, policy, sub_id, seq)
    assert error is None and entry.status == "delivered" and entry.last_status_code == 200


async def test_r31_connection_and_exchange_are_timed_out(demo: Engine) -> None:
    with listening(silent) as receiver:
        sub_id, seq = subscribed(demo, f"http://127.0.0.1:{receiver.port}/h")
        policy = TargetPolicy(allowed_networks=LOOPBACK, opener=Guard(), exchange_timeout_s=0.5)
        error, entry = await deliver(demo, policy, sub_id, seq)
    assert error == "no answer within 0.5 s" and entry.last_status_code is None
    hanging = TargetPolicy(
        allowed_networks=LOOPBACK, opener=Guard(hang=True), connect_timeout_s=0.2
    )
    error, entry = await deliver(demo, hanging, sub_id, seq)
    assert error == "could not connect to 127.0.0.1: timed out"
    assert entry.attempts == 2


def _self_signed(directory: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


async def test_r31_https_receivers_are_verified_against_the_default_ca_bundle(
    demo: Engine, tmp_path: Path
) -> None:
    """A receiver whose certificate no trusted CA signed is refused: TLS is verified
    (host name and chain) with the system's default CA bundle."""
    cert, key = _self_signed(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)

    server = await asyncio.start_server(
        lambda r, w: w.close(), "127.0.0.1", 0, ssl=context
    )  # accepts the handshake, if the client goes through with it
    port = server.sockets[0].getsockname()[1]
    try:
        sub_id, seq = subscribed(demo, f"https://127.0.0.1:{port}/h")
        policy = TargetPolicy(allowed_networks=LOOPBACK, opener=Guard())
        error, entry = await deliver(demo, policy, sub_id, seq)
    finally:
        server.close()
    assert error is not None and "CERTIFICATE_VERIFY_FAILED" in error, error
    assert entry.last_status_code is None
