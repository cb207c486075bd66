"""Signed accept links for invitations (R16, R17), like the approval links (client.links)
but with their own salt, so an approval token never opens an invitation page or back.
Only the exact string issued is genuine, under any trusted key (client.tokens).

A member invitation's link binds the invitation and the invited address; an add-partner
link binds the invitation only (any admin of the invited BC may accept). No expiry:
invitations wait until answered or cancelled.
"""

from __future__ import annotations

from dataclasses import dataclass

from itsdangerous import BadSignature

from client.language_links import LanguageLinks
from client.tokens import Keys, StrictSerializer

_SALT = "shop-access.invitation-link.v1"


@dataclass(frozen=True)
class InvitationClaims:
    invitation_id: str
    email: str | None


class InvitationLinks:
    def __init__(self, secret: Keys, base_url: str) -> None:
        self._serializer = StrictSerializer(secret, salt=_SALT)
        self._base = base_url.rstrip("/")
        self._languages = LanguageLinks(secret, base_url)

    def language_link(self, email: str | None = None) -> str:
        """The page where a reader picks the language of pages and e-mails (R28), signed
        for ``email`` so the choice is saved on them (client/language_links.py)."""
        return self._languages.link(email)

    def token(self, invitation_id: str, email: str | None = None) -> str:
        payload: dict[str, str] = {"i": invitation_id}
        if email is not None:
            payload["e"] = email.strip().lower()
        return self._serializer.dumps(payload)

    def link(self, invitation_id: str, email: str | None = None) -> str:
        return f"{self._base}/invitations/{self.token(invitation_id, email)}"

    def verify(self, token: str) -> InvitationClaims | None:
        """The claims of a genuine token, or None for anything forged or altered."""
        try:
            payload = self._serializer.loads(token)
        except BadSignature:
            return None
        if not isinstance(payload, dict) or not isinstance(payload.get("i"), str):
            return None
        email = payload.get("e")
        return InvitationClaims(payload["i"], email if isinstance(email, str) else None)
