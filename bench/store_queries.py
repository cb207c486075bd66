"""The reads the benchmarks check their runs with (bench/): whole-table counts and maps no
service path needs."""

from __future__ import annotations

from sqlalchemy import Engine, func
from sqlmodel import col, select

from models.tables import AuditEvent, Campaign, User
from store.db import read_session


def user_ids(engine: Engine) -> dict[str, int]:
    """Every user's id by e-mail address."""
    with read_session(engine) as session:
        return {u.email: u.id for u in session.exec(select(User)) if u.id is not None}


def campaigns_by_bc_and_status(engine: Engine) -> dict[tuple[int, str], int]:
    """How many campaigns each BC has in each status."""
    with read_session(engine) as session:
        rows = session.exec(
            select(Campaign.bc_id, Campaign.status, func.count()).group_by(
                col(Campaign.bc_id), col(Campaign.status)
            )
        ).all()
    return {(int(bc), str(getattr(st, "value", st))): int(n) for bc, st, n in rows}


def campaign_stop_events(engine: Engine) -> tuple[int, int]:
    """The audit's campaign ``stopped`` events: how many, and for how many campaigns."""
    with read_session(engine) as session:
        events = session.exec(
            select(func.count(), func.count(func.distinct(AuditEvent.entity_id))).where(
                AuditEvent.entity == "campaign", AuditEvent.action == "stopped"
            )
        ).one()
    return int(events[0]), int(events[1])
