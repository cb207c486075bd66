"""Partner management for sellers (R15, R10, R19): every request ever made for their shops,
the Business Centers holding each shop now, a way to approve pending requests, and
removing a partner's access.

Signed in by a personal link (``POST /approve/<token>/signin``, web/approval.py), which
only the shop's team receives: a server-side session (store.sessions) whose id a signed
cookie carries, no passwords. Sign-out ends the session on the server.

Removing access (R19), one URL for both steps:

- ``GET /partners/<shop>/grants/<grant>/remove`` shows what a removal would stop
  (campaigns, partners downstream) and a confirm form; GET changes nothing.
- ``POST`` to the same address ends the access through the same workflow as the CLI
  (docs/partners.md), once the session, the form token and the team are checked.
"""

from __future__ import annotations

import json

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from models.enums import Relationship, RequestStatus
from models.errors import ErrorCode, Refusal
from models.i18n import N_
from models.tables import Shop
from store import end_dates, partner_views, seller_views, sessions
from store.partner_views import GrantOfShop
from web import end_date_pages, locale
from web.deps import OnTeam, RemoveAccessForm, SignedIn, SignOutForm
from web.rendering import page, said
from web.security import SESSION_COOKIE
from web.state import PageError, State, WebState

router = APIRouter()


def refusal_page(refusal: Refusal) -> PageError:
    """A partner-side refusal (removal, invitation answer) as a page."""
    if refusal.code == ErrorCode.SERVICE_UNAVAILABLE:
        # The workflow may have started and carries on when a worker is back.
        return PageError(
            503,
            N_("The service is busy"),
            said(refusal),
            hint=N_("Reload partner management in a minute to see the outcome."),
        )
    return PageError(409, N_("Nothing was changed"), said(refusal))


@router.get("/partners", response_class=HTMLResponse)
def partners(email: SignedIn, state: State) -> HTMLResponse:
    shops = seller_views.seller_shops(state.engine, email)
    review = {
        r.request_id: "/approve/" + state.links.token(r.request_id, email)
        for s in shops
        for r in s.requests
        if r.status is RequestStatus.PENDING
    }
    return page(
        "partners.html",
        email=email,
        shops=shops,
        review=review,
        signout_csrf=state.forms.issue("signout", email=email),
        remove_csrf=state.forms.issue("remove_access", email=email),
        # R23: each partner's end date, and the token of the forms that change it.
        ends=end_dates.grant_end_dates(
            state.engine, [h.grant_id for s in shops for h in s.holders]
        ),
        until_csrf=end_date_pages.form_token(state, email),
    )


@router.post("/signout", response_class=HTMLResponse)
def sign_out(_email: SignOutForm, request: Request, state: State) -> HTMLResponse:
    session_id = state.sessions.load(request.cookies.get(SESSION_COOKIE))
    if session_id is not None:  # SignOutForm read it: it is there
        sessions.end(state.engine, session_id)
    response = page("signed_out.html")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


# --- removing access (R19) ----------------------------------------------------------------


def _partner_grant(state: WebState, shop_code: str, grant_id: int) -> GrantOfShop:
    found = partner_views.grant_of_shop(state.engine, shop_code, grant_id)
    if found is None:
        raise PageError(404, N_("No such partner"), N_("This shop has no such Business Center."))
    if found.grant.relationship is not Relationship.PARTNER:
        raise PageError(
            409,
            N_("This is the shop's owner"),
            locale.say(
                N_("%(bc_name)s owns the shop; only partners' access can be removed."),
                bc_name=found.bc_name,
            ),
        )
    return found


@router.get("/partners/{shop_code}/grants/{grant_id}/remove", response_class=HTMLResponse)
def preview_removal(grant_id: int, member: OnTeam, state: State) -> HTMLResponse:
    """R19: what will stop, before the seller confirms. Changes nothing."""
    found = _partner_grant(state, member.shop_code, grant_id)
    if found.grant.revoked_at is not None:
        return _removed_page(state, found, just_now=False)
    try:
        preview = state.partners.preview_removal(
            shop_code=found.shop.code, partner_bc_id=found.grant.bc_id, by=member.email
        )
    except Refusal as refusal:
        raise refusal_page(refusal) from None
    return page(
        "partners_remove.html",
        shop=found.shop,
        preview=preview,
        grant_id=grant_id,
        csrf=state.forms.issue("remove_access", email=member.email),
        email=member.email,
    )


@router.post("/partners/{shop_code}/grants/{grant_id}/remove", response_class=HTMLResponse)
async def remove_access(
    grant_id: int, _email: RemoveAccessForm, member: OnTeam, state: State
) -> HTMLResponse:
    """R19: the confirm. Sign-in, the form's token and the team are checked, in that order,
    by the dependencies; the removal is the same workflow as the CLI's."""
    found = await run_in_threadpool(_partner_grant, state, member.shop_code, grant_id)
    if found.grant.revoked_at is not None:  # a second click, or someone else was quicker
        return await run_in_threadpool(_removed_page, state, found, just_now=False)
    try:
        ended, _workflow_id = await state.partners.remove_access(
            shop_code=found.shop.code, partner_bc_id=found.grant.bc_id, by=member.email
        )
    except Refusal as refusal:
        raise refusal_page(refusal) from None
    lost = len(ended.lost_bc_ids)
    return await run_in_threadpool(_removed_page, state, found, just_now=True, lost=lost)


def _removed_page(
    state: WebState, found: GrantOfShop, *, just_now: bool, lost: int | None = None
) -> HTMLResponse:
    shop: Shop = found.shop
    assert shop.id is not None
    removal = partner_views.removal_of(state.engine, shop.id, found.grant.id or 0)
    return page(
        "partners_removed.html",
        shop=shop,
        bc_name=found.bc_name,
        removal=removal,
        just_now=just_now,
        lost=lost if lost is not None else (len(json.loads(removal.lost_bc_ids)) if removal else 0),
    )
