"""Signed form tokens (CSRF) and the seller's session cookie.

Both are itsdangerous signatures with SECRET_KEY (and, to verify only, SECRET_KEYS_OLD),
each under its own salt, so a link token can never pass as a form token or a session, nor
the other way round. Only the exact string issued is genuine (client.tokens).

A form token binds what the form acts on (purpose, request, e-mail) and a random nonce.
The nonce doubles as the Temporal update id of an approval, so submitting one form twice
returns the first outcome instead of deciding twice.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from itsdangerous import BadSignature, SignatureExpired

from client.tokens import Keys, StrictTimedSerializer

_FORM_SALT = "shop-access.form.v1"
_SESSION_SALT = "shop-access.session.v1"

FORM_MAX_AGE_SECONDS = 7 * 24 * 3600
"""A page left open longer than this must be reloaded before it can act."""

SESSION_MAX_AGE_SECONDS = 8 * 3600
SESSION_COOKIE = "shop_access_session"


class FormRejected(Exception):
    """The form's token is missing, forged, stale, or made for something else."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class FormClaims:
    purpose: str
    request_id: str
    email: str
    nonce: str


class FormTokens:
    def __init__(self, secret: Keys, max_age: int = FORM_MAX_AGE_SECONDS) -> None:
        self._serializer = StrictTimedSerializer(secret, salt=_FORM_SALT)
        self._max_age = max_age

    def issue(self, purpose: str, *, request_id: str = "", email: str = "") -> str:
        return self._serializer.dumps(
            {"p": purpose, "r": request_id, "e": email.lower(), "n": secrets.token_urlsafe(12)}
        )

    def check(
        self, token: str | None, purpose: str, *, request_id: str = "", email: str = ""
    ) -> FormClaims:
        """The claims of a genuine token made for exactly this purpose, request and e-mail."""
        if not token:
            raise FormRejected("missing")
        try:
            data = self._serializer.loads(token, max_age=self._max_age)
        except SignatureExpired:
            raise FormRejected("expired") from None
        except BadSignature:
            raise FormRejected("forged") from None
        if not isinstance(data, dict):
            raise FormRejected("forged")
        claims = FormClaims(
            purpose=str(data.get("p", "")),
            request_id=str(data.get("r", "")),
            email=str(data.get("e", "")),
            nonce=str(data.get("n", "")),
        )
        if (claims.purpose, claims.request_id, claims.email) != (
            purpose,
            request_id,
            email.lower(),
        ) or not claims.nonce:
            raise FormRejected("mismatch")
        return claims


class SessionCookies:
    """The signed cookie that carries a server-side session's id (store.sessions).

    The signature keeps guessed ids out before any read; the store decides whether the
    session is still open, so signing out ends it on the server and a copy of the cookie
    replayed afterwards opens nothing. No passwords: signing in takes a personal link
    (which only the shop's team receives).
    """

    def __init__(self, secret: Keys, max_age: int = SESSION_MAX_AGE_SECONDS) -> None:
        self._serializer = StrictTimedSerializer(secret, salt=_SESSION_SALT)
        self.max_age = max_age

    def dump(self, session_id: str) -> str:
        return self._serializer.dumps({"s": session_id})

    def load(self, value: str | None) -> str | None:
        """The session id of a genuine, fresh cookie, else None (open or not: the store's)."""
        if not value:
            return None
        try:
            data = self._serializer.loads(value, max_age=self.max_age)
        except BadSignature:  # SignatureExpired included
            return None
        session_id = data.get("s") if isinstance(data, dict) else None
        return session_id if isinstance(session_id, str) and session_id else None
