"""Pending requests by method and the oldest one's creation: the figures behind the
``shop_access_pending_requests`` gauges (runtime/metrics.py). One grouped query on the
partial index of pending rows (R6), cheap enough for every scrape."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, func, select
from sqlmodel import col

from models.tables import AccessRequest
from store.db import read_session


def pending_by_method(engine: Engine) -> tuple[dict[str, int], dict[str, datetime]]:
    """(count, oldest ``created_at``) of pending requests, keyed by method value."""
    query = (
        select(
            col(AccessRequest.method),
            func.count(),
            func.min(col(AccessRequest.created_at)),
        )
        .where(col(AccessRequest.status) == "pending")
        .group_by(col(AccessRequest.method))
    )
    counts: dict[str, int] = {}
    oldest: dict[str, datetime] = {}
    with read_session(engine) as session:
        for method, count, first in session.execute(query):
            counts[str(method)] = int(count)
            if first is not None:
                oldest[str(method)] = first
    return counts, oldest
