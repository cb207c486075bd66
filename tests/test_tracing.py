"""Issue 10 item 2: one seller's approval read back from an in-memory exporter (R10,
R12 S1, R14), and tracing off unless the OTEL_* variables ask for it.

The SDK's TracingInterceptor parents everything a workflow does on the trace of the
call that started it, and links an update's handling to the caller's span: the seller's
POST trace holds the HTTP server span and the client's update; the request's trace holds
the update handler, the decision activity, and the requester's e-mail with its hand-over
to the transport, linked back to the POST (docs/decisions.md)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy import Engine
from temporalio.testing import WorkflowEnvironment

from models.messages import RequestResult
from models.settings import Settings
from service import tracing
from tests.conftest import AGENCY, ANA, OLI, S1_SHOP
from tests.observability_support import (
    approve_on_the_page,
    observed_stack,
    poll,
    submit_and_wait_for_emails,
)

_EXPORTER = InMemorySpanExporter()


class _WhileRecording(SimpleSpanProcessor):
    """Exports only while a test here records: OpenTelemetry lets a process set its
    tracer provider once, so later tests in the session keep tracing on (spans are made
    and dropped) without filling memory."""

    recording = False

    def on_end(self, span: ReadableSpan) -> None:
        if self.recording:
            super().on_end(span)


_PROCESSOR = _WhileRecording(_EXPORTER)


@pytest.fixture()
def spans() -> Iterator[InMemorySpanExporter]:
    if not tracing.enabled():
        provider = TracerProvider()
        provider.add_span_processor(_PROCESSOR)
        trace.set_tracer_provider(provider)
    assert tracing.enabled()
    _EXPORTER.clear()
    _PROCESSOR.recording = True
    try:
        yield _EXPORTER
    finally:
        _PROCESSOR.recording = False
        _EXPORTER.clear()


def lineage(span: ReadableSpan, by_id: dict[int, ReadableSpan]) -> list[str]:
    """Span names from the trace's root down to ``span``."""
    names = [span.name]
    while span.parent is not None and span.parent.span_id in by_id:
        span = by_id[span.parent.span_id]
        names.append(span.name)
    return names[::-1]


def find(spans: list[ReadableSpan], name: str) -> ReadableSpan:
    found = [s for s in spans if s.name == name]
    assert len(found) == 1, (name, [s.name for s in spans])
    return found[0]


async def test_r12_s1_approval_trace_from_the_post_to_the_smtp_hand_over(
    temporal_env: WorkflowEnvironment,
    settings: Settings,
    demo: Engine,
    spans: InMemorySpanExporter,
) -> None:
    async with observed_stack(temporal_env, settings, demo) as stack:
        assert stack.telemetry.client_interceptors  # tracing on: the SDK's interceptor
        submitted = await submit_and_wait_for_emails(
            stack.service, bc_id=AGENCY, shop_code=S1_SHOP, by=ANA
        )
        spans.clear()  # from here on: the seller's approval only
        done = await approve_on_the_page(stack, submitted.request_id, OLI)
        assert done.status_code == 200
        handle = stack.client.get_workflow_handle(submitted.workflow_id, result_type=RequestResult)
        assert (await handle.result()).status == "approved"
        await poll(
            lambda: any(s.name == "CompleteWorkflow:RequestAccessToShop"
                        for s in spans.get_finished_spans()),
            "the workflow's completion span",
        )  # fmt: skip
    finished = list(spans.get_finished_spans())
    by_id = {s.context.span_id: s for s in finished}

    # The seller's POST: the server span (named by route template, never the token),
    # and under it the client's update to the request's workflow.
    update_call = find(finished, "StartWorkflowUpdate:approve")
    assert lineage(update_call, by_id) == ["POST /approve/{token}", "StartWorkflowUpdate:approve"]
    post = by_id[update_call.parent.span_id]  # type: ignore[union-attr]
    assert post.attributes is not None and post.attributes.get("http.route") == "/approve/{token}"

    # The worker handles the update on the request's trace, linked back to the POST.
    handled = find(finished, "HandleUpdate:approve")
    assert [link.context.span_id for link in handled.links] == [update_call.context.span_id]
    request_trace = handled.context.trace_id
    assert request_trace != post.context.trace_id

    # The decision, then the requester's e-mail and its hand-over to the transport.
    decide = find(finished, "RunActivity:store.decide_and_grant")
    assert lineage(decide, by_id)[-2:] == [
        "StartActivity:store.decide_and_grant",
        "RunActivity:store.decide_and_grant",
    ]
    mail = [s for s in finished if s.name == "mail.send"]
    assert len(mail) == 1
    assert lineage(mail[0], by_id)[-3:] == [
        "StartActivity:mail.notify_requester",
        "RunActivity:mail.notify_requester",
        "mail.send",
    ]
    assert {decide.context.trace_id, mail[0].context.trace_id} == {request_trace}
    assert mail[0].attributes is not None
    assert mail[0].attributes.get("mail.transport") == "OutboxTransport"
    # Span names and attributes carry no address.
    for span in finished:
        assert "@" not in span.name
        assert not any("@" in str(v) for v in (span.attributes or {}).values()), span.name


def test_tracing_is_off_unless_otel_variables_ask_for_it() -> None:
    assert tracing.requested_exporters({}) == []
    assert tracing.requested_exporters({"OTEL_TRACES_EXPORTER": "none"}) == []
    assert tracing.requested_exporters(
        {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}
    ) == ["otlp"]
    assert tracing.requested_exporters({"OTEL_TRACES_EXPORTER": "console, otlp"}) == [
        "console",
        "otlp",
    ]


def test_exporters_come_from_opentelemetry_entry_points() -> None:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace.export import ConsoleSpanExporter

    assert isinstance(tracing.exporter_for("otlp"), OTLPSpanExporter)
    assert isinstance(tracing.exporter_for("console"), ConsoleSpanExporter)
    with pytest.raises(ValueError, match=r"zipkin.*not installed"):
        tracing.setup_tracing("x", {"OTEL_TRACES_EXPORTER": "zipkin"})
