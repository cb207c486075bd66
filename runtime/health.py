"""Health checks shared by the link handler's and the worker's ``/readyz`` and by
``starter.py doctor``.

Each check is a plain function returning a :class:`Check`: a name, pass or fail, what was
seen, and on failure a hint saying what to do. None raises: a check that cannot finish
(a refused connection, a timeout) is a failed check with the reason. Store checks block
(SQLAlchemy) and are run in a thread by async callers; Temporal checks are async and
bounded by ``timeout`` seconds, because a client call to an unreachable server otherwise
retries for a long time.
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from collections.abc import Awaitable, Callable, Iterable
from datetime import timedelta

from pydantic import BaseModel
from sqlalchemy import Engine
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import Client

from models.search_attributes import ALL as SEARCH_ATTRIBUTES
from store.db import max_connections, ping
from store.migrate import current_revision, head_revision

DEFAULT_TIMEOUT = 5.0
SEARCH_ATTRIBUTE_NAMES = tuple(key.name for key in SEARCH_ATTRIBUTES)


class Check(BaseModel):
    """One health check's outcome."""

    name: str
    ok: bool
    detail: str
    hint: str = ""
    # Passed, but something to act on before it bites (doctor prints WARN; still ready).
    warning: bool = False


class Readiness(BaseModel):
    """Every check of a ``/readyz`` or ``doctor`` run; ready when all passed."""

    ready: bool
    checks: list[Check]

    @classmethod
    def of(cls, checks: Iterable[Check]) -> Readiness:
        checks = list(checks)
        return cls(ready=all(c.ok for c in checks), checks=checks)

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]

    def reason(self) -> str:
        """One line naming each failed check, for a 503's body and logs."""
        return "; ".join(f"{c.name}: {c.detail}" for c in self.failed) or "ready"


def _passed(name: str, detail: str) -> Check:
    return Check(name=name, ok=True, detail=detail)


def _failed(name: str, detail: str, hint: str) -> Check:
    return Check(name=name, ok=False, detail=detail, hint=hint)


def _why(err: BaseException) -> str:
    # Driver errors carry the statement and a documentation link after the first line.
    first = str(err).strip().splitlines()[0] if str(err).strip() else ""
    return f"{type(err).__name__}: {first}" if first else type(err).__name__


def _store_name(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


# --- the store ---------------------------------------------------------------------------


def check_store(engine: Engine) -> Check:
    """The store answers a trivial query."""
    try:
        ping(engine)
    except Exception as err:
        return _failed(
            "store",
            f"cannot query {_store_name(engine)} ({_why(err)})",
            "check DATABASE_URL (host, port, database, user, password) and that the "
            "database server is running",
        )
    return _passed("store", f"{engine.dialect.name} at {_store_name(engine)} answers")


def check_schema(engine: Engine) -> Check:
    """The store's schema is at the revision this code was written for."""
    try:
        url = engine.url.render_as_string(hide_password=False)
        head, current = head_revision(url), current_revision(engine)
    except Exception as err:
        return _failed(
            "schema",
            f"cannot read the schema revision ({_why(err)})",
            "fix the store first (see the store check)",
        )
    if current != head:
        return _failed(
            "schema",
            f"the schema is at revision {current or 'none'}, this code needs {head}",
            "run `python starter.py migrate` against this DATABASE_URL",
        )
    return _passed("schema", f"at revision {head}")


# The sizing guide's figure (docs/operations.md, Sizing): each process's engine keeps up to
# 10 PostgreSQL connections and opens up to 20 more under load (store/db.py).
CONNECTIONS_PER_PROCESS = 30


def check_connections(engine: Engine, processes: int) -> Check:
    """PostgreSQL's ``max_connections`` leaves room for ``processes`` service processes at
    the sizing guide's 30 each; short of it is a warning, not a failure: the set-up runs,
    and refuses connections only under load."""
    try:
        allowed = max_connections(engine)
    except Exception as err:
        return _failed(
            "connections",
            f"cannot read max_connections ({_why(err)})",
            "fix the store first (see the store check)",
        )
    if allowed is None:
        return _passed("connections", f"{engine.dialect.name}: no server connections to size")
    needed = CONNECTIONS_PER_PROCESS * processes
    detail = (
        f"max_connections is {allowed}; {processes} processes at "
        f"{CONNECTIONS_PER_PROCESS} each need {needed}"
    )
    if allowed < needed:
        return Check(
            name="connections",
            ok=True,
            warning=True,
            detail=detail,
            hint=f"raise PostgreSQL's max_connections to at least {needed}, or put PgBouncer "
            "(transaction pooling) in front (docs/operations.md, Sizing)",
        )
    return _passed("connections", detail)


# --- Temporal ----------------------------------------------------------------------------


async def _bounded(call: Awaitable[object], timeout: float) -> None:
    async with asyncio.timeout(timeout):
        await call


def _target(client: Client) -> str:
    return client.service_client.config.target_host


async def check_temporal(client: Client, timeout: float = DEFAULT_TIMEOUT) -> Check:
    """Temporal's frontend answers its health check."""
    try:
        async with asyncio.timeout(timeout):
            serving = await client.service_client.check_health(timeout=timedelta(seconds=timeout))
    except Exception as err:
        serving = False
        why = _why(err) if not isinstance(err, TimeoutError) else f"no answer in {timeout:g} s"
    else:
        why = "the frontend reports not serving"
    if not serving:
        return _failed(
            "temporal",
            f"{_target(client)} is not reachable ({why})",
            "check TEMPORAL_ADDRESS (and TEMPORAL_API_KEY / TEMPORAL_TLS_* for Temporal "
            "Cloud) and that the Temporal server is running",
        )
    return _passed("temporal", f"{_target(client)} is serving")


async def check_namespace(client: Client, timeout: float = DEFAULT_TIMEOUT) -> Check:
    """The namespace exists and this client may use it."""
    request = DescribeNamespaceRequest(namespace=client.namespace)
    try:
        await _bounded(
            client.workflow_service.describe_namespace(request, timeout=timedelta(seconds=timeout)),
            timeout,
        )
    except Exception as err:
        why = _why(err) if not isinstance(err, TimeoutError) else f"no answer in {timeout:g} s"
        return _failed(
            "namespace",
            f"namespace {client.namespace!r} on {_target(client)}: {why}",
            "check TEMPORAL_NAMESPACE (on Temporal Cloud `<name>.<account>`) and that "
            "the API key or client certificate may use it",
        )
    return _passed("namespace", f"{client.namespace!r} exists")


async def check_search_attributes(
    client: Client,
    timeout: float = DEFAULT_TIMEOUT,
    required: Iterable[str] = SEARCH_ATTRIBUTE_NAMES,
) -> Check:
    """The custom search attributes ops filter by (R21) exist in the namespace."""
    request = ListSearchAttributesRequest(namespace=client.namespace)
    try:
        async with asyncio.timeout(timeout):
            listed = await client.operator_service.list_search_attributes(
                request, timeout=timedelta(seconds=timeout)
            )
    except Exception as err:
        why = _why(err) if not isinstance(err, TimeoutError) else f"no answer in {timeout:g} s"
        return _failed(
            "search_attributes",
            f"cannot list the search attributes of {client.namespace!r} ({why})",
            "on Temporal Cloud, check them in the namespace's settings instead "
            "(docs/operations.md)",
        )
    required = list(required)
    missing = [name for name in required if name not in listed.custom_attributes]
    if missing:
        return _failed(
            "search_attributes",
            f"{client.namespace!r} lacks {', '.join(missing)}",
            "start the worker once (it registers them), or create each as Keyword: "
            "`temporal operator search-attribute create --name NAME --type Keyword` "
            "(Temporal Cloud: in the namespace's settings)",
        )
    return _passed("search_attributes", f"{', '.join(required)} present")


# --- mail --------------------------------------------------------------------------------


def check_smtp(smtp_url: str | None, timeout: float = DEFAULT_TIMEOUT) -> Check:
    """The SMTP server greets, takes STARTTLS when offered and our login; skipped (and
    passed) when mail goes to the outbox."""
    if not smtp_url:
        return _passed("smtp", "not configured: e-mails are written to MAIL_OUTBOX_DIR")
    from activities.delivery import SmtpTransport

    try:
        smtp = SmtpTransport(smtp_url, timeout=timeout)
    except ValueError as err:
        return _failed("smtp", str(err), "set SMTP_URL to smtp://user:pass@host:587")
    where = f"{smtp.host}:{smtp.port}"
    try:
        if smtp.tls:
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                smtp.host, smtp.port, timeout=timeout, context=ssl.create_default_context()
            )
        else:
            client = smtplib.SMTP(smtp.host, smtp.port, timeout=timeout)
        with client:
            client.ehlo()
            if not smtp.tls and client.has_extn("starttls"):
                client.starttls(context=ssl.create_default_context())
                client.ehlo()
            if smtp.username:
                client.login(smtp.username, smtp.password or "")
            client.noop()
    except Exception as err:
        return _failed(
            "smtp",
            f"{where} did not accept a session ({_why(err)})",
            "check SMTP_URL's host, port, scheme (smtps:// for TLS on connect) and "
            "credentials, and that the mail server is reachable from here",
        )
    return _passed("smtp", f"{where} accepts a session")


# --- together ----------------------------------------------------------------------------


async def readiness(
    engine: Engine,
    client: Client | None,
    timeout: float = DEFAULT_TIMEOUT,
    extra: Iterable[Callable[[], Check]] = (),
) -> Readiness:
    """What ``/readyz`` answers: store reachable, schema current, Temporal reachable
    (and any process-specific ``extra`` checks, e.g. the worker polling)."""

    def store_checks() -> list[Check]:
        store = check_store(engine)
        if not store.ok:
            return [store]
        return [store, check_schema(engine)]

    try:
        # The thread outlives a timeout, but the answer does not wait for it.
        checks = await asyncio.wait_for(asyncio.to_thread(store_checks), timeout)
    except TimeoutError:
        checks = [
            _failed(
                "store",
                f"{_store_name(engine)} gave no answer in {timeout:g} s",
                "check that the database server is up and reachable from here",
            )
        ]
    if client is None:
        checks.append(_failed("temporal", "not connected yet", "wait for start-up to finish"))
    else:
        checks.append(await check_temporal(client, timeout))
    checks.extend(check() for check in extra)
    return Readiness.of(checks)
