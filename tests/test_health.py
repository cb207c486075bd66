"""Health endpoints: the link handler's and the worker's ``/healthz``
(alive) and ``/readyz`` (store reachable, schema current, Temporal reachable; the worker
also polling), answering 503 with the reason when a part is broken. Each broken part is
a real one: an empty SQLite file, a PostgreSQL port nobody listens on, a Temporal address
nobody serves."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from pydantic import ValidationError
from sqlalchemy import Engine
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from linkhandler.app import create_app
from models.settings import Settings
from runtime.health_server import serve_health
from store.db import make_engine
from worker import PollingFlag, worker_readiness


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture()
def unmigrated(tmp_path: Path) -> Any:
    engine = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    yield engine
    engine.dispose()


@pytest.fixture()
def unreachable_store() -> Any:
    engine = make_engine(
        f"postgresql+psycopg://shop:secret@127.0.0.1:{closed_port()}/shop",
        connect_args={"connect_timeout": 2},
    )
    yield engine
    engine.dispose()


@pytest_asyncio.fixture(loop_scope="session")
async def unreachable_temporal() -> Client:
    # lazy: connecting is what fails, at the first call, as for a server that went away.
    return await Client.connect(
        f"127.0.0.1:{closed_port()}", data_converter=pydantic_data_converter, lazy=True
    )


async def readyz(app: Any, path: str = "/readyz") -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://web") as http:
        return await http.get(path)


def failed(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in body["checks"] if not c["ok"]}


# --- the link handler ------------------------------------------------------------------------


async def test_link_handler_is_alive_and_ready_on_a_good_setup(
    settings: Settings, engine: Engine, client: Client
) -> None:
    app = create_app(settings, client=client, engine=engine)
    alive = await readyz(app, "/healthz")
    assert (alive.status_code, alive.text) == (200, "ok")
    ready = await readyz(app)
    assert ready.status_code == 200, ready.text
    body = ready.json()
    assert body["status"] == "ready" and body["reason"] == "ready"
    assert [c["name"] for c in body["checks"]] == ["store", "schema", "temporal"]
    assert all(c["ok"] for c in body["checks"])
    assert ready.headers["cache-control"] == "no-store"


async def test_link_handler_not_ready_when_the_schema_is_behind(
    settings: Settings, unmigrated: Engine, client: Client
) -> None:
    response = await readyz(create_app(settings, client=client, engine=unmigrated))
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "not ready"
    assert list(failed(body)) == ["schema"]
    assert "revision none" in body["reason"]
    assert "starter.py migrate" in failed(body)["schema"]["hint"]


async def test_link_handler_not_ready_when_the_store_is_unreachable(
    settings: Settings, unreachable_store: Engine, client: Client
) -> None:
    response = await readyz(create_app(settings, client=client, engine=unreachable_store))
    assert response.status_code == 503
    body = response.json()
    assert list(failed(body)) == ["store"]  # the schema is not read without a store
    assert "cannot query postgresql" in body["reason"]
    assert "secret" not in response.text  # the password is never shown
    assert "DATABASE_URL" in failed(body)["store"]["hint"]


async def test_link_handler_not_ready_when_temporal_is_unreachable(
    settings: Settings, engine: Engine, unreachable_temporal: Client
) -> None:
    response = await readyz(create_app(settings, client=unreachable_temporal, engine=engine))
    assert response.status_code == 503
    body = response.json()
    assert list(failed(body)) == ["temporal"]
    assert "is not reachable" in body["reason"]
    assert "TEMPORAL_ADDRESS" in failed(body)["temporal"]["hint"]


# --- the worker --------------------------------------------------------------------------


async def get(port: int, path: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
        return await http.get(path)


@pytest_asyncio.fixture(loop_scope="session")
async def polling() -> AsyncIterator[PollingFlag]:
    yield PollingFlag()


async def test_worker_health_follows_polling_and_its_dependencies(
    engine: Engine, unmigrated: Engine, client: Client, polling: PollingFlag
) -> None:
    async with serve_health("127.0.0.1:0", worker_readiness(engine, client, polling)) as (
        _host,
        port,
    ):
        alive = await get(port, "/healthz")
        assert (alive.status_code, alive.json()) == (200, {"status": "ok"})

        starting = await get(port, "/readyz")
        assert starting.status_code == 503
        assert list(failed(starting.json())) == ["worker"]
        assert "not polling" in starting.json()["reason"]

        polling.on = True
        ready = await get(port, "/readyz")
        assert ready.status_code == 200, ready.text
        names = [c["name"] for c in ready.json()["checks"]]
        assert names == ["store", "schema", "temporal", "worker"]

        assert (await get(port, "/metrics")).status_code == 404
        async with httpx.AsyncClient() as http:
            posted = await http.post(f"http://127.0.0.1:{port}/readyz")
        assert posted.status_code == 405

    async with serve_health("127.0.0.1:0", worker_readiness(unmigrated, client, polling)) as (
        _host,
        port,
    ):
        behind = await get(port, "/readyz")
        assert behind.status_code == 503
        assert list(failed(behind.json())) == ["schema"]


async def test_worker_readiness_times_out_instead_of_hanging(
    engine: Engine, unreachable_temporal: Client, polling: PollingFlag
) -> None:
    """A Temporal address that refuses connections fails the check within the timeout:
    a probe gets its 503 instead of waiting on the client's own retries."""
    polling.on = True
    ready = worker_readiness(engine, unreachable_temporal, polling)
    result = await asyncio.wait_for(ready(), 15)
    assert not result.ready
    assert [c.name for c in result.failed] == ["temporal"]


@pytest.mark.parametrize("address", ["8000", "localhost", "host:port", ":80", "h:70000"])
def test_a_malformed_worker_health_address_is_refused(address: str) -> None:
    with pytest.raises(ValidationError, match="WORKER_HEALTH_ADDRESS must be host:port"):
        Settings(dev_mode=True, worker_health_address=address)


async def test_the_same_routes_mount_on_a_starlette_app(
    engine: Engine, client: Client, polling: PollingFlag
) -> None:
    """For the worker's metrics app (one address for /metrics, /healthz and /readyz)."""
    from starlette.applications import Starlette

    from runtime.health_server import starlette_routes

    app = Starlette(routes=starlette_routes(worker_readiness(engine, client, polling)))
    polling.on = False
    assert (await readyz(app, "/healthz")).json() == {"status": "ok"}
    not_ready = await readyz(app)
    assert not_ready.status_code == 503 and list(failed(not_ready.json())) == ["worker"]
    polling.on = True
    assert (await readyz(app)).status_code == 200
