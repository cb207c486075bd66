"""The language link every e-mail carries (R28), signed for its recipient.

``/language/<token>`` opens the switcher; the token names the person the e-mail went to
(signed with SECRET_KEY under its own salt, so it opens no approval or invitation page and
they open no language page). A choice made there is saved on that person, as the personal
approval link saves it, so the next e-mail follows it without signing in. Like the other
links it carries no expiry; its only power is that person's language, which anyone holding
their e-mail could read in anyway (docs/decisions.md, "The e-mail's language link names its
recipient").
"""

from __future__ import annotations

from itsdangerous import BadSignature

from client.tokens import Keys, StrictSerializer

_SALT = "shop-access.language-link.v1"


class LanguageLinks:
    def __init__(self, secret: Keys, base_url: str) -> None:
        self._serializer = StrictSerializer(secret, salt=_SALT)
        self._base = base_url.rstrip("/")

    def link(self, email: str | None = None) -> str:
        """The switcher page; for ``email``, signed so a choice there is saved on them."""
        if email is None:
            return f"{self._base}/language"
        return f"{self._base}/language/{self._serializer.dumps({'e': email.strip().lower()})}"

    def verify(self, token: str) -> str | None:
        """The e-mail address a genuine token names; None for anything forged or altered."""
        try:
            payload = self._serializer.loads(token)
        except BadSignature:
            return None
        email = payload.get("e") if isinstance(payload, dict) else None
        return email if isinstance(email, str) and email else None
