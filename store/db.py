"""Engines and transactions for SQLite and PostgreSQL.

Write transactions must serialise where the rules count or compare rows (R4's daily limit,
R11's race). PostgreSQL does that with row locks (``SELECT … FOR UPDATE``); SQLite has no
row locks, so a write transaction there starts with ``BEGIN IMMEDIATE`` and takes the
database's single writer lock up front, instead of failing to upgrade a read lock later.

SQLite's writer lock is also why threads of one process queue on a Python lock before
``BEGIN IMMEDIATE``: a thread refused by SQLite sleeps in its busy handler with a backoff
of up to 100 ms, even if the lock frees a moment later, while a Python lock hands over
at once. Other processes (web, CLI) still meet the busy handler, which is rare.

A store that cannot be used at all (not a database, corrupt, locked past the busy timeout,
a server that does not answer, a file that does not exist) is one fault for callers,
:class:`StoreUnavailable`, whose message says what to check; :func:`store_errors` is the
one place that recognises the drivers' errors as that fault.
"""

from __future__ import annotations

import sqlite3
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url
from sqlmodel import Session, create_engine

_BEGIN_OPTION = "shop_access_sqlite_begin"
_SQLITE_WRITERS: weakref.WeakKeyDictionary[Engine, threading.RLock] = weakref.WeakKeyDictionary()
SQLITE_BUSY_TIMEOUT_S = 30.0
"""How long a SQLite connection waits for another process's lock before giving up."""


class StoreUnavailable(Exception):
    """The store cannot be used: retrying the same command will not help until someone
    fixes the file, the server or DATABASE_URL. The message says what to check."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine with the settings this service relies on for ``url``'s dialect."""
    if url.startswith("sqlite"):
        # A pool as wide as the busiest caller (the web app's thread pool, the worker's
        # activity threads): with the default of 5, the others open and close a connection
        # per session (SQLite connections are cheap to keep).
        kwargs = {"pool_size": 20, "max_overflow": 20, **kwargs}
        timeout = SQLITE_BUSY_TIMEOUT_S  # read per engine, so a test can lower it
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": timeout}, **kwargs
        )
        _configure_sqlite(engine, timeout)
        _SQLITE_WRITERS[engine] = threading.RLock()
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20, **kwargs)


def _configure_sqlite(engine: Engine, busy_timeout: float) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy, not pysqlite, decide when transactions begin.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        mode = conn.get_execution_options().get(_BEGIN_OPTION, "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")


@contextmanager
def write_session(engine: Engine) -> Iterator[Session]:
    """A transaction that commits on success and rolls back on any exception."""
    bound = engine.execution_options(**{_BEGIN_OPTION: "IMMEDIATE"})
    writer = _SQLITE_WRITERS.get(engine) or nullcontext()
    with writer, Session(bound, expire_on_commit=False) as session, session.begin():
        yield session


@contextmanager
def read_session(engine: Engine) -> Iterator[Session]:
    with Session(engine, expire_on_commit=False) as session:
        yield session


def ping(engine: Engine) -> None:
    """Run the most trivial query: the store answers, or the driver's error is raised."""
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))


def max_connections(engine: Engine) -> int | None:
    """PostgreSQL's ``max_connections`` setting (read, never changed); None on SQLite."""
    if engine.dialect.name != "postgresql":
        return None
    with engine.connect() as conn:
        return int(conn.execute(text("SHOW max_connections")).scalar_one())


def sqlite_path(url: str) -> Path | None:
    """The file behind a SQLite URL; None for other databases and in-memory SQLite."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def where(url: str) -> str:
    """The store as a person should look for it: the file, or the server without password."""
    path = sqlite_path(url)
    if path is not None:
        return f"the SQLite file {path}"
    parsed = make_url(url)
    return f"the database server at {parsed.host or 'localhost'}:{parsed.port or 'default port'}"


def require_existing(url: str) -> None:
    """Refuse a SQLite path with no store yet: no file (SQLite would create one) or an
    empty file (opening it would write a header). Only ``migrate`` creates a store."""
    path = sqlite_path(url)
    if path is None:
        return
    if not path.is_file() or path.stat().st_size == 0:
        state = "is empty" if path.is_file() else "does not exist"
        raise StoreUnavailable(
            f"The store {path} {state}: check DATABASE_URL, or create the store with "
            "`python starter.py migrate`."
        )


def store_fault(err: BaseException, url: str) -> StoreUnavailable | None:
    """The fault ``err`` means for the store at ``url``, or None if it is not a store fault.

    Constraint violations and SQL mistakes (IntegrityError, ProgrammingError...) are bugs
    or rules, not an unusable store, so they stay what they are.
    """
    if isinstance(err, sa_exc.DBAPIError):
        usable = isinstance(err, sa_exc.OperationalError | sa_exc.InterfaceError)
        if not usable and type(err) is not sa_exc.DatabaseError:
            return None
        driver = err.orig if err.orig is not None else err
    elif isinstance(err, sqlite3.OperationalError) or type(err) is sqlite3.DatabaseError:
        driver = err  # raised by a connect-time PRAGMA, before SQLAlchemy wraps errors
    else:
        return None
    reason = (str(driver).strip().splitlines() or [type(driver).__name__])[0]
    hint = (
        "check the file, its directory and DATABASE_URL (`python starter.py migrate` "
        "creates a new store); another process may hold it locked"
        if sqlite_path(url) is not None
        else "check that the server is running and reachable and DATABASE_URL"
    )
    return StoreUnavailable(f"Cannot use {where(url)} ({reason}): {hint}.")


@contextmanager
def store_errors(url: str) -> Iterator[None]:
    """Turn the drivers' errors for an unusable store into :class:`StoreUnavailable`."""
    try:
        yield
    except Exception as err:
        fault = store_fault(err, url)
        if fault is None:
            raise
        raise fault from err
