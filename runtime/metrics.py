"""The service's own Prometheus metrics, counted by a worker interceptor.

Every activity, local ones included, passes through :class:`ActivityObserver` with its
name, typed input, result or exception. That is enough to count admissions and refusals
(the ``ApplicationError`` type is the refusal code), decisions by scenario and outcome,
e-mails by template, removals and campaigns stopped, without a line in ``activities/``.
The same interceptor puts the activity's identity in the log context
(``runtime.log_context``), so any logger inside an activity says which one it was.

Label values are bounded sets (methods, codes, scenarios, templates): never an id or an
address. The Temporal SDK's own metrics come from its runtime (:func:`sdk_runtime`) and
are served beside these by ``runtime.worker_http``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from temporalio import activity
from temporalio.exceptions import ApplicationError, CancelledError
from temporalio.runtime import LoggingConfig, PrometheusConfig, Runtime, TelemetryConfig
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
)

from models.enums import RequestMethod, RequestStatus
from models.errors import FAULT_CODES, ErrorCode
from models.names import Activity, EndDateName, PartnerActivity
from runtime.log_context import ActivityLogContext, bind_activity

# Which e-mail each mail activity sends: the template label of the e-mail counters.
MAIL_TEMPLATES = {
    Activity.SEND_REQUEST_EMAILS: "approval_request",
    Activity.SEND_PERSONAL_LINK: "personal_link",
    Activity.NOTIFY_REQUESTER: "request_approved",  # and, since R22, request_declined
    Activity.SEND_REMINDER: "request_reminder",  # R25
    PartnerActivity.SEND_INVITATION_EMAILS: "invitation",
    PartnerActivity.NOTIFY_REMOVAL: "access_removed",
    EndDateName.REMIND: "access_ending",  # R23
}

# Seller's click to committed grant is one local activity: milliseconds normally, seconds
# when the store is slow or retried.
APPROVAL_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

_KNOWN_CODES = frozenset(code.value for code in ErrorCode)


class ServiceMetrics:
    """The service's counters, registered on one registry (one per process)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self._register_request_metrics(registry)
        self._register_follow_up_metrics(registry)

    def _register_request_metrics(self, registry: CollectorRegistry) -> None:
        """Admissions and the seller's decisions (R1-R6, R11-R13)."""
        self.requests_admitted = Counter(
            "shop_access_requests_admitted",
            "Access requests admitted (now pending), by method",
            ["method"],
            registry=registry,
        )
        self.requests_refused = Counter(
            "shop_access_requests_refused",
            "Access requests refused at admission, by method and refusal code (R1-R6)",
            ["method", "code"],
            registry=registry,
        )
        self.approvals = Counter(
            "shop_access_approvals",
            "Seller decisions by scenario (S1-S4, 'none' when refused before one applies) "
            "and outcome: approved, expired (the other method won the race, R11) or refused",
            ["scenario", "outcome"],
            registry=registry,
        )
        self.approval_refusals = Counter(
            "shop_access_approval_refusals",
            "Seller decisions refused, by refusal code (R12, R13)",
            ["code"],
            registry=registry,
        )
        self.approval_to_grant = Histogram(
            "shop_access_approval_to_grant_seconds",
            "From the workflow scheduling the decision (the approval accepted) to the grant "
            "committed in the store, retries included",
            buckets=APPROVAL_BUCKETS,
            registry=registry,
        )

    def _register_follow_up_metrics(self, registry: CollectorRegistry) -> None:
        """Removals, e-mails, faults and how the worker runs."""
        self.removals = Counter(
            "shop_access_removals_completed",
            "Partner access removals finished (R18, R19)",
            registry=registry,
        )
        self.campaigns_stopped = Counter(
            "shop_access_campaigns_stopped",
            "Campaigns stopped by removals (R19)",
            registry=registry,
        )
        self.emails_sent = Counter(
            "shop_access_emails_sent",
            "E-mails handed to SMTP or the outbox, by template",
            ["template"],
            registry=registry,
        )
        self.emails_failed = Counter(
            "shop_access_email_attempts_failed",
            "Mail activity attempts that raised (each is retried), by template",
            ["template"],
            registry=registry,
        )
        self.activity_faults = Counter(
            "shop_access_activity_faults",
            "Activity attempts that failed for a reason other than a business refusal "
            "(database, SMTP, a bug): each is retried; a steady rise needs a person",
            ["activity"],
            registry=registry,
        )
        self.info = Gauge(
            "shop_access_worker_info",
            "Always 1; labels say how the worker runs",
            ["sandbox"],
            registry=registry,
        )


@dataclass(frozen=True)
class PendingSnapshot:
    """What the pending-requests gauge reports: count and oldest creation, by method."""

    counts: dict[str, int]
    oldest: dict[str, datetime]


class PendingRequestsCollector(Collector):
    """Pending requests and the age of the oldest, read from the store at scrape time.

    Requests never expire (R9), so a request nobody answers is visible only here: alert
    on the age. Every worker reports the same store figures; take ``max`` across them.
    """

    def __init__(self, read: Callable[[], PendingSnapshot]) -> None:
        self._read = read

    def collect(self) -> Iterable[GaugeMetricFamily]:
        snapshot = self._read()
        now = datetime.now(UTC)
        count = GaugeMetricFamily(
            "shop_access_pending_requests",
            "Access requests waiting for the shop's decision (store), by method",
            labels=["method"],
        )
        age = GaugeMetricFamily(
            "shop_access_oldest_pending_request_age_seconds",
            "Age of the oldest pending access request (store), by method; 0 when none",
            labels=["method"],
        )
        for method in RequestMethod:
            count.add_metric([method.value], snapshot.counts.get(method.value, 0))
            oldest = snapshot.oldest.get(method.value)
            if oldest is not None and oldest.tzinfo is None:
                oldest = oldest.replace(tzinfo=UTC)
            age.add_metric([method.value], (now - oldest).total_seconds() if oldest else 0.0)
        yield count
        yield age


log = logging.getLogger("shop_access.activities")


class ActivityObserver(Interceptor):
    """Worker interceptor: log context for every activity, and metrics when given some."""

    def __init__(self, metrics: ServiceMetrics | None = None) -> None:
        self.metrics = metrics

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _ObservedActivity(next, self.metrics)


class _ObservedActivity(ActivityInboundInterceptor):
    def __init__(self, next: ActivityInboundInterceptor, metrics: ServiceMetrics | None) -> None:
        super().__init__(next)
        self._metrics = metrics

    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        info = activity.info()
        argument = input.args[0] if input.args else None
        # A thread-pool activity runs in a copy of this context: its log lines carry it too.
        bind_activity(
            ActivityLogContext(
                workflow_id=info.workflow_id,
                run_id=info.workflow_run_id,
                activity_type=info.activity_type,
                attempt=info.attempt,
                request_id=getattr(argument, "request_id", None),
            )
        )
        try:
            result = await super().execute_activity(input)
        except BaseException as err:
            code = _refusal_code(err)
            if code is not None:
                # Refusals are raised as BENIGN, which the SDK logs only at DEBUG: one
                # line with the code (never the message, which may name a person) keeps
                # them visible to whoever reads the logs.
                log.info("%s refused: %s", info.activity_type, code)
            if self._metrics is not None:
                _count_failure(self._metrics, info.activity_type, argument, err)
            raise
        if self._metrics is None:
            return result
        _count_success(self._metrics, info, argument, result)
        return result


def _method(argument: Any) -> str:
    method = getattr(argument, "method", None)
    return method.value if isinstance(method, RequestMethod) else "unknown"


def _refusal_code(err: BaseException) -> str | None:
    """The refusal code of a business refusal; None for faults: those retried, and those
    that cannot heal (invalid_data, broken_invariant), which end the workflow failed."""
    if isinstance(err, ApplicationError) and err.non_retryable and err.type:
        if err.type in FAULT_CODES:
            return None
        return err.type if err.type in _KNOWN_CODES else "other"
    return None


def _count_failure(
    metrics: ServiceMetrics, activity_type: str, argument: Any, err: BaseException
) -> None:
    if isinstance(err, asyncio.CancelledError | CancelledError):
        return  # a shutdown or a timeout: the server retries it elsewhere
    code = _refusal_code(err)
    if code is None:
        metrics.activity_faults.labels(activity=activity_type).inc()
    if activity_type == Activity.ADMIT_REQUEST and code is not None:
        metrics.requests_refused.labels(method=_method(argument), code=code).inc()
    elif activity_type == Activity.DECIDE_AND_GRANT and code is not None:
        # R12: a seller who is only a standard member of BCs is in S4, refused here.
        scenario = "S4" if code == ErrorCode.BC_ADMIN_REQUIRED else "none"
        metrics.approvals.labels(scenario=scenario, outcome="refused").inc()
        metrics.approval_refusals.labels(code=code).inc()
    elif activity_type in MAIL_TEMPLATES:
        metrics.emails_failed.labels(template=MAIL_TEMPLATES[activity_type]).inc()


def _count_success(
    metrics: ServiceMetrics, info: activity.Info, argument: Any, result: Any
) -> None:
    kind = info.activity_type
    if kind == Activity.ADMIT_REQUEST:
        metrics.requests_admitted.labels(method=_method(argument)).inc()
    elif kind == Activity.DECIDE_AND_GRANT:
        status = getattr(result, "status", None)
        scenario = getattr(result, "scenario", None)
        outcome = status.value if isinstance(status, RequestStatus) else "unknown"
        metrics.approvals.labels(
            scenario=scenario.value if scenario is not None else "none", outcome=outcome
        ).inc()
        if status is RequestStatus.APPROVED:
            scheduled = info.scheduled_time.timestamp()
            metrics.approval_to_grant.observe(max(0.0, time.time() - scheduled))
    elif kind == PartnerActivity.STOP_CAMPAIGN_PAGE:
        metrics.campaigns_stopped.inc(getattr(result, "stopped", 0))
    elif kind == PartnerActivity.FINISH_REMOVAL:
        metrics.removals.inc()
    elif kind in MAIL_TEMPLATES:
        # EmailsSent (requests) and PartnerEmailsSent (partner side) both say ``sent``.
        sent = getattr(result, "sent", 0)
        if sent:
            metrics.emails_sent.labels(template=MAIL_TEMPLATES[kind]).inc(sent)


def sdk_runtime(bind_address: str, logging: LoggingConfig | None = None) -> Runtime:
    """A Temporal runtime whose SDK metrics are served on ``bind_address`` (one per
    process, made before any client), named the Prometheus way: ``_total`` on counters,
    units in names, durations in seconds. ``logging``: the core's (``core_logging``)."""
    return Runtime(
        telemetry=TelemetryConfig(
            logging=logging or LoggingConfig.default,
            metrics=PrometheusConfig(
                bind_address=bind_address,
                counters_total_suffix=True,
                unit_suffix=True,
                durations_as_seconds=True,
            ),
        )
    )
