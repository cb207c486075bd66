"""Helpers shared by the metrics, tracing and logging tests: the real worker with its
telemetry on the session's dev server, the link handler over ASGI, and one seller's
approval walked through the web page."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from client.access_requests import RequestService, Submitted
from client.links import LinkSigner
from client.temporal import connect
from linkhandler.app import create_app
from models.enums import RequestMethod
from models.messages import RequestState
from models.names import Message
from models.settings import Settings
from runtime.worker_telemetry import WorkerTelemetry
from tests.web.conftest import csrf_in

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parse_metrics(text: str) -> Samples:
    """Every sample of a Prometheus text page, keyed by name and sorted labels."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def poll(check: Callable[[], Any], what: str, timeout: float = 20.0) -> Any:
    """Await ``check()`` until it returns something truthy, or fail after ``timeout``."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)


@dataclass
class Stack:
    client: Client
    service: RequestService
    http: httpx.AsyncClient
    telemetry: WorkerTelemetry
    settings: Settings


@contextlib.asynccontextmanager
async def observed_stack(
    temporal_env: WorkflowEnvironment,
    settings: Settings,
    engine: Engine,
    *,
    client_interceptors: list[Any] | None = None,
) -> AsyncIterator[Stack]:
    """The worker as ``worker.py`` runs it (telemetry from ``settings``) and the link
    handler over ASGI, both on one client made like production's."""
    from worker import build_worker

    telemetry = WorkerTelemetry.start(settings, engine)
    config = temporal_env.client.service_client.config
    client = await connect(
        runtime=telemetry.runtime,
        target_host=config.target_host,
        namespace=temporal_env.client.namespace,
        interceptors=client_interceptors
        if client_interceptors is not None
        else telemetry.client_interceptors,
    )
    app = create_app(settings, client=client, engine=engine)
    with ThreadPoolExecutor(max_workers=settings.activity_threads) as executor:
        worker = build_worker(
            client, settings, engine, executor, interceptors=telemetry.worker_interceptors
        )
        async with (
            worker,
            telemetry.serving(),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url=settings.link_base_url
            ) as http,
        ):
            yield Stack(
                client=client,
                service=RequestService(client, engine, settings.task_queue, timeout=20),
                http=http,
                telemetry=telemetry,
                settings=settings,
            )


async def submit_and_wait_for_emails(
    service: RequestService, *, bc_id: int, shop_code: str, by: str
) -> Submitted:
    submitted = await service.submit(
        method=RequestMethod.REQUEST_ACCESS, bc_id=bc_id, shop_code=shop_code, by=by
    )
    handle = service.client.get_workflow_handle(submitted.workflow_id)

    async def sent() -> bool:
        state = await handle.query(Message.STATE, result_type=RequestState)
        return state.first_email_sent

    await poll(sent, "the request's first e-mails")
    return submitted


async def approve_on_the_page(
    stack: Stack, request_id: str, seller: str, form: dict[str, str] | None = None
) -> httpx.Response:
    """GET the seller's personal link, then POST its form as the browser would."""
    settings = stack.settings
    signer = LinkSigner(settings.secret_key.get_secret_value(), settings.link_base_url)
    path = "/approve/" + signer.token(request_id, seller)
    page = await stack.http.get(path)
    assert page.status_code == 200, page.text
    return await stack.http.post(path, data={"csrf": csrf_in(page.text), **(form or {})})
