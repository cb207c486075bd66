"""``Idempotency-Key`` on the ops API's POSTs (R26, docs/api.md): the first answer
per token and key, kept for a day, so a repeat gets it again and nothing is done twice.

Claiming a key is an INSERT under the table's primary key: two processes racing the same
key get one row and one loser, whatever the engine. The loser is told the first call is
still running; once it has answered, every repeat gets that answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Engine, delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from models.tables import ApiIdempotency, utcnow
from store.db import read_session, write_session

KEPT_FOR = timedelta(hours=24)


@dataclass(frozen=True)
class Claimed:
    """This call owns the key: run it, then ``remember`` or ``release``."""


@dataclass(frozen=True)
class Answered:
    """The key's first call answered this; send it again."""

    status_code: int
    body: str
    location: str | None


@dataclass(frozen=True)
class Running:
    """The key's first call has not answered yet."""


@dataclass(frozen=True)
class Mismatch:
    """The key was used for a different call (another path or body)."""


Claim = Claimed | Answered | Running | Mismatch


def claim(engine: Engine, token_id: str, key: str, fingerprint: str) -> Claim:
    try:
        with write_session(engine) as session:
            row = session.get(ApiIdempotency, (token_id, key))
            if row is not None and row.created_at <= utcnow() - KEPT_FOR:
                session.delete(row)  # older than a day: forgotten, the key is free again
                session.flush()
                row = None
            if row is None:
                session.add(ApiIdempotency(token_id=token_id, key=key, fingerprint=fingerprint))
                return Claimed()  # committed as the block ends
            return _state(row, fingerprint)
    except IntegrityError:  # another process claimed it between our read and our insert
        with read_session(engine) as session:
            row = session.get(ApiIdempotency, (token_id, key))
        return Running() if row is None else _state(row, fingerprint)


def _state(row: ApiIdempotency, fingerprint: str) -> Claim:
    """What a key someone already claimed says to this call."""
    if row.fingerprint != fingerprint:
        return Mismatch()
    if row.status_code is None or row.body is None:
        return Running()
    return Answered(row.status_code, row.body, row.location)


def remember(
    engine: Engine, token_id: str, key: str, status_code: int, body: str, location: str | None
) -> None:
    with write_session(engine) as session:
        row = session.get(ApiIdempotency, (token_id, key))
        if row is not None:
            row.status_code, row.body, row.location = status_code, body, location
            session.add(row)


def release(engine: Engine, token_id: str, key: str) -> None:
    """Forget a claim whose call did not answer for good (a fault): a retry runs again."""
    with write_session(engine) as session:
        session.execute(
            delete(ApiIdempotency)
            .where(col(ApiIdempotency.token_id) == token_id)
            .where(col(ApiIdempotency.key) == key)
            .where(col(ApiIdempotency.status_code).is_(None))
        )
