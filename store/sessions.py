"""Server-side sessions of the link handler (R15's partner management).

The cookie carries a random id, signed (web.security.SessionCookies); the store keeps its
SHA-256, the e-mail, and when it expires or was ended. Opening a page is one read by
primary key, so the check costs one indexed look-up.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import Engine, delete, update

from models.tables import WebSession, utcnow
from store.db import read_session, write_session


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def start(engine: Engine, *, email: str, lifetime: timedelta) -> str:
    """Open a session for ``email``; returns the id the cookie is to carry."""
    session_id = secrets.token_urlsafe(32)
    now = utcnow()
    with write_session(engine) as session:
        # Sessions expired a day ago or more are of no use to anyone: clear them here,
        # where a write transaction is open anyway, so the table stays small.
        session.exec(delete(WebSession).where(WebSession.expires_at < now - timedelta(days=1)))  # type: ignore[arg-type]
        session.add(
            WebSession(
                id_hash=_hash(session_id),
                email=email.lower(),
                created_at=now,
                expires_at=now + lifetime,
            )
        )
    return session_id


def email_of(engine: Engine, session_id: str, *, now: datetime | None = None) -> str | None:
    """The e-mail of a session that is neither ended nor expired, else None."""
    with read_session(engine) as session:
        found = session.get(WebSession, _hash(session_id))
    if found is None or found.ended_at is not None:
        return None
    return found.email if found.expires_at > (now or utcnow()) else None


def end(engine: Engine, session_id: str) -> bool:
    """Sign out: the session opens nothing from now on. False if it was already over."""
    with write_session(engine) as session:
        ended = session.exec(
            update(WebSession)  # type: ignore[arg-type]
            .where(WebSession.id_hash == _hash(session_id), WebSession.ended_at.is_(None))  # type: ignore[arg-type,union-attr]
            .values(ended_at=utcnow())
        )
        return bool(ended.rowcount)  # type: ignore[attr-defined]
