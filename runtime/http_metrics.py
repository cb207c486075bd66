"""Request count and latency of the link handler, by route template, method and status.

The route label is the template the router matched (``/approve/{token}``), never the
path: paths carry link tokens. Requests no route matched share one label value.
"""

from __future__ import annotations

import time

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.process_collector import ProcessCollector
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

UNMATCHED = "unmatched"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Page renders take milliseconds; approvals wait on Temporal (tens to hundreds of ms).
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class HttpMetrics:
    """Pure ASGI middleware: no per-request objects beyond the status capture."""

    def __init__(self, app: ASGIApp, registry: CollectorRegistry) -> None:
        self.app = app
        self.requests = Counter(
            "shop_access_http_requests",
            "Link handler requests, by route template, method and status code",
            ["route", "method", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "shop_access_http_request_duration_seconds",
            "Link handler request latency, by route template and method",
            ["route", "method"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # an exception that escapes every handler ends as a 500

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        root = scope.get("root_path", "")
        try:
            await self.app(scope, receive, capture)
        finally:
            # The router wrote the matched route into this same scope dict; a mounted
            # app's (the ops API at /api/v1) grew root_path by its mount point.
            mount = scope.get("root_path", "")[len(root) :]
            path = getattr(scope.get("route"), "path", None)
            route = mount + path if path else UNMATCHED
            method = scope["method"] if scope["method"] in METHODS else "OTHER"
            self.requests.labels(route=route, method=method, status=str(status)).inc()
            self.latency.labels(route=route, method=method).observe(time.perf_counter() - started)


def instrument(app: Starlette) -> CollectorRegistry:
    """Count the app's requests and serve them (and the process's CPU and memory) at
    ``/metrics``. One registry per app, so tests can build many apps in one process."""
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    app.add_middleware(HttpMetrics, registry=registry)

    async def metrics(_request: Request) -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    app.add_route("/metrics", metrics, include_in_schema=False)
    return registry
