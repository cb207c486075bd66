"""``Idempotency-Key`` on the ops API's POSTs (docs/api.md): the first answer per token
and key, kept for a day, so a repeat gets it again and nothing is done twice.

Claiming a key is an INSERT under the table's primary key: two processes racing the same
key get one row and one loser, whatever the engine. The loser is told the first call is
still running; once it has answered, every repeat gets that answer.

A claim holds for a lease a little past the call's own deadline, not for the day: a link
handler that dies mid-call leaves a claim no one will answer, and once its lease has
passed a retry takes it over (one conditional UPDATE, so of two retries one wins). A call
that ended in a fault (5xx) gives its lease back at once. Either way the row, and so its
``created_at``, stays: :attr:`Claimed.seed` is the same for every attempt of one call,
which lets a route derive the ids it creates from it, so a retry meets the first
attempt's work as its own (api/access_request_routes.py).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from models.tables import ApiIdempotency, utcnow
from store.audit import canonical_time
from store.db import read_session, write_session

KEPT_FOR = timedelta(hours=24)


@dataclass(frozen=True)
class Claimed:
    """This call owns the key: run it, then ``remember`` or ``release``. ``seed`` is the
    same for every attempt of this call (same token, key and first claim)."""

    seed: str


@dataclass(frozen=True)
class Answered:
    """The key's first call answered this; send it again."""

    status_code: int
    body: str
    location: str | None


@dataclass(frozen=True)
class Running:
    """The key's first call has not answered yet, and its lease holds."""


@dataclass(frozen=True)
class Mismatch:
    """The key was used for a different call (another path or body)."""


Claim = Claimed | Answered | Running | Mismatch


def _seed(row: ApiIdempotency) -> str:
    text = f"{row.token_id}\0{row.key}\0{canonical_time(row.created_at)}"
    return hashlib.sha256(text.encode()).hexdigest()


def claim(engine: Engine, token_id: str, key: str, fingerprint: str, lease: timedelta) -> Claim:
    """Claim ``key`` for a call that may run for ``lease`` at most."""
    now = utcnow()
    try:
        with write_session(engine) as session:
            row = session.get(ApiIdempotency, (token_id, key))
            if row is not None and row.created_at <= now - KEPT_FOR:
                session.delete(row)  # older than a day: forgotten, the key is free again
                session.flush()
                row = None
            if row is None:
                row = ApiIdempotency(
                    token_id=token_id,
                    key=key,
                    fingerprint=fingerprint,
                    created_at=now,
                    lease_until=now + lease,
                )
                session.add(row)
                return Claimed(_seed(row))  # committed as the block ends
            state = _state(row, fingerprint)
            if not isinstance(state, Running) or _holds(row, now):
                return state
            # The call that claimed it died or faulted: take it over, if no one else has.
            taken = session.execute(
                update(ApiIdempotency)
                .where(col(ApiIdempotency.token_id) == token_id)
                .where(col(ApiIdempotency.key) == key)
                .where(col(ApiIdempotency.status_code).is_(None))
                .where(
                    or_(
                        col(ApiIdempotency.lease_until).is_(None),
                        col(ApiIdempotency.lease_until) <= now,
                    )
                )
                .values(lease_until=now + lease)
            )
            if taken.rowcount != 1:  # type: ignore[attr-defined]
                return Running()  # another retry took it over first
            return Claimed(_seed(row))
    except IntegrityError:  # another process claimed it between our read and our insert
        with read_session(engine) as session:
            row = session.get(ApiIdempotency, (token_id, key))
        return Running() if row is None else _state(row, fingerprint)


def _holds(row: ApiIdempotency, now: datetime) -> bool:
    return row.lease_until is not None and row.lease_until > now


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
    """Keep the call's answer; the first answer stays if a late attempt also answers."""
    with write_session(engine) as session:
        row = session.get(ApiIdempotency, (token_id, key))
        if row is not None and row.status_code is None:
            row.status_code, row.body, row.location = status_code, body, location
            row.lease_until = None
            session.add(row)


def release(engine: Engine, token_id: str, key: str) -> None:
    """Give back the lease of a call that did not answer for good (a fault): a retry runs
    at once, with the same seed, and meets whatever this attempt did."""
    with write_session(engine) as session:
        session.execute(
            update(ApiIdempotency)
            .where(col(ApiIdempotency.token_id) == token_id)
            .where(col(ApiIdempotency.key) == key)
            .where(col(ApiIdempotency.status_code).is_(None))
            .values(lease_until=None)
        )
