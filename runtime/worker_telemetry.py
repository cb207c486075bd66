"""Everything the worker needs for metrics and traces, built once from the settings.

    telemetry = WorkerTelemetry.start(settings, engine)
    client = await connect(runtime=telemetry.runtime, interceptors=telemetry.client_interceptors)
    worker = build_worker(..., interceptors=telemetry.worker_interceptors)
    async with worker, telemetry.serving(extra_routes=[...]):
        ...
    telemetry.shutdown()

``METRICS_ADDRESS`` unset: no SDK runtime endpoint, no counters, nothing served (the
activity interceptor still binds the log context). Tracing follows ``OTEL_*``.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import CollectorRegistry
from prometheus_client.process_collector import ProcessCollector
from sqlalchemy import Engine
from starlette.routing import BaseRoute
from temporalio.runtime import Runtime
from temporalio.worker import Interceptor

from models.settings import Settings
from runtime import tracing
from runtime.logging_setup import core_logging
from runtime.metrics import (
    ActivityObserver,
    PendingRequestsCollector,
    PendingSnapshot,
    ServiceMetrics,
    sdk_runtime,
)
from runtime.worker_http import free_loopback_address, serving, worker_http_app
from store.pending_stats import pending_by_method


@dataclass
class WorkerTelemetry:
    metrics_address: str | None = None
    runtime: Runtime | None = None
    metrics: ServiceMetrics | None = None
    sdk_metrics_url: str | None = None
    tracer_provider: TracerProvider | None = None
    client_interceptors: list[Any] = field(default_factory=list)

    @classmethod
    def start(cls, settings: Settings, engine: Engine) -> WorkerTelemetry:
        provider = tracing.setup_tracing("shop-access-worker")
        telemetry = cls(
            tracer_provider=provider, client_interceptors=tracing.temporal_interceptors()
        )
        if settings.metrics_address is None:
            return telemetry
        registry = CollectorRegistry()
        ProcessCollector(registry=registry)
        registry.register(
            PendingRequestsCollector(lambda: PendingSnapshot(*pending_by_method(engine)))
        )
        telemetry.metrics = ServiceMetrics(registry)
        telemetry.metrics.info.labels(sandbox=str(settings.worker_sandbox).lower()).set(1)
        # The SDK serves its own page on a private loopback port; ours re-serves it.
        sdk_address = free_loopback_address()
        telemetry.runtime = sdk_runtime(sdk_address, core_logging(settings.log_format))
        telemetry.sdk_metrics_url = f"http://{sdk_address}/metrics"
        telemetry.metrics_address = settings.metrics_address
        return telemetry

    @property
    def worker_interceptors(self) -> list[Interceptor]:
        return [ActivityObserver(self.metrics)]

    @contextlib.asynccontextmanager
    async def serving(self, extra_routes: Sequence[BaseRoute] = ()) -> AsyncIterator[None]:
        """Serve ``/metrics`` (plus ``extra_routes``) on METRICS_ADDRESS while inside."""
        if self.metrics is None or self.metrics_address is None:
            yield
            return
        app = worker_http_app(self.metrics.registry, self.sdk_metrics_url, extra_routes)
        async with serving(app, self.metrics_address):
            yield

    def shutdown(self) -> None:
        """Flush the spans still batched."""
        if self.tracer_provider is not None:
            self.tracer_provider.shutdown()
