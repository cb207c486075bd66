"""Partner management for sellers (R15, R10): every request ever made for their shops, the
Business Centers holding each shop now, and a way to approve pending requests.

Signed in by a personal link (``POST /approve/<token>/signin``), which only the shop's
team receives: a server-side session (store.sessions) whose id a signed cookie carries, no
passwords. Sign-out ends the session on the server.

Removing access (R19): the ``remove_access`` block of templates/web/partners.html links
each partner to the preview page, and ``remove_access`` below checks the session, the
form token and the team, then hands over to ``web/partner_access.py`` (docs/partners.md).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from models.enums import RequestStatus
from store import sessions
from web import reads
from web.approval import form_rejected
from web.rendering import page
from web.security import SESSION_COOKIE, FormRejected
from web.state import PageError, State, WebState

router = APIRouter()


def signed_in(request: Request, state: WebState) -> str:
    email = state.signed_in(request.cookies.get(SESSION_COOKIE))
    if email is None:
        raise PageError(
            401, "Sign in with your personal link",
            "Partner management opens from the link in your approval e-mail: open it and "
            "choose “Manage partners”. There are no passwords.",
        )  # fmt: skip
    return email


@router.get("/partners", response_class=HTMLResponse)
def partners(request: Request, state: State) -> HTMLResponse:
    email = signed_in(request, state)
    shops = reads.seller_shops(state.engine, email)
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
    )


@router.post("/signout", response_class=HTMLResponse)
async def sign_out(request: Request, state: State) -> HTMLResponse:
    email = await run_in_threadpool(signed_in, request, state)
    form = await request.form()
    csrf = form.get("csrf")
    try:
        state.forms.check(csrf if isinstance(csrf, str) else None, "signout", email=email)
    except FormRejected as reason:
        raise form_rejected(reason) from None
    session_id = state.sessions.load(request.cookies.get(SESSION_COOKIE))
    if session_id is not None:  # signed_in() above read it: it is there
        await run_in_threadpool(sessions.end, state.engine, session_id)
    response = page("signed_out.html")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.post("/partners/{shop_code}/grants/{grant_id}/remove", response_class=HTMLResponse)
async def remove_access(
    shop_code: str, grant_id: int, request: Request, state: State
) -> HTMLResponse:
    """R19: sign-in, form token and team checks here; the removal in web/partner_access.py."""
    email = await run_in_threadpool(signed_in, request, state)
    form = await request.form()
    csrf = form.get("csrf")
    try:
        state.forms.check(csrf if isinstance(csrf, str) else None, "remove_access", email=email)
    except FormRejected as reason:
        raise form_rejected(reason) from None
    if not reads.is_on_team(state.engine, shop_code.upper(), email):
        raise PageError(
            403,
            "You cannot manage this shop's partners",
            f"{email} is not on the team of shop {shop_code}.",
        )
    # R19: the removal workflow, the same as the CLI's (web/partner_access.py).
    from web.partner_access import confirm_removal

    return await confirm_removal(state, email, shop_code, grant_id)
