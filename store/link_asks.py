"""The hourly cap on personal-link asks from a copied link (R7).

Anyone holding a copied link may ask for a personal link for any address. Each ask is
logged here (the address only as a SHA-256) and allowed while its request and its address
have each been asked for at most ``per_hour`` times in the last hour, counting this ask
and those refused. Refused asks count too, so someone asking in a loop stays capped.

The ask is committed before counting: two web processes asking at once both see both
rows, so a race can only refuse an ask, never let one more through.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from sqlalchemy import Engine, delete, func
from sqlmodel import select

from models.tables import PersonalLinkAsk, utcnow
from store.db import read_session, write_session

WINDOW = timedelta(hours=1)


def address_hash(address: str) -> str:
    return hashlib.sha256(address.strip().lower().encode()).hexdigest()


def record_and_allow(
    engine: Engine,
    *,
    request_id: str,
    address: str,
    per_hour: int,
    now: datetime | None = None,
) -> bool:
    """Log one ask; True if it is within the cap for its request and its address."""
    at = now or utcnow()
    since = at - WINDOW
    hashed = address_hash(address)
    with write_session(engine) as session:
        # Asks older than the window count for nothing: drop this request's and this
        # address's (both by index) so the table holds about an hour of asks.
        session.exec(
            delete(PersonalLinkAsk).where(  # type: ignore[arg-type]
                PersonalLinkAsk.request_id == request_id,  # type: ignore[arg-type]
                PersonalLinkAsk.asked_at < since,  # type: ignore[arg-type]
            )
        )
        session.exec(
            delete(PersonalLinkAsk).where(  # type: ignore[arg-type]
                PersonalLinkAsk.address_hash == hashed,  # type: ignore[arg-type]
                PersonalLinkAsk.asked_at < since,  # type: ignore[arg-type]
            )
        )
        session.add(PersonalLinkAsk(request_id=request_id, address_hash=hashed, asked_at=at))
    with read_session(engine) as session:
        by_request = session.exec(
            select(func.count())
            .select_from(PersonalLinkAsk)
            .where(PersonalLinkAsk.request_id == request_id, PersonalLinkAsk.asked_at > since)
        ).one()
        by_address = session.exec(
            select(func.count())
            .select_from(PersonalLinkAsk)
            .where(PersonalLinkAsk.address_hash == hashed, PersonalLinkAsk.asked_at > since)
        ).one()
    return by_request <= per_hour and by_address <= per_hour
