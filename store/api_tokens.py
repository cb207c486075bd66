"""Ops API tokens (R26, docs/api.md): created, listed, revoked, and checked on every
API call.

A token's secret is shown once; the store keeps only its SHA-256, so a copy of the table
opens nothing. Checking a call is one UPDATE: it stamps ``last_used_at`` and counts the
call in the token's current rate-limit window, atomically on both engines, so every
link-handler process shares one limit per token (a counting rule holds through the
database, never through a process's memory).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import Engine, case, update
from sqlmodel import Session, col, select

from models.errors import ErrorCode, Refusal
from models.fields import require_display_name
from models.tables import ApiToken, utcnow
from store.db import write_session

SECRET_PREFIX = "sa_"


class Scope(StrEnum):
    """``read`` reads; ``act`` changes things (and implies read)."""

    READ = "read"
    ACT = "act"


@dataclass(frozen=True)
class TokenCheck:
    """What one call's bearer secret is worth: its token and whether the rate allows it."""

    token_id: str
    name: str
    scopes: frozenset[Scope]
    allowed: bool
    retry_after: int


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def scopes_of(token: ApiToken) -> frozenset[Scope]:
    return frozenset(Scope(s) for s in token.scopes.split(",") if s)


def create_token(session: Session, *, name: str, scopes: set[Scope]) -> tuple[ApiToken, str]:
    """A new token and its secret (the only time the secret exists outside the caller)."""
    name = require_display_name("name", name)
    if not scopes:
        raise Refusal(ErrorCode.INVALID_INPUT, "Give at least one scope: read or act.")
    granted = set(scopes) | {Scope.READ}  # act implies read
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        id="tok_" + secrets.token_hex(8),
        name=name,
        secret_hash=secret_hash(secret),
        scopes=",".join(sorted(granted)),
    )
    session.add(token)
    session.flush()
    return token, secret


def tokens(session: Session) -> list[ApiToken]:
    """Every token, revoked ones included, oldest first."""
    return list(session.exec(select(ApiToken).order_by(col(ApiToken.created_at))).all())


def revoke_token(session: Session, token_id: str) -> ApiToken:
    """End a token now; revoking twice is the same as once."""
    token = session.get(ApiToken, token_id)
    if token is None:
        raise Refusal(
            ErrorCode.INVALID_INPUT, f"There is no API token {token_id!r}.", token_id=token_id
        )
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        session.add(token)
    return token


def check_call(
    engine: Engine, secret: str, *, limit: int, window: timedelta, now: datetime | None = None
) -> TokenCheck | None:
    """Count one call of the token with this secret; None when no live token has it.

    The window is fixed (it starts at the first call after the last one ended); a call
    over ``limit`` in it is not allowed and learns how many seconds are left.
    """
    now = now or utcnow()
    fresh = col(ApiToken.window_start).is_(None) | (col(ApiToken.window_start) <= now - window)
    statement = (
        update(ApiToken)
        .where(col(ApiToken.secret_hash) == secret_hash(secret))
        .where(col(ApiToken.revoked_at).is_(None))
        .values(
            last_used_at=now,
            window_start=case((fresh, now), else_=col(ApiToken.window_start)),
            window_count=case((fresh, 1), else_=col(ApiToken.window_count) + 1),
        )
        .returning(
            col(ApiToken.id),
            col(ApiToken.name),
            col(ApiToken.scopes),
            col(ApiToken.window_start),
            col(ApiToken.window_count),
        )
    )
    with write_session(engine) as session:
        row = session.execute(statement).one_or_none()
    if row is None:
        return None
    token_id, name, scopes, started, count = row
    if started.tzinfo is None:  # SQLite hands back naive UTC from a RETURNING
        started = started.replace(tzinfo=now.tzinfo)
    left = (started + window - now).total_seconds()
    return TokenCheck(
        token_id=token_id,
        name=name,
        scopes=frozenset(Scope(s) for s in scopes.split(",") if s),
        allowed=count <= limit,
        retry_after=max(1, int(left + 0.999)),
    )
