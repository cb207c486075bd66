"""Safe webhook targets (R31): which URLs the service may call, and the one POST that calls
them (docs/webhooks.md, "Safe targets").

A target is checked when it is subscribed and again before every delivery, after its name
is resolved: every address it resolves to must be public, or inside a network the operator
allowed (``WEBHOOK_ALLOWED_NETWORKS``). The POST then connects to one of the addresses that
were checked, never to the name again (a second lookup could answer an internal address:
DNS rebinding). It follows no redirect, reads at most 64 KiB of the answer and is bounded
in time twice: the connection, and the whole exchange.

Numeric hosts are read as the C resolver reads them (``127.1``, ``2130706433``,
``0x7f000001``, ``017700000001``), so no spelling of an internal address slips through as
a "name".
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol
from urllib.parse import quote, urlsplit

from models.networks import IPNetwork, parse_networks

if TYPE_CHECKING:
    from models.settings import Settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

ANSWER_LIMIT = 64 * 1024
"""Bytes of a receiver's answer read at most: its status line is all that counts."""
CONNECT_TIMEOUT_S = 5.0
EXCHANGE_TIMEOUT_S = 10.0
"""The whole exchange (resolving, connecting, TLS, sending, the answer's status)."""
USER_AGENT = "shop-access-webhooks/2"

RULE = "R31"
_ALLOW_HINT = "an operator can allow a network with WEBHOOK_ALLOWED_NETWORKS"

_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_RFC1918 = tuple(ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))
_UNIQUE_LOCAL = ipaddress.ip_network("fc00::/7")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
# A numeric IPv4 host in any spelling inet_aton accepts: dotted parts in decimal, octal
# (leading 0) or hex (0x), one to four of them.
_NUMERIC_V4 = re.compile(r"^(0x[0-9a-f]*|[0-9]+)(\.(0x[0-9a-f]*|[0-9]+)){0,3}\.?$", re.I)
_NAME = re.compile(r"^[a-z0-9_]([a-z0-9_-]{0,62})(\.[a-z0-9_]([a-z0-9_-]{0,62}))*\.?$", re.I)


class TargetRefused(Exception):
    """A target R31 refuses. The message is a phrase about the URL ("its host 10.0.0.5 is
    a private address (RFC 1918), ..."): the subscription's refusal puts ``--url:`` before
    it, the delivery log ``refused before connecting:``."""


Resolver = Callable[[str, int], Sequence[str]]
"""``(host, port)`` to the addresses it resolves to, as text (blocking)."""


class Opener(Protocol):
    """Opens a TCP (and TLS) connection to one checked address: asyncio.open_connection."""

    def __call__(
        self, host: str, port: int, *, ssl: ssl.SSLContext | None, server_hostname: str | None
    ) -> Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]]: ...


def system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _open(
    host: str, port: int, *, ssl: ssl.SSLContext | None, server_hostname: str | None
) -> Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    return asyncio.open_connection(
        host, port, ssl=ssl, server_hostname=server_hostname, limit=ANSWER_LIMIT
    )


def why_internal(address: IPAddress) -> str | None:
    """What makes ``address`` internal (a phrase for the refusal), or None if public."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return "an IPv4-mapped IPv6 address"
        if address.sixtofour is not None or address.teredo is not None or address in _NAT64:
            embedded = address.sixtofour or (address.teredo[1] if address.teredo else None)
            if embedded is None:  # NAT64: the IPv4 address is the last 32 bits
                embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
            if why_internal(embedded) is not None:
                return "an IPv6 address wrapping an internal IPv4 address"
        if address in _UNIQUE_LOCAL:
            return "a unique-local address (fc00::/7)"
    if address.is_unspecified:
        return "the unspecified address"
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_multicast:
        return "a multicast address"
    if isinstance(address, ipaddress.IPv4Address):
        if any(address in net for net in _RFC1918):
            return "a private address (RFC 1918)"
        if address in _CGNAT:
            return "a carrier-grade NAT address (100.64.0.0/10)"
    if not address.is_global:
        return "a reserved, non-public address"
    return None


def literal_address(host: str) -> IPAddress | None:
    """``host`` as an address if it is numeric in any spelling, else None (a name)."""
    if ":" in host:
        return ipaddress.IPv6Address(host)  # ValueError: neither name nor address
    if _NUMERIC_V4.match(host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host.rstrip(".")))
        except OSError:
            raise ValueError(f"{host} is not an IPv4 address") from None
    return None


@dataclass(frozen=True)
class Target:
    """A URL that passed the check, with the addresses it may be reached at."""

    url: str
    scheme: str
    host: str
    port: int
    path: str
    addresses: tuple[IPAddress, ...]

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"


@dataclass(frozen=True)
class Answer:
    status: int | None
    error: str | None


@dataclass(frozen=True)
class TargetPolicy:
    """R31 for webhook targets. ``dev_mode`` (a developer's machine) also allows http and
    loopback receivers; ``allowed_networks`` let an operator allow internal receivers,
    http included, for exactly those networks."""

    allowed_networks: tuple[IPNetwork, ...] = ()
    dev_mode: bool = False
    resolver: Resolver = system_resolver
    opener: Opener = field(default=_open)
    connect_timeout_s: float = CONNECT_TIMEOUT_S
    exchange_timeout_s: float = EXCHANGE_TIMEOUT_S

    def _allowed(self, address: IPAddress) -> bool:
        return any(
            address in net for net in self.allowed_networks if net.version == address.version
        )

    def _refusal(self, address: IPAddress) -> str | None:
        if self._allowed(address):
            return None
        why = why_internal(address)
        if why is None:
            return None
        if self.dev_mode and address.is_loopback:
            return None  # the developer's own receiver (DEV_MODE)
        return why

    def split(self, url: str) -> tuple[str, str, int, str]:
        """Scheme, host, port and request path of ``url``; TargetRefused if malformed."""
        try:
            parts = urlsplit(url.strip())
            hostname = parts.hostname
        except ValueError:  # e.g. brackets that hold no IPv6 address
            raise TargetRefused("it is not a valid URL") from None
        if parts.scheme not in ("http", "https") or not hostname:
            raise TargetRefused("it must be an http:// or https:// address with a host")
        if parts.username is not None or parts.password is not None:
            raise TargetRefused("it must not carry a user name or password")
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            raise TargetRefused("its port must be a number from 1 to 65535") from None
        host = hostname
        if "%" in host:
            raise TargetRefused("it must not name an IPv6 zone (%...)")
        if not host.isascii():
            try:
                host = host.encode("idna").decode("ascii")
            except UnicodeError:
                raise TargetRefused(f"its host {hostname!r} is not a valid name") from None
        if ":" not in host and not _NAME.match(host):
            raise TargetRefused(f"its host {host!r} is not a valid name")
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        # Whatever is not already a URL character is escaped: the request line is one line.
        path = quote(path, safe="/?&=%:@!$'()*+,;~#[]")
        return parts.scheme, host, port, path

    def addresses(self, host: str, port: int) -> tuple[IPAddress, ...]:
        """Every address ``host`` stands for (blocking: it may resolve the name)."""
        try:
            literal = literal_address(host)
        except ValueError:
            raise TargetRefused(f"its host {host!r} is not a valid address") from None
        if literal is not None:
            return (literal,)
        try:
            found = self.resolver(host, port)
        except OSError as err:
            raise TargetRefused(f"its host {host} does not resolve ({err})") from None
        resolved = []
        for text in found:
            address = ipaddress.ip_address(text.split("%", 1)[0])
            resolved.append(address)
        if not resolved:
            raise TargetRefused(f"its host {host} does not resolve")
        return tuple(resolved)

    def check(self, url: str) -> Target:
        """The target if R31 lets the service call it; TargetRefused saying why not.
        Blocking: it resolves the host."""
        scheme, host, port, path = self.split(url)
        addresses = self.addresses(host, port)
        for address in addresses:
            why = self._refusal(address)
            if why is not None:
                shown = host if str(address) == host else f"{host} ({address})"
                raise TargetRefused(
                    f"its host {shown} is {why}, and webhooks never call an internal "
                    f"address ({RULE}); {_ALLOW_HINT}"
                )
        if scheme != "https" and not self.dev_mode and not all(map(self._allowed, addresses)):
            raise TargetRefused(
                f"it must be https:// ({RULE}); http:// is only for a network an operator "
                "allowed with WEBHOOK_ALLOWED_NETWORKS"
            )
        return Target(url.strip(), scheme, host, port, path, addresses)

    async def post(self, url: str, headers: Iterable[tuple[str, str]], body: bytes) -> Answer:
        """POST ``body`` to ``url`` after checking it again; never raises for the receiver's
        faults: the answer's status, or why there is none."""
        try:
            async with asyncio.timeout(self.exchange_timeout_s):
                target = await asyncio.to_thread(self.check, url)
                return await self._exchange(target, headers, body)
        except TargetRefused as refused:
            return Answer(None, f"refused before connecting: {refused}")
        except TimeoutError:
            return Answer(None, f"no answer within {self.exchange_timeout_s:g} s")

    async def _exchange(
        self, target: Target, headers: Iterable[tuple[str, str]], body: bytes
    ) -> Answer:
        tls = ssl.create_default_context() if target.scheme == "https" else None
        last: Exception | None = None
        for address in target.addresses:
            try:
                async with asyncio.timeout(self.connect_timeout_s):
                    reader, writer = await self.opener(
                        str(address),
                        target.port,
                        ssl=tls,
                        server_hostname=target.host if tls else None,
                    )
            except (OSError, TimeoutError) as err:
                last = err
                continue
            try:
                return await _converse(reader, writer, target, headers, body)
            finally:
                writer.close()
        why = "timed out" if isinstance(last, TimeoutError) else str(last)
        return Answer(None, f"could not connect to {target.host}: {why}")


async def _converse(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    target: Target,
    headers: Iterable[tuple[str, str]],
    body: bytes,
) -> Answer:
    lines = [
        f"POST {target.path} HTTP/1.1",
        f"Host: {target.host_header}",
        f"User-Agent: {USER_AGENT}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        "Connection: close",
        *(f"{name}: {value}" for name, value in headers),
    ]
    try:
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        await writer.drain()
        head = await _read_head(reader)
    except (OSError, ssl.SSLError) as err:
        return Answer(None, f"the connection failed: {err}")
    first = head.split(b"\r\n", 1)[0].decode("latin-1", "replace")
    match = re.match(r"^HTTP/1\.[01] ([1-5][0-9][0-9])\b", first)
    if match is None:
        return Answer(None, f"not an HTTP answer: {first[:80]!r}")
    status = int(match.group(1))
    if 200 <= status < 300:
        return Answer(status, None)
    if 300 <= status < 400:
        return Answer(
            status, f"the receiver answered {status}, a redirect: webhooks follow none ({RULE})"
        )
    return Answer(status, f"the receiver answered {status}")


async def _read_head(reader: asyncio.StreamReader) -> bytes:
    """The answer up to its status line's end, reading at most ANSWER_LIMIT bytes."""
    got = b""
    while b"\r\n" not in got and len(got) < ANSWER_LIMIT:
        chunk = await reader.read(ANSWER_LIMIT - len(got))
        if not chunk:
            break
        got += chunk
    return got


def policy_from(settings: Settings) -> TargetPolicy:
    """R31 as configured: DEV_MODE and WEBHOOK_ALLOWED_NETWORKS."""
    return TargetPolicy(
        allowed_networks=parse_networks(settings.webhook_allowed_networks),
        dev_mode=settings.dev_mode,
    )
