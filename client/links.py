"""Signed approval links (R7, R10, R13).

Two kinds: the *copy* link binds only the request (an agency pastes it to the seller); the
*personal* link, e-mailed to one team member, binds the request and that recipient. Both
are signed with SECRET_KEY, so a forged or altered token fails verification, and only the
exact string issued is genuine (client.tokens). They carry no expiry: a pending request
waits for ever (R9), and a decided one shows its outcome. Every key in SECRET_KEYS_OLD
still verifies, so rotating SECRET_KEY keeps mailed links working.
"""

from __future__ import annotations

from dataclasses import dataclass

from itsdangerous import BadSignature

from client.language_links import LanguageLinks
from client.tokens import Keys, StrictSerializer

_SALT = "shop-access.approval-link.v1"


@dataclass(frozen=True)
class LinkClaims:
    request_id: str
    email: str | None  # None for a copy link


class LinkSigner:
    def __init__(self, secret: Keys, base_url: str) -> None:
        self._serializer = StrictSerializer(secret, salt=_SALT)
        self._base = base_url.rstrip("/")
        self._languages = LanguageLinks(secret, base_url)

    def language_link(self, email: str | None = None) -> str:
        """The page where a reader picks the language of pages and e-mails (R28), signed
        for ``email`` so the choice is saved on them (client/language_links.py)."""
        return self._languages.link(email)

    def language_reader(self, token: str) -> str | None:
        """Whom a language link's token names; None for anything forged or altered."""
        return self._languages.verify(token)

    def token(self, request_id: str, email: str | None = None) -> str:
        payload: dict[str, str] = {"r": request_id}
        if email is not None:
            payload["e"] = email.strip().lower()
        return self._serializer.dumps(payload)

    def copy_link(self, request_id: str) -> str:
        return f"{self._base}/approve/{self.token(request_id)}"

    def personal_link(self, request_id: str, email: str) -> str:
        return f"{self._base}/approve/{self.token(request_id, email)}"

    def verify(self, token: str) -> LinkClaims | None:
        """The claims of a genuine token, or None for anything forged or altered."""
        try:
            payload = self._serializer.loads(token)
        except BadSignature:
            return None
        if not isinstance(payload, dict) or not isinstance(payload.get("r"), str):
            return None
        email = payload.get("e")
        return LinkClaims(payload["r"], email if isinstance(email, str) else None)
