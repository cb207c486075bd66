"""The link handler's one addition to RequestService: asking for a personal link."""

from __future__ import annotations

from models.messages import PersonalLinkAccepted, PersonalLinkRequest
from models.names import Message
from service.requests import RequestService


class LinkHandlerService(RequestService):
    async def request_personal_link(self, request_id: str, email: str) -> PersonalLinkAccepted:
        """R7/R13: queue a personal link for ``email``; mailed only if on the shop's team.

        The workflow answers before looking the address up, so the answer (and its timing)
        is the same for every address.
        """
        result: PersonalLinkAccepted = await self._update(
            request_id,
            Message.SEND_PERSONAL_LINK,
            PersonalLinkRequest(email=email),
            PersonalLinkAccepted,
        )
        return result
