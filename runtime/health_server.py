"""The worker's ``/healthz`` and ``/readyz`` on a small HTTP server of its own.

The worker has no web framework, and needs none for two GET routes: this is asyncio's
stream server answering HTTP/1.0-style (one request per connection, then close), which
is what load balancers, Kubernetes probes and ``curl`` send. ``/healthz`` says the
process's event loop is alive; ``/readyz`` runs :func:`runtime.health.readiness` and
answers 503 with the failed checks otherwise. Both return JSON.

When the worker also serves metrics on METRICS_ADDRESS, the two
belong on the same address; until then WORKER_HEALTH_ADDRESS sets this one.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from runtime.health import Readiness

Ready = Callable[[], Awaitable[Readiness]]

_REASONS = {200: "OK", 404: "Not Found", 405: "Method Not Allowed", 503: "Service Unavailable"}


def split_address(address: str) -> tuple[str, int]:
    """``host:port`` (``[::1]:port`` for IPv6) to a (host, port) pair; ValueError if not."""
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ValueError(f"expected host:port, not {address!r}")
    return host.strip("[]"), int(port)


async def _answer(ready: Ready, method: str, path: str) -> tuple[int, dict[str, object]]:
    path = path.split("?", 1)[0]
    if path not in ("/healthz", "/readyz"):
        return 404, {"error": f"nothing at {path}; try /healthz or /readyz"}
    if method not in ("GET", "HEAD"):
        return 405, {"error": "only GET"}
    if path == "/healthz":
        return 200, {"status": "ok"}
    readiness = await ready()
    body: dict[str, object] = {
        "status": "ready" if readiness.ready else "not ready",
        "reason": readiness.reason(),
        "checks": [c.model_dump() for c in readiness.checks],
    }
    return (200 if readiness.ready else 503), body


def _handler(
    ready: Ready,
) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(30):
                request_line = (await reader.readline()).decode("latin-1").split()
                while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                    pass  # headers: nothing here depends on them
                status: int
                body: dict[str, object]
                if len(request_line) < 2:
                    status, body = 400, {"error": "bad request"}
                else:
                    status, body = await _answer(ready, request_line[0], request_line[1])
                payload = json.dumps(body).encode()
                head = (
                    f"HTTP/1.1 {status} {_REASONS.get(status, 'Bad Request')}\r\n"
                    "Content-Type: application/json\r\n"
                    f"Content-Length: {len(payload)}\r\n"
                    "Cache-Control: no-store\r\nConnection: close\r\n\r\n"
                )
                writer.write(head.encode() + (b"" if request_line[:1] == ["HEAD"] else payload))
                await writer.drain()
        except (TimeoutError, ConnectionError):
            pass  # a slow or vanished prober: nothing to answer
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    return handle


@contextlib.asynccontextmanager
async def serve_health(address: str, ready: Ready) -> AsyncIterator[tuple[str, int]]:
    """Serve /healthz and /readyz on ``address`` while the context is open; yields the
    bound (host, port), so port 0 picks a free one."""
    host, port = split_address(address)
    server = await asyncio.start_server(_handler(ready), host, port)
    bound = server.sockets[0].getsockname()
    try:
        yield str(bound[0]), int(bound[1])
    finally:
        server.close()
        await server.wait_closed()


def starlette_routes(ready: Ready) -> list[Any]:
    """The same two routes for a Starlette app, e.g. the worker's metrics app on
    METRICS_ADDRESS, so one address can serve /metrics, /healthz and /readyz."""
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def endpoint(request: Request) -> JSONResponse:
        status, body = await _answer(ready, request.method, request.url.path)
        return JSONResponse(body, status_code=status, headers={"Cache-Control": "no-store"})

    return [Route("/healthz", endpoint), Route("/readyz", endpoint)]
