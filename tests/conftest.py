"""Shared fixtures: a real Temporal dev server (and the time-skipping server on demand),
stores on SQLite and PostgreSQL made from the real migrations, an in-process worker, and
the client-side RequestService.

PostgreSQL tests skip with a reason when no server is reachable, unless
REQUIRE_POSTGRES=1 (set by .ci/run), where they fail instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import os
import shutil
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar, overload

import pytest
import pytest_asyncio
from sqlalchemy import Engine, create_engine, text
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from client.access_requests import RequestService
from devtools.devserver import temporal_cli, test_server, tuning_args
from models.fields import EXACT_INTS
from models.reference import ReferenceData
from models.search_attributes import ALL as SEARCH_ATTRIBUTES
from models.settings import Settings
from store.db import make_engine, write_session
from store.migrate import upgrade
from store.reference import load_reference

PG_ADMIN_URL = os.environ.get(
    "TEST_POSTGRES_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REQUIRE_POSTGRES = os.environ.get("REQUIRE_POSTGRES") == "1"
DEMO = Path(__file__).resolve().parent.parent / "devtools" / "data" / "demo.json"

# Demo identities used across tests (devtools/data/demo.json).
AGENCY = 7100000000000000001
SUBAGENCY = 7100000000000000002
LINKED_BC = 7100000000000000003
RAJ_BC = 7100000000000000004
KIM_BC = 7100000000000000005
ANA, SAM, LEE = "ana@agency-one.com", "sam@agency-one.com", "lee@subagency.com"
OLI, NIA, RAJ, KIM, BO = (
    "oli@brand-linked.com",
    "nia@brand-new.com",
    "raj@brand-admin.com",
    "kim@brand-member.com",
    "bo@brand-member.com",
)
S1_SHOP, S2_SHOP, S3_SHOP, S4_SHOP = "GBLINKED01", "SGNEWBC002", "USADMIN003", "THMEMBER04"

T = TypeVar("T")

# How long a test waits for a state it expects. Generous on purpose: on a loaded machine
# (CI beside other jobs, two cores) things take many times longer than on a quiet one,
# and a wait on state returns as soon as the state is there, so a long deadline costs
# nothing when all is well.
WAIT_SECONDS = 60.0


# --- the deep run ----------------------------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--deep",
        action="store_true",
        default=os.environ.get("DEEP_TESTS") == "1",
        help="run the checks that have a CI budget in full: the API's schema fuzz with every "
        "example on SQLite and PostgreSQL (also DEEP_TESTS=1; docs/testing.md)",
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Slow tests first. ``scripts/test`` spreads the suite over several processes
    (pytest-xdist); a kill test started last would keep one process busy after the others
    are done, so the longest start first and the many short ones fill in around them."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.fixture(scope="session")
def deep(request: pytest.FixtureRequest) -> bool:
    """True under ``--deep``: budgeted checks run in full (``scripts/test --deep``)."""
    return bool(request.config.getoption("--deep"))


# --- waiting on state ----------------------------------------------------------------------


@overload
async def wait_until(
    check: Callable[[], Awaitable[T]],
    *,
    timeout: float = ...,
    interval: float = ...,
    what: str = ...,
) -> T: ...
@overload
async def wait_until(
    check: Callable[[], T],
    *,
    timeout: float = ...,
    interval: float = ...,
    what: str = ...,
) -> T: ...
async def wait_until(
    check: Callable[[], Any],
    *,
    timeout: float = WAIT_SECONDS,
    interval: float = 0.05,
    what: str = "the expected state",
) -> Any:
    """Poll ``check`` (sync or async) until it returns something truthy, and return it.

    Tests wait on state with this, never on a fixed sleep: the deadline only bounds a
    failure. On timeout the assertion names ``what`` and shows the last value seen.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what}: not reached within {timeout:.0f} s (last: {value!r})")
        await asyncio.sleep(interval)


def wait_until_sync(
    check: Callable[[], T],
    *,
    timeout: float = WAIT_SECONDS,
    interval: float = 0.2,
    what: str = "the expected state",
) -> T:
    """:func:`wait_until` for plain (non-async) tests: poll ``check`` until truthy."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what}: not reached within {timeout:.0f} s (last: {value!r})")
        time.sleep(interval)


# --- Temporal ----------------------------------------------------------------------------


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def temporal_server() -> AsyncIterator[WorkflowEnvironment]:
    """A real dev server (SQL visibility, search attributes) for the whole session. Tests
    reach it through ``temporal_env`` and ``client``, each in a namespace of its own."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(temporal_cli()),
        data_converter=pydantic_data_converter,
        search_attributes=list(SEARCH_ATTRIBUTES),
        dev_server_extra_args=tuning_args(),
        dev_server_log_level="error",
        ui=False,
    )
    try:
        yield env
    finally:
        await env.shutdown()


async def fresh_namespace(server: WorkflowEnvironment) -> Client:
    """A client on a new namespace of ``server``, with our search attributes (R21).

    This is how tests are kept apart on the one dev server: workflow ids are business
    keys (BC id, shop code) that every test's data repeats, and a pending request never
    expires (R9), so two tests in one namespace would see each other's workflows (R6).
    A namespace per test costs a few milliseconds and needs no cleanup; what a test
    leaves running stays in its namespace, where no worker polls any more.
    """
    from google.protobuf.duration_pb2 import Duration
    from temporalio.api.workflowservice.v1 import RegisterNamespaceRequest

    from client.temporal import ensure_search_attributes

    namespace = f"test-{uuid.uuid4().hex[:12]}"
    await server.client.workflow_service.register_namespace(
        RegisterNamespaceRequest(
            namespace=namespace, workflow_execution_retention_period=Duration(seconds=86400)
        )
    )
    config = server.client.config()
    config["namespace"] = namespace
    client = Client(**config)
    await ensure_search_attributes(client)
    return client


@pytest_asyncio.fixture(loop_scope="session")
async def temporal_env(
    temporal_server: WorkflowEnvironment, monkeypatch: pytest.MonkeyPatch
) -> WorkflowEnvironment:
    """The session's dev server, seen from this test's own namespace (``fresh_namespace``).

    ``TEMPORAL_NAMESPACE`` names it for the test's duration, so the processes a test starts
    (``worker.py``, ``starter.py``, the link handler) join the same namespace; each test
    still names the address (``TEMPORAL_ADDRESS``) itself."""
    client = await fresh_namespace(temporal_server)
    monkeypatch.setenv("TEMPORAL_NAMESPACE", client.namespace)
    return WorkflowEnvironment.from_client(client)


@pytest_asyncio.fixture(loop_scope="session")
async def client(temporal_env: WorkflowEnvironment) -> Client:
    """The Temporal client of this test: the session's dev server, its own namespace."""
    return temporal_env.client


@pytest_asyncio.fixture(loop_scope="session")
async def time_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(test_server()),
        data_converter=pydantic_data_converter,
    )
    try:
        yield env
    finally:
        await env.shutdown()


# --- stores ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file, copied for each test (migrating per test is slow)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


def _sqlite_engine(template: Path, directory: Path) -> Engine:
    path = directory / f"store-{uuid.uuid4().hex[:8]}.db"
    shutil.copy(template, path)
    return make_engine(f"sqlite:///{path}")


def _postgres_available() -> str | None:
    """None if PostgreSQL answers, else why not."""
    try:
        engine = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
        return None
    except Exception as err:
        return f"PostgreSQL not reachable at {PG_ADMIN_URL}: {type(err).__name__}"


@pytest.fixture(scope="session")
def postgres_admin() -> Iterator[Engine]:
    reason = _postgres_available()
    if reason is not None:
        if REQUIRE_POSTGRES:
            pytest.fail(reason + " (REQUIRE_POSTGRES=1)")
        pytest.skip(reason)
    engine = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def postgres_template(postgres_admin: Engine) -> Iterator[str]:
    """One migrated database per session, cloned for each test (migrating per test costs
    seconds; ``CREATE DATABASE ... TEMPLATE`` costs milliseconds)."""
    name = f"shop_access_tmpl_{uuid.uuid4().hex[:12]}"
    with postgres_admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}")
    upgrade(engine)
    engine.dispose()  # a template must have no open connections when cloned
    try:
        yield name
    finally:
        with postgres_admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture()
def postgres_engine(postgres_admin: Engine, postgres_template: str) -> Iterator[Engine]:
    """A fresh database per test, created and dropped here, so runs never share data."""
    name = f"shop_access_test_{uuid.uuid4().hex[:12]}"
    with postgres_admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{postgres_template}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    engine = make_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()
        with postgres_admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture()
def sqlite_engine(sqlite_template: Path, tmp_path: Path) -> Iterator[Engine]:
    engine = _sqlite_engine(sqlite_template, tmp_path)
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_engine(request: pytest.FixtureRequest) -> Engine:
    """The store on each engine: store tests run once on SQLite, once on PostgreSQL."""
    name = "sqlite_engine" if request.param == "sqlite" else "postgres_engine"
    engine: Engine = request.getfixturevalue(name)
    return engine


@pytest.fixture()
def engine(sqlite_engine: Engine) -> Engine:
    """The default store for workflow tests: SQLite, like the quick start."""
    return sqlite_engine


def load_demo(engine: Engine) -> None:
    with write_session(engine) as session:
        load_reference(session, ReferenceData.model_validate_json(DEMO.read_text()))


def load_data(engine: Engine, data: dict[str, Any]) -> None:
    with write_session(engine) as session:
        load_reference(session, ReferenceData.model_validate(data, context=EXACT_INTS))


@pytest.fixture()
def demo(engine: Engine) -> Engine:
    load_demo(engine)
    return engine


# --- the service ---------------------------------------------------------------------------


@pytest.fixture()
def settings(engine: Engine, tmp_path: Path) -> Settings:
    return Settings(
        database_url=engine.url.render_as_string(hide_password=False),
        task_queue=f"test-{uuid.uuid4().hex[:10]}",
        mail_outbox_dir=tmp_path / "outbox",
        dev_mode=True,
        link_base_url="http://127.0.0.1:8000",
    )


@pytest_asyncio.fixture(loop_scope="session")
async def worker(client: Client, settings: Settings, engine: Engine) -> AsyncIterator[Any]:
    """The real worker (every workflow and activity) in this process, on its own queue."""
    from worker import build_worker

    with ThreadPoolExecutor(max_workers=settings.activity_threads) as executor:
        async with build_worker(client, settings, engine, executor) as running:
            yield running


@contextlib.asynccontextmanager
async def time_skipping_worker(
    client: Client, settings: Settings, engine: Engine
) -> AsyncIterator[None]:
    """The real workflows and activities (those that need the worker's own client too) for
    the time-skipping server. Unsandboxed, so a test's no-op search-attribute upsert (that
    server has none) is the one workflow code calls. No cache, so no sticky queue: the test
    server keeps handing a stopped worker's workflows to it, until a timeout its skipped
    clock never reaches; every task then replays the history, the strongest restart."""
    from temporalio.worker import UnsandboxedWorkflowRunner, Worker

    from worker import WORKFLOWS, activities_for, bulk_activities

    with ThreadPoolExecutor(max_workers=settings.activity_threads) as executor:
        async with Worker(
            client,
            task_queue=settings.task_queue,
            workflows=WORKFLOWS,
            activities=[
                *activities_for(settings, engine),
                *bulk_activities(client, settings, engine),
            ],
            activity_executor=executor,
            workflow_runner=UnsandboxedWorkflowRunner(),
            max_cached_workflows=0,
        ):
            yield


@pytest_asyncio.fixture(loop_scope="session")
async def service(
    client: Client, settings: Settings, engine: Engine, worker: Any
) -> RequestService:
    return RequestService(client, engine, settings.task_queue, timeout=WAIT_SECONDS)


def outbox_messages(settings: Settings) -> list[Any]:
    """The e-mails written to the outbox, parsed."""
    import email
    from email import policy

    directory = settings.mail_outbox_dir
    if not directory.exists():
        return []
    return [
        email.message_from_bytes(p.read_bytes(), policy=policy.default)
        for p in sorted(directory.glob("*.eml"))
    ]


# --- continue-as-new --------------------------------------------------------------------

# The dev server suggests continue-as-new after this many history events (4,096 by default).
SUGGEST_CAN_AT = "limit.historyCount.suggestContinueAsNew=12"


@contextlib.asynccontextmanager
async def can_suggesting_worker(settings: Settings, engine: Engine) -> AsyncIterator[Client]:
    """A private dev server, tuned like the others, that suggests continue-as-new after a
    dozen events, with the real worker on it: long-lived workflows move to new runs within
    one test. Yields the server's client; stops both on exit."""
    from worker import build_worker

    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(temporal_cli()),
        data_converter=pydantic_data_converter,
        search_attributes=list(SEARCH_ATTRIBUTES),
        dev_server_extra_args=[*tuning_args(), "--dynamic-config-value", SUGGEST_CAN_AT],
        dev_server_log_level="error",
        ui=False,
    )
    try:
        with ThreadPoolExecutor(max_workers=settings.activity_threads) as executor:
            async with build_worker(env.client, settings, engine, executor):
                yield env.client
    finally:
        await env.shutdown()


async def closed_runs(client: Client, workflow_id: str) -> list[Any]:
    """Every run of ``workflow_id`` once visibility shows them all closed."""
    from temporalio.client import WorkflowExecutionStatus

    async def all_closed() -> list[Any]:
        runs = [w async for w in client.list_workflows(f"WorkflowId = '{workflow_id}'")]
        if runs and all(r.status is not WorkflowExecutionStatus.RUNNING for r in runs):
            return runs
        return []

    # Visibility is eventually consistent: wait for it to show every run closed.
    runs: list[Any] = await wait_until(
        all_closed, interval=0.2, what=f"every run of {workflow_id} closed"
    )
    return runs


async def start_worker_process(
    settings: Settings, address: str, log: Path
) -> asyncio.subprocess.Process:
    """A real ``worker.py`` on ``settings``' store and queue, for tests that kill it."""
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "DEV_MODE": "1",
        "TASK_QUEUE": settings.task_queue,
        "MAIL_OUTBOX_DIR": str(settings.mail_outbox_dir),
        "TEMPORAL_ADDRESS": address,
    }
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "worker.py",
        cwd=Path(__file__).resolve().parent.parent,
        env=env,
        stdout=log.open("ab"),
        stderr=asyncio.subprocess.STDOUT,
    )
