"""One seller's click, one trace: the SDK's stable ``TracingInterceptor``, with updates
parented on their caller.

The SDK's interceptor puts everything a workflow does on the trace of the call that
started it, and only *links* an update's handling to the caller's span, so one approval
was two traces. This subclass changes two things inside the workflow, nothing else:

- an update that arrives with the caller's trace context (in the update's headers, which
  are in history) is handled as that caller's child: ``ValidateUpdate`` and
  ``HandleUpdate`` spans under the client's ``StartWorkflowUpdate``, and what the handler
  schedules (the decision's local activity, a resend's e-mails) under ``HandleUpdate``.
  The handling span links back to the request's own trace instead;
- once an ``approve`` or ``decline`` update has decided the request, what the run loop
  does for that decision afterwards (tell the losing request, e-mail the requester: R11,
  R14, R22) is scheduled under that update's ``HandleUpdate`` too.

Replay-safe: spans are only made when not replaying (as in the SDK) and only headers of
the commands change, which the determinism check does not compare. After a replay the
handling span's id is gone, so later work hangs off the client's update span instead:
the same trace, one level up.

Leans on the SDK's documented way to customise (subclass both interceptors) and on its
private helpers ``_completed_span``, ``_load_workflow_context_carrier``,
``_set_on_context`` and ``attached_context`` (temporalio 1.35); tests/test_tracing.py
reads the chain back. Imported only when tracing is on (runtime/tracing.py).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import opentelemetry.context
import opentelemetry.trace
import temporalio.worker
from temporalio.api.common.v1 import Payload
from temporalio.contrib.opentelemetry import TracingInterceptor, TracingWorkflowInboundInterceptor
from temporalio.contrib.opentelemetry._context import attached_context

from models.names import Message

Carrier = dict[str, Any]

# Updates that decide a request: the run loop's follow-up work belongs to their trace.
DECISION_UPDATES = frozenset({Message.APPROVE, Message.DECLINE})

# Set on the context an update handler runs under, so its own activities keep the
# handler's span as parent rather than a decision's follow-up context.
_IN_UPDATE = opentelemetry.context.create_key("shop_access_in_update")


@dataclass
class _Headers:
    """Stands in for a command's input to collect the span context the SDK would send."""

    headers: Mapping[str, Payload] = field(default_factory=dict)


class ClickTracingInterceptor(TracingInterceptor):
    """The SDK's interceptor on client, activities and workflows; workflows get
    :class:`UpdateTracingWorkflowInterceptor`."""

    def workflow_interceptor_class(
        self, input: temporalio.worker.WorkflowInterceptorClassInput
    ) -> type[TracingWorkflowInboundInterceptor]:
        super().workflow_interceptor_class(input)  # registers the span-making extern
        return UpdateTracingWorkflowInterceptor


class UpdateTracingWorkflowInterceptor(TracingWorkflowInboundInterceptor):
    """Updates as children of their caller; a decision's follow-up under its update."""

    def __init__(self, next: temporalio.worker.WorkflowInboundInterceptor) -> None:
        super().__init__(next)
        # The deciding update's handling context, once an approve or decline succeeded.
        self._follow_up: Carrier | None = None

    def handle_update_validator(self, input: temporalio.worker.HandleUpdateInput) -> None:
        caller = self._caller(input.headers)
        if caller is None:
            return super().handle_update_validator(input)
        with self._attached(caller):
            self._handling_span(f"ValidateUpdate:{input.update}")
            # Past the SDK's own override, which would make a second, linked span.
            super(TracingWorkflowInboundInterceptor, self).handle_update_validator(input)

    async def handle_update_handler(self, input: temporalio.worker.HandleUpdateInput) -> Any:
        caller = self._caller(input.headers)
        if caller is None:
            return await super().handle_update_handler(input)
        with self._attached(caller):
            handling = self._handling_span(f"HandleUpdate:{input.update}") or caller
        with self._attached(handling):
            result = await super(TracingWorkflowInboundInterceptor, self).handle_update_handler(
                input
            )
        decided = not getattr(result, "already_decided", False)
        if input.update in DECISION_UPDATES and decided and self._follow_up is None:
            self._follow_up = handling
        return result

    def _completed_span(self, span_name: str, **kwargs: Any) -> None:
        # Every command the workflow sends (activities, signals, children) passes here
        # with ``add_to_outbound``; from the run loop after a decision, parent it there.
        follow_up = self._follow_up
        if (
            follow_up is None
            or kwargs.get("add_to_outbound") is None
            or opentelemetry.context.get_value(_IN_UPDATE) is not None
        ):
            return super()._completed_span(span_name, **kwargs)
        with self._attached(follow_up, in_update=False):
            return super()._completed_span(span_name, **kwargs)

    def _caller(self, headers: Mapping[str, Payload]) -> Carrier | None:
        """The caller's span context from an update's headers, if it sent one."""
        payload = headers.get(self.header_key)
        if not payload:
            return None
        carrier: Carrier = self.payload_converter.from_payloads([payload])[0]
        return carrier or None

    @contextlib.contextmanager
    def _attached(self, carrier: Carrier, *, in_update: bool = True) -> Iterator[None]:
        context = self._set_on_context(self.text_map_propagator.extract(carrier))
        if in_update:
            context = opentelemetry.context.set_value(_IN_UPDATE, True, context)
        with attached_context(context):
            yield

    def _handling_span(self, name: str) -> Carrier | None:
        """A span under the current context, linked to the request's own trace; returns
        its context (None when replaying: no span is made then)."""
        made = _Headers()
        self._completed_span(
            name,
            link_context_carrier=self._load_workflow_context_carrier(),
            add_to_outbound=made,
            kind=opentelemetry.trace.SpanKind.SERVER,
        )
        payload = made.headers.get(self.header_key)
        if not payload:
            return None
        carrier: Carrier = self.payload_converter.from_payloads([payload])[0]
        return carrier
