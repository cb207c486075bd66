"""The worker's HTTP side on ``METRICS_ADDRESS``: ``/metrics`` for Prometheus, and room
for more routes (health checks) through ``extra_routes``.

One scrape address per process: ``/metrics`` serves the service's registry followed by
the Temporal SDK's own exposition, which the SDK's runtime serves on a loopback-only port
of its own (``sdk_metrics_url``). The two name spaces do not overlap (``shop_access_*``
and ``process_*`` against ``temporal_*``), so the concatenation is one valid text page.

Served by uvicorn on the worker's event loop, so a route can await the worker's Temporal
client. uvicorn would take over SIGINT/SIGTERM; the worker owns them (graceful shutdown),
so this server leaves signals alone and is stopped by the worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import urllib.request
from collections.abc import AsyncIterator, Generator, Sequence

import uvicorn
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

log = logging.getLogger("shop_access.metrics")


def free_loopback_address() -> str:
    """A loopback address with a port free right now, for the SDK's private endpoint."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{probe.getsockname()[1]}"


def _fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=5) as response:
        body: bytes = response.read()
        return body


def worker_http_app(
    registry: CollectorRegistry,
    sdk_metrics_url: str | None = None,
    extra_routes: Sequence[BaseRoute] = (),
) -> Starlette:
    """The Starlette app behind ``METRICS_ADDRESS``; ``extra_routes`` are added as they are
    (e.g. ``Route("/readyz", readyz)``)."""

    async def metrics(_request: Request) -> Response:
        body = generate_latest(registry)
        if sdk_metrics_url is not None:
            try:
                body += await asyncio.to_thread(_fetch, sdk_metrics_url)
            except OSError as err:  # the page still serves the service's own figures
                log.warning("Temporal SDK metrics unavailable: %s", err)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    return Starlette(routes=[Route("/metrics", metrics), *extra_routes])


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield  # the worker handles SIGINT/SIGTERM and stops this server itself


def split_address(address: str) -> tuple[str, int]:
    """``host:port`` (``[::1]:9464`` for IPv6) into its parts; ValueError if malformed."""
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ValueError(f"expected host:port, not {address!r}")
    return host.strip("[]"), int(port)


@contextlib.asynccontextmanager
async def serving(
    app: Starlette, address: str, *, access_log: bool = False
) -> AsyncIterator[uvicorn.Server]:
    """Serve ``app`` on ``address`` for the duration of the block; uvicorn's loggers
    propagate to the process's handler (``runtime.logging_setup``)."""
    host, port = split_address(address)
    config = uvicorn.Config(app, host=host, port=port, log_config=None, lifespan="off")
    # Set after construction: Config(access_log=False) would also silence the process's
    # "uvicorn.access" logger for every other server in it (propagate=False).
    config.access_log = access_log
    server = _Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():  # e.g. the address is in use: say so at start-up
            task.result()
            raise OSError(f"metrics server on {address} did not start")
        await asyncio.sleep(0.02)
    try:
        yield server
    finally:
        server.should_exit = True
        await task
