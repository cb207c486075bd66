"""Applying and checking the schema migrations (Alembic) against DATABASE_URL."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

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


def upgrade(engine: Engine) -> str | None:
    """Bring the schema to the newest revision; returns it."""
    url = engine.url.render_as_string(hide_password=False)
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    config = alembic_config(url)
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
    return head_revision(url)


class SchemaBehind(RuntimeError):
    pass


def require_current(engine: Engine) -> None:
    """Refuse to run on a schema older than the code (the worker checks this at start)."""
    url = engine.url.render_as_string(hide_password=False)
    head, current = head_revision(url), current_revision(engine)
    if current != head:
        raise SchemaBehind(
            f"The database schema is at revision {current or 'none'} but this code needs "
            f"{head}; run `python starter.py migrate` first."
        )
