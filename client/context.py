"""What every HTTP entry shares, built once per process: the settings, the store engine,
the link signers and the client operations over one Temporal client.

The seller's pages (web/) and the ops API (api/) both read it; the link handler's root
(linkhandler/app.py) builds it and hands it to both, so neither package imports the
other. The services are made once: at start-up when a client is injected (the tests),
else in the link handler's lifespan (``ClientContext.connect``).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine
from temporalio.client import Client

from client.access_requests import RequestService
from client.invitation_links import InvitationLinks
from client.links import LinkSigner
from client.partners import PartnerService
from models.settings import Settings


class StartingUp(Exception):
    """A service was asked for before the process connected to Temporal; each edge words
    it (web/ shows "Starting up", 503)."""


@dataclass
class ClientContext:
    settings: Settings
    engine: Engine
    links: LinkSigner
    invitation_links: InvitationLinks
    service: RequestService | None = None
    partner_service: PartnerService | None = None

    def connect(self, client: Client) -> None:
        """Build the services over ``client``: once, at start-up."""
        self.service = RequestService(
            client,
            self.engine,
            self.settings.task_queue,
            reminder_days=self.settings.reminder_days,
        )
        self.partner_service = PartnerService(client, self.engine, self.settings.task_queue)

    @property
    def requests(self) -> RequestService:
        if self.service is None:  # only before the lifespan has connected
            raise StartingUp
        return self.service

    @property
    def partners(self) -> PartnerService:
        if self.partner_service is None:  # only before the lifespan has connected
            raise StartingUp
        return self.partner_service
