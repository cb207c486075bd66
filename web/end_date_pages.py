"""Access until a date on the seller's partners page (R23): change or clear when a
partner's access to a shop ends.

``POST /partners/<shop>/grants/<grant>/until`` with ``until`` (YYYY-MM-DD) to set or
change the date, or ``clear`` to remove it. Sign-in, the form's token and the team are
checked in that order, as for removal (web/partners.py); the write is the same as
``starter.py access-until`` (client/end_date_operations.py). A refused date changes nothing and says
why; success returns to partner management.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Form
from fastapi.responses import RedirectResponse
from starlette.concurrency import run_in_threadpool

from client import end_date_operations as end_dates_client
from models.end_date_parsing import parse_end_date
from models.enums import Relationship
from models.errors import ErrorCode, Refusal
from models.i18n import N_
from store import partner_views
from web import locale
from web.deps import CsrfForm, OnTeam, SignedIn, Text, check_form
from web.rendering import said
from web.state import PageError, State, WebState

router = APIRouter()

PURPOSE = "access_until"


class EndDateForm(CsrfForm):
    until: Text = ""
    clear: Text = ""


def end_date_form(
    form: Annotated[EndDateForm, Form()], email: SignedIn, state: State
) -> EndDateForm:
    check_form(state, form, PURPOSE, email=email)
    return form


CheckedEndDateForm = Annotated[EndDateForm, Depends(end_date_form)]


def form_token(state: WebState, email: str) -> str:
    """The token partners.html puts in each end-date form."""
    return state.forms.issue(PURPOSE, email=email)


@router.post("/partners/{shop_code}/grants/{grant_id}/until")
async def set_end_date(
    grant_id: int, form: CheckedEndDateForm, member: OnTeam, state: State
) -> RedirectResponse:
    found = await run_in_threadpool(
        partner_views.grant_of_shop, state.engine, member.shop_code, grant_id
    )
    if found is None or found.grant.relationship is not Relationship.PARTNER:
        raise PageError(404, N_("No such partner"), N_("This shop has no such partner."))
    if found.grant.revoked_at is not None:
        raise PageError(
            409,
            N_("Nothing was changed"),
            locale.say(N_("%(bc_name)s no longer has access."), bc_name=found.bc_name),
        )
    ends_at: datetime | None = None
    try:
        if not form.clear:
            if not form.until:
                raise Refusal(ErrorCode.INVALID_INPUT, "Pick a date, or clear the end date.")
            ends_at = parse_end_date(form.until)
        await end_dates_client.set_partner_end_date(
            state.requests.client,
            state.engine,
            state.settings.task_queue,
            shop_code=found.shop.code,
            partner_bc_id=found.grant.bc_id,
            ends_at=ends_at,
            by=member.email,
        )
    except Refusal as refusal:
        status = 503 if refusal.code == ErrorCode.SERVICE_UNAVAILABLE else 422
        raise PageError(status, N_("The end date was not changed"), said(refusal)) from None
    return RedirectResponse(f"/partners#shop-{found.shop.code}", status_code=303)
