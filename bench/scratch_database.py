"""Throwaway PostgreSQL databases for the benchmarks: created on a server through its
admin URL, dropped (connections and all) when the run ends."""

from __future__ import annotations

import uuid

from sqlalchemy import create_engine, text


def create_database(admin_url: str, prefix: str) -> str:
    """A new empty database named ``prefix`` plus a random suffix; its URL."""
    name = f"{prefix}{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    return admin_url.rsplit("/", 1)[0] + f"/{name}"


def drop_database(admin_url: str, url: str) -> None:
    """Drop the database ``url`` names, even with sessions still open on it."""
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)'))
    finally:
        admin.dispose()
