"""One seller's approval read back from an in-memory exporter (R10,
R12 S1, R14), and tracing off unless the OTEL_* variables ask for it.

One click is one trace (runtime/temporal_tracing.py, docs/decisions.md): the seller's
POST, the client's update, the update's handling, the decision activity, and the
requester's e-mail with its hand-over to the transport, each the child of the one before
(the decision and the e-mail side by side under the update's handling)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy import Engine
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from models.messages import RequestResult
from models.settings import Settings
from runtime import tracing
from runtime.temporal_tracing import ClickTracingInterceptor
from tests.conftest import AGENCY, ANA, OLI, S1_SHOP
from tests.observability_support import (
    approve_on_the_page,
    observed_stack,
    poll,
    submit_and_wait_for_emails,
)
from worker import WORKFLOWS, workflow_runner

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
        # Tracing on: the SDK's interceptor, subclassed.
        assert isinstance(stack.telemetry.client_interceptors[0], ClickTracingInterceptor)
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
        history = await handle.fetch_history()
    finished = list(spans.get_finished_spans())
    by_id = {s.context.span_id: s for s in finished}

    # The root: the seller's POST, a server span named by route template (never the token).
    post = find(finished, "POST /approve/{token}")
    assert post.parent is None
    assert post.attributes is not None and post.attributes.get("http.route") == "/approve/{token}"

    # One chain from the POST down to the decision...
    click = ["POST /approve/{token}", "StartWorkflowUpdate:approve", "HandleUpdate:approve"]
    decide = find(finished, "RunActivity:store.decide_and_grant")
    assert lineage(decide, by_id) == [
        *click,
        "StartActivity:store.decide_and_grant",
        "RunActivity:store.decide_and_grant",
    ]
    # ...and, from the same update's handling, the requester's e-mail and its hand-over
    # to the transport, though the run loop sends it after the update has returned.
    mail = find(finished, "mail.send")
    assert lineage(mail, by_id) == [
        *click,
        "StartActivity:mail.notify_requester",
        "RunActivity:mail.notify_requester",
        "mail.send",
    ]
    assert mail.attributes is not None
    assert mail.attributes.get("mail.transport") == "OutboxTransport"
    validated = find(finished, "ValidateUpdate:approve")
    assert lineage(validated, by_id) == [*click[:2], "ValidateUpdate:approve"]

    # One trace: everything the POST caused (the page's GET before it is its own trace).
    # Only the workflow's completion stays on the request's trace, which the update's
    # handling links to.
    completed = find(finished, "CompleteWorkflow:RequestAccessToShop")
    handled = find(finished, "HandleUpdate:approve")
    assert [link.context.trace_id for link in handled.links] == [completed.context.trace_id]
    assert completed.context.trace_id != post.context.trace_id
    assert {
        s.context.trace_id for s in finished if not s.name.startswith("GET ") and s is not completed
    } == {post.context.trace_id}

    # Span names and attributes carry no address.
    for span in finished:
        assert "@" not in span.name
        assert not any("@" in str(v) for v in (span.attributes or {}).values()), span.name

    # The history, with the update's trace headers in it, replays with the same
    # interceptor, and replaying makes no spans.
    accepted = [
        e.workflow_execution_update_accepted_event_attributes.accepted_request
        for e in history.events
        if e.HasField("workflow_execution_update_accepted_event_attributes")
    ]
    approve = [r for r in accepted if r.input.name == "approve"]
    assert len(approve) == 1 and "_tracer-data" in approve[0].input.header.fields
    spans.clear()
    replayer = Replayer(
        workflows=WORKFLOWS,
        data_converter=pydantic_data_converter,
        workflow_runner=workflow_runner(),
        interceptors=tracing.temporal_interceptors(),
    )
    replayed = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert replayed.replay_failure is None, repr(replayed.replay_failure)
    assert spans.get_finished_spans() == ()


async def test_r8_r22_resend_and_decline_each_trace_their_own_emails(
    temporal_env: WorkflowEnvironment,
    settings: Settings,
    demo: Engine,
    spans: InMemorySpanExporter,
) -> None:
    """From a client (the CLI's path, no HTTP span): a resend's e-mails are on the
    resend's trace; the requester's "declined" e-mail, sent by the run loop after the
    decline returned, is on the decline's."""
    async with observed_stack(temporal_env, settings, demo) as stack:
        submitted = await submit_and_wait_for_emails(
            stack.service, bc_id=AGENCY, shop_code=S1_SHOP, by=ANA
        )
        spans.clear()
        resent = await stack.service.resend(submitted.request_id, by=ANA, copy_link=False)
        assert resent.channel == "resend_email"
        assert (await stack.service.decline(submitted.request_id, by=OLI)).status == "declined"
        handle = stack.client.get_workflow_handle(submitted.workflow_id, result_type=RequestResult)
        assert (await handle.result()).status == "declined"
        await poll(
            lambda: any(s.name == "RunActivity:mail.notify_requester"
                        for s in spans.get_finished_spans()),
            "the declined e-mail's activity",
        )  # fmt: skip
    finished = list(spans.get_finished_spans())
    by_id = {s.context.span_id: s for s in finished}
    chains = [lineage(s, by_id) for s in finished if s.name == "mail.send"]
    resend = ["StartWorkflowUpdate:resend", "HandleUpdate:resend"]
    decline = ["StartWorkflowUpdate:decline", "HandleUpdate:decline"]
    team_mail = [*resend, "StartActivity:mail.send_request_emails"]
    team_mail += ["RunActivity:mail.send_request_emails", "mail.send"]
    declined_mail = [*decline, "StartActivity:mail.notify_requester"]
    declined_mail += ["RunActivity:mail.notify_requester", "mail.send"]
    assert chains.count(declined_mail) == 1
    assert chains.count(team_mail) == len(chains) - 1 >= 1  # one per team member
    for root in ("StartWorkflowUpdate:resend", "StartWorkflowUpdate:decline"):
        assert find(finished, root).parent is None
    assert lineage(find(finished, "RunActivity:store.decline_request"), by_id) == [
        *decline,
        "StartActivity:store.decline_request",
        "RunActivity:store.decline_request",
    ]


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


def test_the_click_interceptor_only_on_the_sdk_versions_it_was_read_against() -> None:
    """The rule for private SDK parts (docs/decisions.md, "Private SDK parts only on the
    versions they were read against"): the checked SDK gets the one-trace
    interceptor, any other version the SDK's own (two traces joined by a link)."""
    from temporalio.contrib.opentelemetry import TracingInterceptor

    from runtime.temporal_tracing import ClickTracingInterceptor

    assert tracing.interceptor_class("1.35.0") is ClickTracingInterceptor
    assert tracing.interceptor_class("1.99.0") is TracingInterceptor
