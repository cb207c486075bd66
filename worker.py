"""The Temporal worker: registers every workflow and activity of shop-access.

    python worker.py            # reads configuration from the environment

Configuration (see docs/operations.md): TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE and Temporal's
other envconfig variables; TASK_QUEUE, DATABASE_URL, SMTP_URL, MAIL_OUTBOX_DIR,
LINK_BASE_URL, SECRET_KEY, DEV_MODE, WEBHOOK_ALLOWED_NETWORKS (R31); tuning:
WORKER_ACTIVITY_THREADS, WORKER_MAX_CACHED_WORKFLOWS, WORKER_SANDBOX; observability:
METRICS_ADDRESS (host:port of /metrics, /healthz and /readyz), WORKER_HEALTH_ADDRESS
(host:port of /healthz and /readyz alone, for a worker without metrics), LOG_FORMAT (text
or json), OTEL_* (traces). Stops gracefully on SIGINT/SIGTERM:
polling stops, running activities get a grace period to finish, and anything left is
retried by the next worker, because every activity is idempotent.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine
from temporalio.client import Client
from temporalio.worker import Interceptor, UnsandboxedWorkflowRunner, Worker, WorkflowRunner
from temporalio.worker.workflow_sandbox import SandboxRestrictions

from activities.bulk import BulkActivities
from activities.campaigns import CampaignActivities
from activities.delivery import Transport, make_transport
from activities.end_date_activities import EndDateActivities
from activities.mailer import MailActivities
from activities.partners import PartnerActivities, PartnerMailActivities, PartnerTimerActivities
from activities.store import RequestStoreActivities
from activities.webhooks import WebhookActivities
from client.invitation_links import InvitationLinks
from client.language_links import LanguageLinks
from client.links import LinkSigner
from client.safe_targets import policy_from
from client.temporal import connect, ensure_search_attributes
from models.names import webhook_task_queue
from models.settings import Settings
from runtime.health import Check, Readiness, readiness
from runtime.health_server import serve_health, starlette_routes
from runtime.heap import freeze_startup_heap
from runtime.logging_setup import configure_logging, forward_core_logs
from runtime.sandbox import runner_class
from runtime.tracing import TracingConfigError, traced_transport
from runtime.worker_telemetry import WorkerTelemetry
from store.db import make_engine
from store.migrate import SchemaBehind, require_current
from workflows.access_end import AccessEndWorkflow, AssignmentEndWorkflow
from workflows.add_my_shop import AddMyShopWorkflow
from workflows.bulk_request import BulkRequestWorkflow
from workflows.invitations import MemberInvitationWorkflow, PartnerInvitationWorkflow
from workflows.removal import RemovePartnerAccessWorkflow
from workflows.request_access_to_shop import RequestAccessWorkflow
from workflows.webhooks import WebhookDispatcherWorkflow

log = logging.getLogger("shop_access.worker")

WORKFLOWS: list[type] = [
    RequestAccessWorkflow,
    AddMyShopWorkflow,
    # Partner side (R16-R19).
    MemberInvitationWorkflow,
    PartnerInvitationWorkflow,
    RemovePartnerAccessWorkflow,
    # Signed webhooks (R26).
    WebhookDispatcherWorkflow,
    # Access until a date (R23).
    AccessEndWorkflow,
    AssignmentEndWorkflow,
    # Bulk requests (R24).
    BulkRequestWorkflow,
]


def activities_for(settings: Settings, engine: Engine) -> list[Any]:
    """Every activity, bound to its injected dependencies."""
    links = LinkSigner(settings.secret_key.get_secret_value(), settings.link_base_url)
    # A span per SMTP exchange when tracing is on (runtime/tracing.py).
    transport = traced_transport(make_transport(settings.smtp_url, settings.mail_outbox_dir))
    store = RequestStoreActivities(engine, links)
    mail = MailActivities(engine, transport, links, settings.mail_from)
    return [
        store.admit_request,
        store.record_resend,
        store.cancel_request,
        store.decide_and_grant,
        mail.send_request_emails,
        mail.notify_requester,
        mail.send_personal_link,
        store.decline_request,  # R22
        mail.send_reminder,  # R25
        *partner_activities(settings, engine, transport),
        *end_date_activities(settings, engine, transport),
    ]


def webhook_activities(settings: Settings, engine: Engine) -> list[Any]:
    """Signed webhooks (R26, R30) to safe targets (R31): wait for a subscription's events,
    POST one, give one up. All async: they hold no thread while they wait."""
    hooks = WebhookActivities(engine, policy_from(settings))
    return [hooks.wait_for_events, hooks.deliver, hooks.give_up]


# The webhook worker's slots: each is a coroutine (every webhook activity is async), so
# the bound is memory, not threads. An idle subscription holds one while it waits.
WEBHOOK_SLOTS = 10_000


def end_date_activities(settings: Settings, engine: Engine, transport: Transport) -> list[Any]:
    """R23: the reminder before an end date and the store's decision at it."""
    ends = EndDateActivities(
        engine,
        transport,
        settings.mail_from,
        languages=LanguageLinks(settings.secret_key.get_secret_value(), settings.link_base_url),
    )
    return [ends.remind, ends.end_grant, ends.end_assignment, ends.remind_assignment]


def partner_activities(settings: Settings, engine: Engine, transport: Transport) -> list[Any]:
    """The partner side's activities (R16-R19): invitations, removals, campaign pages."""
    invitation_links = InvitationLinks(
        settings.secret_key.get_secret_value(), settings.link_base_url
    )
    partners = PartnerActivities(engine)
    partner_mail = PartnerMailActivities(engine, transport, invitation_links, settings.mail_from)
    campaigns = CampaignActivities(engine)
    return [
        partners.create_member_invitation,
        partners.offer_partner_shop,
        partners.accept_invitation,
        partners.decline_invitation,
        partners.cancel_invitation,
        partners.end_grants,
        partners.finish_removal,
        partner_mail.send_invitation_emails,
        partner_mail.notify_access_removed,
        campaigns.stop_page,
    ]


def bulk_activities(client: Client, settings: Settings, engine: Engine) -> list[Any]:
    """R24: the bulk request's admission, which starts request workflows (so it needs the
    worker's own Temporal client)."""
    return [
        BulkActivities(client, engine, settings.task_queue).admit_one,
        # R23: an accepted invitation's shares with an end date get their timers.
        PartnerTimerActivities(client, settings.task_queue).arm_access_end,
    ]


def workflow_runner(sandboxed: bool = True) -> WorkflowRunner:
    """How every worker here runs workflows (bench/bare_worker.py reuses it).

    The sandbox re-imports each workflow module for every new run and checks workflow
    code for non-determinism; ``WORKER_SANDBOX=0`` trades that check for less CPU
    (docs/performance.md). Tests and the replayer always run sandboxed.
    """
    if not sandboxed:
        return UnsandboxedWorkflowRunner()
    # Workflow code imports these pure modules; passing them through the sandbox
    # loads them once instead of per workflow run.
    restrictions = SandboxRestrictions.default.with_passthrough_modules(
        "pydantic", "pydantic_core", "models"
    )
    # The SDK's sandbox, compiling its code snippets once on a checked SDK version, the
    # SDK's own runner on others (runtime/sandbox.py).
    return runner_class()(restrictions=restrictions)


class Workers:
    """The task queue's worker and its webhook worker, started and stopped together."""

    def __init__(self, *workers: Worker) -> None:
        self.workers = workers
        self._stack = contextlib.AsyncExitStack()

    @property
    def client(self) -> Client:
        """The client both workers poll with (as ``Worker.client``)."""
        return self.workers[0].client

    async def __aenter__(self) -> Workers:
        for worker in self.workers:
            await self._stack.enter_async_context(worker)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._stack.__aexit__(*exc)  # type: ignore[arg-type]


def build_worker(
    client: Client,
    settings: Settings,
    engine: Engine,
    executor: ThreadPoolExecutor,
    interceptors: Sequence[Interceptor] = (),
) -> Workers:
    """``interceptors``: the metrics and log-context observer (WorkerTelemetry).

    Two workers on one client: the task queue's, whose activity slots are its threads,
    and the webhook queue's (``webhook_task_queue``), whose slots are coroutines, so
    subscriptions waiting for events never take a slot from an e-mail or a grant.
    """
    main = Worker(
        client,
        task_queue=settings.task_queue,
        workflows=WORKFLOWS,
        activities=[*activities_for(settings, engine), *bulk_activities(client, settings, engine)],
        activity_executor=executor,
        max_concurrent_activities=settings.activity_threads,
        max_cached_workflows=settings.worker_max_cached_workflows,
        workflow_runner=workflow_runner(settings.worker_sandbox),
        graceful_shutdown_timeout=timedelta(seconds=10),
        interceptors=interceptors,
    )
    hooks = Worker(
        client,
        task_queue=webhook_task_queue(settings.task_queue),
        activities=webhook_activities(settings, engine),
        max_concurrent_activities=WEBHOOK_SLOTS,
        graceful_shutdown_timeout=timedelta(seconds=10),
        interceptors=interceptors,
    )
    return Workers(main, hooks)


async def run(settings: Settings) -> None:
    engine = make_engine(settings.database_url)
    require_current(engine)
    telemetry = WorkerTelemetry.start(settings, engine)
    client = await connect(runtime=telemetry.runtime, interceptors=telemetry.client_interceptors)
    try:
        added = await ensure_search_attributes(client)
        if added:
            log.info("Registered search attributes: %s", ", ".join(added))
    except Exception as err:  # e.g. Temporal Cloud: created in the console instead
        log.warning("Could not check search attributes (%s); create them as in docs", err)
    with ThreadPoolExecutor(max_workers=settings.activity_threads) as executor:
        worker = build_worker(
            client, settings, engine, executor, interceptors=telemetry.worker_interceptors
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        polling = PollingFlag()
        ready = worker_readiness(engine, client, polling)
        async with contextlib.AsyncExitStack() as stack:
            if settings.worker_health_address:
                host, port = await stack.enter_async_context(
                    serve_health(settings.worker_health_address, ready)
                )
                log.info("Health on http://%s:%d/healthz and /readyz", host, port)
            # One address for everything a scraper or a probe asks.
            await stack.enter_async_context(telemetry.serving(extra_routes=starlette_routes(ready)))
            if settings.metrics_address:
                log.info(
                    "Metrics on http://%s/metrics, health on /healthz and /readyz",
                    settings.metrics_address,
                )
            freeze_startup_heap()
            log.info(
                "Worker polling task queue %r on %s (namespace %s)",
                settings.task_queue,
                client.service_client.config.target_host,
                client.namespace,
            )
            async with worker:
                polling.on = True
                await stop.wait()
                polling.on = False
                log.info("Shutting down: finishing running activities")
    engine.dispose()
    telemetry.shutdown()


class PollingFlag:
    """Whether the worker is between start-up and shutdown (readiness says so)."""

    on = False

    def check(self) -> Check:
        if self.on:
            return Check(name="worker", ok=True, detail="polling its task queue")
        return Check(
            name="worker",
            ok=False,
            detail="not polling (starting up or shutting down)",
            hint="wait for start-up; a stopping worker's tasks go to the others",
        )


def worker_readiness(
    engine: Engine, client: Client, polling: PollingFlag
) -> Callable[[], Awaitable[Readiness]]:
    """/readyz of the worker: store, schema and Temporal as for the link handler, and
    the worker itself polling."""

    async def ready() -> Readiness:
        return await readiness(engine, client, extra=[polling.check])

    return ready


def main(argv: list[str] | None = None) -> None:
    # No options: configuration is the environment. --help shows what it reads.
    argparse.ArgumentParser(
        prog="worker.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    ).parse_args(argv)
    try:
        settings = Settings()
    except ValueError as err:
        sys.exit(f"worker: invalid configuration: {err}")
    configure_logging(settings.log_format)
    forward_core_logs(settings.log_format)
    status = 0
    try:
        asyncio.run(run(settings))
    except (SchemaBehind, TracingConfigError) as err:
        print(f"worker: {err}", file=sys.stderr)
        status = 1
    except Exception:
        # Through logging, so that with LOG_FORMAT=json the last words are JSON too.
        log.exception("Worker stopped by an error")
        status = 1
    # The SDK core's threads can abort the interpreter's teardown (SIGABRT,
    # temporalio/sdk-python#300), turning this status into -6: leave without it, as
    # starter.py does.
    sys.stdout.flush()
    sys.stderr.flush()
    logging.shutdown()
    os._exit(status)


if __name__ == "__main__":
    main()
