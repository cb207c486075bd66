"""Engines and transactions for SQLite and PostgreSQL.

Write transactions must serialise where the rules count or compare rows (R4's daily limit,
R11's race). PostgreSQL does that with row locks (``SELECT … FOR UPDATE``); SQLite has no
row locks, so a write transaction there starts with ``BEGIN IMMEDIATE`` and takes the
database's single writer lock up front, instead of failing to upgrade a read lock later.

SQLite's writer lock is also why threads of one process queue on a Python lock before
``BEGIN IMMEDIATE``: a thread refused by SQLite sleeps in its busy handler with a backoff
of up to 100 ms, even if the lock frees a moment later, while a Python lock hands over
at once. Other processes (web, CLI) still meet the busy handler, which is rare.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from typing import Any

from sqlalchemy import Engine, event
from sqlmodel import Session, create_engine

_BEGIN_OPTION = "shop_access_sqlite_begin"
_SQLITE_WRITERS: weakref.WeakKeyDictionary[Engine, threading.RLock] = weakref.WeakKeyDictionary()


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine with the settings this service relies on for ``url``'s dialect."""
    if url.startswith("sqlite"):
        # A pool as wide as the busiest caller (the web app's thread pool, the worker's
        # activity threads): with the default of 5, the others open and close a connection
        # per session (SQLite connections are cheap to keep).
        kwargs = {"pool_size": 20, "max_overflow": 20, **kwargs}
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs
        )
        _configure_sqlite(engine)
        _SQLITE_WRITERS[engine] = threading.RLock()
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20, **kwargs)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy, not pysqlite, decide when transactions begin.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
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
