"""OpenTelemetry traces, off unless the standard ``OTEL_*`` variables ask for them.

``OTEL_TRACES_EXPORTER`` names exporters as OpenTelemetry's own entry points do
(``otlp``, ``console``; ``none`` keeps tracing off); setting only
``OTEL_EXPORTER_OTLP_ENDPOINT`` (or ``..._TRACES_ENDPOINT``) means ``otlp``. The exporter,
sampler, batch processor and resource read their own variables (``OTEL_SERVICE_NAME``,
``OTEL_TRACES_SAMPLER``, ``OTEL_EXPORTER_OTLP_HEADERS``...).

Once a process has an SDK tracer provider (:func:`setup_tracing`, or a test's), the
pieces below switch on: Temporal's tracing interceptor on the client (and so on the
worker made from it; runtime/temporal_tracing.py makes one click one trace), FastAPI's
instrumentation on the link handler, and a span around each hand-over of an e-mail to
SMTP or the outbox.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from email.message import Message
from importlib.metadata import entry_points
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter

from activities.delivery import Record, Transport


class TracingConfigError(ValueError):
    """The OTEL_* variables name an exporter that is not installed."""


# "otlp" is the spec's name; the package we ship registers its HTTP flavour.
_ALIASES = {"otlp": "otlp_proto_http"}


def requested_exporters(environ: Mapping[str, str] = os.environ) -> list[str]:
    """Exporter names the environment asks for; empty means tracing stays off."""
    names = [n.strip() for n in environ.get("OTEL_TRACES_EXPORTER", "").split(",") if n.strip()]
    if "none" in names:
        return []
    if not names and (
        environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        or environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    ):
        names = ["otlp"]
    return names


def exporter_for(name: str) -> SpanExporter:
    found = {ep.name: ep for ep in entry_points(group="opentelemetry_traces_exporter")}
    entry = found.get(name) or found.get(_ALIASES.get(name, ""))
    if entry is None:
        raise TracingConfigError(
            f"OTEL_TRACES_EXPORTER={name!r} is not installed; choose from {sorted(found)}"
        )
    exporter: SpanExporter = entry.load()()
    return exporter


def setup_tracing(
    service_name: str, environ: Mapping[str, str] = os.environ
) -> TracerProvider | None:
    """Make this process's tracer provider if the environment asks for traces.

    Raises TracingConfigError for an exporter name that is not installed: a typo in
    ``OTEL_TRACES_EXPORTER`` should stop the process, not silently drop every trace.
    """
    names = requested_exporters(environ)
    if not names:
        return None
    exporters = [exporter_for(name) for name in names]
    attributes = {} if environ.get("OTEL_SERVICE_NAME") else {SERVICE_NAME: service_name}
    provider = TracerProvider(resource=Resource.create(attributes))
    for exporter in exporters:
        provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    return provider


def enabled() -> bool:
    """Whether this process has set a tracer provider (else spans cost nothing)."""
    provider = trace.get_tracer_provider()
    return not isinstance(provider, trace.ProxyTracerProvider | trace.NoOpTracerProvider)


def temporal_interceptors() -> list[Any]:
    """For ``Client.connect(interceptors=...)``; workers made from the client trace too."""
    if not enabled():
        return []
    return [interceptor_class()()]


# temporalio versions runtime/temporal_tracing.py was read against: it leans on private
# helpers of the SDK's interceptor, so any other version gets the SDK's own (one click is
# then two traces joined by a link).
CHECKED_TRACING_SDK_VERSIONS = frozenset({"1.35.0"})


def interceptor_class(version: str | None = None) -> type[Any]:
    """``ClickTracingInterceptor`` on a checked SDK, else the SDK's ``TracingInterceptor``."""
    # Imported here: the SDK's tracing module costs nothing while tracing is off.
    import temporalio
    from temporalio.contrib.opentelemetry import TracingInterceptor

    if (version or temporalio.__version__) in CHECKED_TRACING_SDK_VERSIONS:
        try:
            from runtime.temporal_tracing import ClickTracingInterceptor
        except ImportError:  # a private helper moved: the SDK's own still traces
            return TracingInterceptor
        return ClickTracingInterceptor
    return TracingInterceptor


def instrument_web(app: Any) -> None:
    """FastAPI's own instrumentation: a server span per request, named by route template."""
    if not enabled():
        return
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    # /metrics scrapes every few seconds would drown the traces that matter.
    FastAPIInstrumentor.instrument_app(app, excluded_urls="/metrics,/healthz,/readyz")


class TracedTransport:
    """A span around each hand-over of an e-mail: the SMTP exchange, or the outbox write.

    Attributes name the transport and the message's business key kind, never an address.
    """

    def __init__(self, transport: Transport) -> None:
        self._transport = transport
        self._kind = type(transport).__name__
        self.idempotent_by_key = getattr(transport, "idempotent_by_key", False)
        self._tracer = trace.get_tracer("shop_access.mail")

    def send(self, message: Message, key: str, record: Record) -> None:
        with self._tracer.start_as_current_span(
            "mail.send",
            kind=trace.SpanKind.CLIENT,
            attributes={"mail.transport": self._kind, "mail.kind": _key_kind(key)},
        ):
            self._transport.send(message, key, record)


def _key_kind(key: str) -> str:
    """``access_request:<id>:send:2:to:9`` -> ``access_request:send``: no ids."""
    parts = key.split(":")
    return ":".join(p for p in parts[::2][:2] if p)


def traced_transport(transport: Transport) -> Transport:
    return TracedTransport(transport) if enabled() else transport
