"""The worker's /metrics (service counters and the Temporal SDK's own)
and the link handler's /metrics move after a seller's request and approval; labels are
bounded (no ids, tokens or addresses); METRICS_ADDRESS unset means no metrics."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry, generate_latest
from sqlalchemy import Engine
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from models.enums import RequestMethod, RequestStatus, Scenario
from models.errors import Refusal
from models.messages import DecideApproval, Decision
from models.names import Activity, PartnerActivity
from models.partner_messages import PageStopped, PartnerEmailsSent, RemovalFinished
from models.settings import Settings
from runtime.metrics import ServiceMetrics, _count_failure, _count_success
from runtime.worker_telemetry import WorkerTelemetry
from tests.conftest import AGENCY, ANA, OLI, S1_SHOP, S2_SHOP, SAM
from tests.observability_support import (
    Samples,
    approve_on_the_page,
    observed_stack,
    parse_metrics,
    poll,
    submit_and_wait_for_emails,
    value,
)

ROOT = Path(__file__).resolve().parent.parent


def free_address() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{sock.getsockname()[1]}"


@pytest.fixture()
def metered(settings: Settings) -> Settings:
    return settings.model_copy(update={"metrics_address": free_address()})


async def scrape(url: str) -> str:
    async with httpx.AsyncClient() as http:
        response = await http.get(url)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


# What the walk below must move on the worker's page: (name, labels).
WALK_COUNTERS: list[tuple[str, dict[str, str]]] = [
    ("shop_access_requests_admitted_total", {"method": "request_access"}),
    ("shop_access_requests_refused_total", {"method": "request_access", "code": "not_bc_admin"}),
    ("shop_access_approvals_total", {"scenario": "S1", "outcome": "approved"}),
    ("shop_access_emails_sent_total", {"template": "approval_request"}),
    ("shop_access_emails_sent_total", {"template": "request_approved"}),
    ("shop_access_approval_to_grant_seconds_count", {}),
]


async def test_r1_r12_s1_request_refusal_and_approval_move_both_endpoints(
    temporal_env: WorkflowEnvironment, metered: Settings, demo: Engine
) -> None:
    worker_url = f"http://{metered.metrics_address}/metrics"
    async with observed_stack(temporal_env, metered, demo) as stack:
        before = parse_metrics(await scrape(worker_url))
        # R1: Sam is a standard member of the agency, so admission refuses him.
        with pytest.raises(Refusal) as refused:
            await stack.service.submit(
                method=RequestMethod.REQUEST_ACCESS, bc_id=AGENCY, shop_code=S2_SHOP, by=SAM
            )
        assert refused.value.code == "not_bc_admin"
        submitted = await submit_and_wait_for_emails(
            stack.service, bc_id=AGENCY, shop_code=S1_SHOP, by=ANA
        )
        done = await approve_on_the_page(stack, submitted.request_id, OLI)
        assert done.status_code == 200, done.text

        async def moved() -> Samples | None:
            now = parse_metrics(await scrape(worker_url))
            if all(value(now, n, **lb) > value(before, n, **lb) for n, lb in WALK_COUNTERS):
                return now
            return None

        after: Samples = await poll(moved, "the service counters to move")
        worker_text = await scrape(worker_url)
        web_page = await stack.http.get("/metrics")

    # The seller's click to the grant took milliseconds here, not since the epoch.
    latency = "shop_access_approval_to_grant_seconds_sum"
    assert 0 < value(after, latency) - value(before, latency) < 10
    # Approved: nothing left pending for the method; the gauge reads the store.
    assert value(after, "shop_access_pending_requests", method="request_access") == 0
    # The Temporal SDK's own metrics on the same page, named the Prometheus way.
    sdk = sorted({name for name, _ in after if name.startswith("temporal_")})
    assert any(name.endswith("_total") for name in sdk), sdk
    assert any("_seconds" in name for name in sdk), sdk

    assert web_page.status_code == 200
    web = parse_metrics(web_page.text)
    approve = {"route": "/approve/{token}"}
    assert value(web, "shop_access_http_requests_total", **approve, method="POST", status="200")
    assert value(web, "shop_access_http_request_duration_seconds_count", **approve, method="GET")
    for text in (worker_text, web_page.text):
        # Bounded labels: route templates, never a token, a request id or an address.
        assert "@" not in text
        assert submitted.request_id not in text
    assert 'route="/approve/{token}"' in web_page.text


def test_metrics_address_unset_serves_nothing_and_counts_nothing(
    settings: Settings, engine: Engine
) -> None:
    telemetry = WorkerTelemetry.start(settings, engine)
    assert settings.metrics_address is None
    assert telemetry.runtime is None and telemetry.metrics is None
    # The observer still binds the log context, with no counters behind it.
    assert [type(i).__name__ for i in telemetry.worker_interceptors] == ["ActivityObserver"]


def run_worker(env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "worker.py"],
        cwd=ROOT,
        env={**os.environ, "DEV_MODE": "1", **env},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.mark.parametrize("bad", ["9464", "localhost:", ":9464", "127.0.0.1:99999", "a:b"])
def test_worker_refuses_a_malformed_metrics_address_before_anything_starts(bad: str) -> None:
    with pytest.raises(ValueError, match="METRICS_ADDRESS must be host:port"):
        Settings(dev_mode=True, metrics_address=bad)


def test_worker_process_says_which_setting_is_wrong(tmp_path: Path) -> None:
    done = run_worker(
        {
            "METRICS_ADDRESS": "9464",
            "LOG_FORMAT": "json",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'never.db'}",
            "TEMPORAL_ADDRESS": "127.0.0.1:1",
        }
    )
    assert done.returncode == 1
    assert "worker: invalid configuration" in done.stderr
    assert "METRICS_ADDRESS must be host:port, not '9464'" in done.stderr
    assert not (tmp_path / "never.db").exists()  # nothing was touched


async def test_worker_process_stops_when_its_metrics_address_is_taken(
    temporal_env: WorkflowEnvironment, engine: Engine, tmp_path: Path
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        host, port = taken.getsockname()
        done = await asyncio.to_thread(
            run_worker,
            {
                "METRICS_ADDRESS": f"{host}:{port}",
                "DATABASE_URL": engine.url.render_as_string(hide_password=False),
                "TEMPORAL_ADDRESS": temporal_env.client.service_client.config.target_host,
                "TASK_QUEUE": f"taken-{port}",
                "MAIL_OUTBOX_DIR": str(tmp_path / "outbox"),
            },
        )
    assert done.returncode != 0
    assert "address already in use" in done.stderr


def _info(activity_type: str, scheduled: datetime | None = None) -> Any:
    return SimpleNamespace(
        activity_type=activity_type, scheduled_time=scheduled or datetime.now(UTC)
    )


def test_r12_s4_refusal_and_r11_race_are_counted_by_scenario_and_outcome() -> None:
    metrics = ServiceMetrics(CollectorRegistry())
    decide = DecideApproval(request_id="r", by="x")
    _count_failure(
        metrics,
        Activity.DECIDE_AND_GRANT,
        decide,
        ApplicationError("no", type="bc_admin_required", non_retryable=True),
    )
    expired = Decision(request_id="r", status=RequestStatus.EXPIRED, scenario=Scenario.S3)
    _count_success(metrics, _info(Activity.DECIDE_AND_GRANT), decide, expired)
    approved = Decision(request_id="r", status=RequestStatus.APPROVED, scenario=Scenario.S2)
    scheduled = datetime.now(UTC) - timedelta(milliseconds=40)
    _count_success(metrics, _info(Activity.DECIDE_AND_GRANT, scheduled), decide, approved)
    # A fault (retried, not a refusal) is no decision.
    _count_failure(metrics, Activity.DECIDE_AND_GRANT, decide, RuntimeError("db down"))
    samples = parse_metrics(generate_latest(metrics.registry).decode())
    counted = {
        (lb["scenario"], lb["outcome"]): v
        for (name, labels), v in samples.items()
        if name == "shop_access_approvals_total"
        for lb in [dict(labels)]
    }
    assert counted == {("S4", "refused"): 1, ("S3", "expired"): 1, ("S2", "approved"): 1}
    assert value(samples, "shop_access_approval_refusals_total", code="bc_admin_required") == 1
    assert value(samples, "shop_access_approval_to_grant_seconds_count") == 1
    assert value(samples, "shop_access_approval_to_grant_seconds_sum") >= 0.04
    # The refusal is a business outcome; the database error is the one fault.
    assert (
        value(samples, "shop_access_activity_faults_total", activity=Activity.DECIDE_AND_GRANT) == 1
    )


def test_r19_removals_campaigns_and_partner_mail_are_counted() -> None:
    metrics = ServiceMetrics(CollectorRegistry())
    page = PageStopped(stopped=250, last_id=9, done=False)
    _count_success(metrics, _info(PartnerActivity.STOP_CAMPAIGN_PAGE), None, page)
    _count_success(metrics, _info(PartnerActivity.STOP_CAMPAIGN_PAGE), None, page)
    finished = RemovalFinished(campaigns_stopped=500)
    _count_success(metrics, _info(PartnerActivity.FINISH_REMOVAL), None, finished)
    _count_success(metrics, _info(PartnerActivity.NOTIFY_REMOVAL), None, PartnerEmailsSent(sent=3))
    _count_failure(metrics, PartnerActivity.SEND_INVITATION_EMAILS, None, OSError("smtp"))
    _count_failure(metrics, PartnerActivity.STOP_CAMPAIGN_PAGE, None, asyncio.CancelledError())
    samples = parse_metrics(generate_latest(metrics.registry).decode())
    assert value(samples, "shop_access_campaigns_stopped_total") == 500
    assert value(samples, "shop_access_removals_completed_total") == 1
    assert value(samples, "shop_access_emails_sent_total", template="access_removed") == 3
    assert value(samples, "shop_access_email_attempts_failed_total", template="invitation") == 1
    # Faults (retried) are counted per activity; a cancellation is not a fault.
    faults = {
        dict(labels)["activity"]: v
        for (name, labels), v in samples.items()
        if name == "shop_access_activity_faults_total"
    }
    assert faults == {PartnerActivity.SEND_INVITATION_EMAILS: 1}


async def test_worker_page_serves_extra_routes_and_survives_a_missing_sdk_page() -> None:
    """The API the health checks join: routes added beside /metrics; and the service's
    figures still serve when the SDK's private page does not answer."""
    from prometheus_client import Counter
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    from runtime.worker_http import worker_http_app

    registry = CollectorRegistry()
    Counter("shop_access_probe", "a probe", registry=registry).inc()

    async def readyz(_request: Any) -> PlainTextResponse:
        return PlainTextResponse("ready")

    app = worker_http_app(
        registry, f"http://{free_address()}/metrics", extra_routes=[Route("/readyz", readyz)]
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://worker"
    ) as http:
        page = await http.get("/metrics")
        ready = await http.get("/readyz")
    assert page.status_code == 200
    assert value(parse_metrics(page.text), "shop_access_probe_total") == 1
    assert (ready.status_code, ready.text) == (200, "ready")
