"""Applying and checking the schema migrations (Alembic) against DATABASE_URL.

``upgrade`` first makes sure the target is a healthy database: Alembic would otherwise
write its version table into whatever file it is given, or read a truncated file's
surviving pages and report success.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from store.db import StoreUnavailable, sqlite_path, store_errors

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def head_revision(url: str) -> str | None:
    return ScriptDirectory.from_config(alembic_config(url)).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def known_revisions(url: str) -> set[str]:
    return {
        script.revision
        for script in ScriptDirectory.from_config(alembic_config(url)).walk_revisions()
    }


def refuse_unknown_revision(engine: Engine) -> None:
    """Refuse, changing nothing, a store whose schema revision this build does not know.

    1.0.0 squashed the pre-release migrations into one baseline (docs/decisions.md, "One
    baseline migration at 1.0.0"), so a store made by an earlier build names a revision
    that no longer exists: migrating it would have to guess, and a half-migrated store is
    worse than a clear refusal.
    """
    url = engine.url.render_as_string(hide_password=False)
    with store_errors(url):
        current = current_revision(engine)
    if current is not None and current not in known_revisions(url):
        raise StoreUnavailable(
            f"This store's schema is at revision {current}, which this build does not know: "
            "it was made by a build before 1.0.0 (or a newer one), and nothing was changed. "
            "Start a new store: `scripts/quickstart --reset` for the embedded stack, or point "
            "DATABASE_URL at an empty database and run `python starter.py migrate`."
        )


def upgrade(engine: Engine) -> str | None:
    """Bring the schema to the newest revision; returns it.

    Raises StoreUnavailable, having changed nothing, when the store is not a healthy
    database or cannot be reached.
    """
    url = engine.url.render_as_string(hide_password=False)
    path = sqlite_path(url)
    if path is not None:
        _prepare_sqlite_file(path)
    refuse_unknown_revision(engine)
    config = alembic_config(url)
    with store_errors(url), engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
    return head_revision(url)


def _prepare_sqlite_file(path: Path) -> None:
    """Create the file's directory for a new store; check an existing file is healthy."""
    if path.exists():
        check_sqlite_file(path)
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise StoreUnavailable(
            f"Cannot create the directory {path.parent} for the store ({err.strerror}): "
            "check DATABASE_URL and the directory's permissions."
        ) from None


def check_sqlite_file(path: Path) -> None:
    """Refuse a file that is not a healthy SQLite database, reading it only.

    ``PRAGMA quick_check`` reads every page (it skips only the index cross-checks of
    ``integrity_check``), so a truncated or overwritten file fails here, before Alembic
    or the engine's connect-time PRAGMAs write to it.
    """
    if path.is_dir():
        raise StoreUnavailable(f"{path} is a directory, not a database file: check DATABASE_URL.")
    # Without a write-ahead log the file is the whole database: "immutable" reads it
    # without creating -wal/-shm files next to it, which even a read-only open would.
    has_wal = path.with_name(path.name + "-wal").exists()
    problem: str | None
    try:
        uri = f"{path.resolve().as_uri()}?{'mode=ro' if has_wal else 'immutable=1'}"
        conn = sqlite3.connect(uri, uri=True)
        try:
            rows = [str(row[0]) for row in conn.execute("PRAGMA quick_check")]
        finally:
            conn.close()
        problem = None if rows == ["ok"] else "; ".join(rows[:3])
    except sqlite3.DatabaseError as err:
        problem = str(err)
    if problem is not None:
        raise StoreUnavailable(
            f"{path} is not a healthy SQLite database ({problem}); nothing was changed. "
            "Restore it from a backup, or point DATABASE_URL at another file."
        )


class SchemaBehind(RuntimeError):
    pass


def require_current(engine: Engine) -> None:
    """Refuse to run on a schema older than the code (the worker checks this at start)."""
    try:
        refuse_unknown_revision(engine)
    except StoreUnavailable as err:
        raise SchemaBehind(str(err)) from None
    url = engine.url.render_as_string(hide_password=False)
    head, current = head_revision(url), current_revision(engine)
    if current != head:
        raise SchemaBehind(
            f"The database schema is at revision {current or 'none'} but this code needs "
            f"{head}; run `python starter.py migrate` first."
        )
