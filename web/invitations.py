"""Invitation pages (R16, R17): the person an invitation was mailed to sees what it offers
(``GET /invitations/<token>``) and accepts or declines it (``POST
/invitations/<token>/accept`` or ``/decline``), through the same workflow as the CLI.

The invitation's details come from store/partner_views.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Form
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from models.errors import Refusal
from models.i18n import N_
from models.partner_enums import InvitationKind, InvitationStatus
from store import partner_views
from store.partner_views import InvitationDetails
from web import locale
from web.deps import CsrfForm, check_form
from web.partners import refusal_page
from web.rendering import page
from web.state import PageError, State, WebState

router = APIRouter()


@dataclass(frozen=True)
class OpenedInvitation:
    """A genuine invitation link: to whom it was mailed, and the invitation it names."""

    token: str
    email: str
    details: InvitationDetails


def open_invitation(token: str, state: State) -> OpenedInvitation:
    claims = state.invitation_links.verify(token)
    if claims is None or claims.email is None:
        raise PageError(
            400,
            N_("This link is not valid"),
            N_(
                "The link is incomplete or has been changed, so it cannot be used. "
                "Nothing was changed."
            ),
            hint=N_("Open the link again from your e-mail, copying all of it."),
        )
    details = partner_views.invitation_details(state.engine, claims.invitation_id)
    if details is None:
        raise PageError(
            404,
            N_("This invitation does not exist"),
            N_("The link is genuine but points to an invitation this service does not know."),
        )
    # R28: the invitee's saved language, else the cookie, else their browser's.
    locale.refine(state, email=claims.email)
    return OpenedInvitation(token=token, email=claims.email, details=details)


OpenInvitation = Annotated[OpenedInvitation, Depends(open_invitation)]
"""The invitation link in the URL (``{token}``); else a 400 or 404 page."""


def invitation_page(
    state: WebState, opened: OpenedInvitation, *, answered: str | None = None
) -> HTMLResponse:
    invitation = opened.details.invitation
    pending = invitation.status is InvitationStatus.PENDING
    csrf = (
        state.forms.issue("invitation", request_id=invitation.id, email=opened.email)
        if pending
        else ""
    )
    return page(
        "invitation.html",
        invitation=invitation,
        email=opened.email,
        token=opened.token,
        csrf=csrf,
        answered=answered,
        member=invitation.kind is InvitationKind.MEMBER,
        inviter=opened.details.inviter,
        partner=opened.details.partner,
        accounts=opened.details.accounts,
        shops=opened.details.shops,
    )


@router.get("/invitations/{token}", response_class=HTMLResponse)
def show_invitation(opened: OpenInvitation, state: State) -> HTMLResponse:
    return invitation_page(state, opened)


def _known_answer(answer: str) -> str:
    # Checked before the link, as an unknown address: 404 whatever the token.
    if answer in ("accept", "decline"):
        return answer
    raise PageError(404, N_("Page not found"), N_("There is nothing at this address."))


@router.post("/invitations/{token}/{answer}", response_class=HTMLResponse)
async def answer_invitation(
    choice: Annotated[str, Depends(_known_answer)],
    opened: OpenInvitation,
    form: Annotated[CsrfForm, Form()],
    state: State,
) -> HTMLResponse:
    invitation = opened.details.invitation
    check_form(state, form, "invitation", request_id=invitation.id, email=opened.email)
    if invitation.status is not InvitationStatus.PENDING:  # a second click
        return invitation_page(state, opened)
    try:
        if choice == "accept":
            await state.partners.accept_invitation(invitation.id, by=opened.email)
        else:
            await state.partners.decline_invitation(invitation.id, by=opened.email)
    except Refusal as refusal:
        raise refusal_page(refusal) from None
    # Read again: the page shows the invitation as the answer left it.
    fresh = await run_in_threadpool(open_invitation, opened.token, state)
    return await run_in_threadpool(invitation_page, state, fresh, answered=choice)
