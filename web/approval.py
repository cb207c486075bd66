"""The approval link: ``/approve/<token>`` (R7, R10, R12, R13).

GET only shows (mail scanners open links). Every POST carries a signed form token bound
to the request and e-mail of the link it was made for. A personal link shows the
approval form for the seller's scenario; a copied link shows the request and offers a
personal link by e-mail. A decided request shows its outcome, whoever opens it.

Each URL's GET and POST live here together. Store reads run off the event loop: plain
``def`` routes and dependencies (FastAPI's thread pool), or ``run_in_threadpool`` inside
the async routes that also await a workflow update. Queries live in store/seller_views.py.
"""

from __future__ import annotations

import hashlib
import re
import time
from datetime import datetime, timedelta
from functools import cache, partial
from typing import Annotated, Any
from zoneinfo import available_timezones

from fastapi import APIRouter, Depends, Form
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from client.links import LinkClaims
from models.end_date_parsing import parse_end_date
from models.enums import Permission, Relationship, RequestMethod, RequestStatus, Scenario
from models.errors import ErrorCode, Refusal
from models.i18n import N_
from models.messages import ApprovalOutcome, ApproveRequest
from models.reasons import REASON_MAX_LENGTH
from models.views import RequestView
from store import link_asks, seller_views, sessions
from store.grants import GRANT_FOR_METHOD
from web import locale
from web.deps import ApproveForm, CsrfForm, PersonalLinkForm, Text, check_form
from web.rendering import page, said
from web.security import SESSION_COOKIE
from web.state import PageError, State, WebState

router = APIRouter()

DECLINED = RequestStatus.DECLINED

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@cache
def timezones() -> list[str]:
    """IANA names for S2's picker (the datalist makes it searchable without script)."""
    return sorted(
        tz for tz in available_timezones() if not tz.startswith(("posix/", "right/", "Etc/"))
    )


# R14 in a seller's words, one whole sentence per grant for translators (R28).
PARTNER_GRANT_TEXT = {
    Permission.AD_PROMOTION: N_(
        "%(bc_name)s becomes a partner of your shop with ad promotion permission; every ad "
        "account under it can run Product Sales campaigns with your shop as the product source."
    ),
    Permission.MANAGER: N_(
        "%(bc_name)s becomes a partner of your shop with manager permission; every ad account "
        "under it can run Product Sales campaigns with your shop as the product source."
    ),
}
OWNER_GRANT_TEXT = N_(
    "%(bc_name)s becomes your shop's owner Business Center; every ad account under it can "
    "run Product Sales campaigns with your shop as the product source."
)


def grant_text(method: RequestMethod, bc_name: str) -> str:
    """R14 in a seller's words, in the page's language: what approving gives the BC."""
    relationship, permission = GRANT_FOR_METHOD[method]
    if relationship is Relationship.OWNER:
        return locale.say(OWNER_GRANT_TEXT, bc_name=bc_name)
    return locale.say(PARTNER_GRANT_TEXT[permission], bc_name=bc_name)


def open_link(token: str, state: State) -> tuple[LinkClaims, RequestView]:
    claims = state.links.verify(token)
    if claims is None:
        raise PageError(
            400, N_("This link is not valid"),
            N_("The link is incomplete or has been changed, so it cannot be used. Nothing was "
            "changed."),
            hint=N_("Open the link again from your e-mail, copying all of it, or ask the "
            "Business Center that sent it for a new one."),
        )  # fmt: skip
    view = seller_views.request_view(state.engine, claims.request_id)
    if view is None:
        raise PageError(
            404, N_("This request does not exist"),
            N_("The link is genuine but points to a request this service does not know."),
            hint=N_("Ask the Business Center that sent it for a new link."),
        )  # fmt: skip
    # R28: the reader's saved language, else the browser's, else the shop's market.
    # Times in the approving BC's timezone, else that of the BC linked to the shop.
    locale.refine(state, email=claims.email, shop_code=view.shop_code, bc_id=view.approving_bc_id)
    return claims, view


Link = Annotated[tuple[LinkClaims, RequestView], Depends(open_link)]
"""The link in the URL (``{token}``) and its request; else a 400 or 404 page."""


def summary(view: RequestView) -> dict[str, Any]:
    return {
        "view": view,
        "grant_text": grant_text(view.method, view.bc_name),
        "method_label": view.method.label,
    }


# --- pages -----------------------------------------------------------------------------


def approval_page(
    state: WebState,
    token: str,
    view: RequestView,
    email: str,
    *,
    error: str | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
    decline_error: str | None = None,
) -> HTMLResponse:
    seller = seller_views.approver(state.engine, view.shop_code, email)
    if not seller.on_team:
        raise PageError(
            403, N_("You cannot approve this request"),
            locale.say(
                N_("%(email)s is not on the team of shop %(shop_name)s (%(shop_code)s). Only "
                   "its owner, main admins and ad managers can approve access. Nothing was "
                   "changed."),
                email=email, shop_name=view.shop_name, shop_code=view.shop_code,
            ),
        )  # fmt: skip
    return page(
        "approve.html",
        status_code,
        **summary(view),
        token=token,
        seller=seller,
        scenario=seller.scenario.value if seller.scenario else "",
        csrf=state.forms.issue("approve", request_id=view.request_id, email=email),
        decline_csrf=state.forms.issue("decline", request_id=view.request_id, email=email),
        reason_max=REASON_MAX_LENGTH,
        decline_error=decline_error,
        signin_csrf=state.forms.issue("signin", request_id=view.request_id, email=email),
        timezones=timezones() if seller.scenario is Scenario.S2 else [],
        error=error,
        values=values or {},
    )


def copy_page(
    state: WebState, token: str, view: RequestView, *, error: str | None = None,
    email: str = "", status_code: int = 200,
) -> HTMLResponse:  # fmt: skip
    return page(
        "copy_link.html",
        status_code,
        **summary(view),
        token=token,
        csrf=state.forms.issue("personal_link", request_id=view.request_id),
        error=error,
        email=email,
    )


def decided_page(
    state: WebState,
    token: str,
    view: RequestView,
    viewer: str | None,
    *,
    outcome: ApprovalOutcome | None = None,
    after_submit: bool = False,
    reread: bool = False,
    submitted: RequestStatus = RequestStatus.APPROVED,
) -> HTMLResponse:
    """The definitive outcome: approved (and what the partner can do now), expired because
    the other method won (named), cancelled, or access removed since. ``reread`` reads the
    request again, after a decision this page did not see."""
    facts = seller_views.outcome(state.engine, view, viewer, reread=reread)
    view = facts.view
    by_viewer = viewer is not None and view.decided_by == viewer
    # A second submit of the form that approved (or declined: ``submitted``) returns its
    # outcome (200); any other attempt on a decided request is a conflict.
    same_form = by_viewer and view.status is submitted
    status_code = 409 if after_submit and not same_form else 200
    return page(
        "outcome.html",
        status_code,
        **summary(view),
        token=token,
        winner=facts.winner,
        by_viewer=by_viewer,
        just_approved=outcome is not None,
        after_submit=after_submit,
        approving_bc_name=facts.approving_bc_name,
        scenario=outcome.scenario.value if outcome and outcome.scenario else "",
        signin_csrf=(
            state.forms.issue("signin", request_id=view.request_id, email=viewer)
            if viewer and facts.viewer_on_team
            else ""
        ),
    )


# --- routes ----------------------------------------------------------------------------


@router.get("/approve/{token}", response_class=HTMLResponse)
def show(token: str, link: Link, state: State) -> HTMLResponse:
    # Plain def: FastAPI runs it in its thread pool, so store reads and rendering never
    # hold up the event loop that carries other sellers' workflow updates.
    claims, view = link
    if view.status is not RequestStatus.PENDING:
        return decided_page(state, token, view, claims.email)
    if claims.email is None:
        return copy_page(state, token, view)
    return approval_page(state, token, view, claims.email)


def update_id(nonce: str, command: ApproveRequest) -> str:
    """One form and one set of answers: the same update; corrected answers: a new one."""
    digest = hashlib.sha256(
        command.model_dump_json(include={"bc_id", "new_bc_name", "timezone"}).encode()
    ).hexdigest()[:16]
    return f"web-approve:{nonce}:{digest}"


def form_answers(values: dict[str, str]) -> tuple[int | None, datetime | None]:
    """The picked BC (S3) and the optional end date (R23), or the refusal to show."""
    bc_id: int | None = None
    if values["bc_id"]:
        try:
            bc_id = int(values["bc_id"])
        except ValueError:
            raise Refusal(ErrorCode.INVALID_INPUT, "Pick one of your Business Centers.") from None
    return bc_id, parse_end_date(values["until"]) if values["until"] else None


@router.post("/approve/{token}", response_class=HTMLResponse)
async def approve(
    token: str, link: Link, form: Annotated[ApproveForm, Form()], state: State
) -> HTMLResponse:
    claims, view = link
    if claims.email is None:
        raise PageError(
            403, N_("Use your personal link to approve"),
            N_("This link was copied to you by the Business Center; it shows the request but "
            "cannot approve it. Nothing was changed."),
            hint=N_("Open the link again and ask for your personal link by e-mail."),
        )  # fmt: skip
    email = claims.email
    csrf = check_form(state, form, "approve", request_id=view.request_id, email=email)
    if view.status is not RequestStatus.PENDING:
        return await run_in_threadpool(
            partial(decided_page, state, token, view, email, after_submit=True)
        )
    values = form.model_dump(include={"bc_id", "new_bc_name", "timezone", "until"})
    try:
        bc_id, until = form_answers(values)
    except Refusal as refusal:  # re-shows the form with what was typed; nothing decided
        return await run_in_threadpool(
            partial(
                approval_page, state, token, view, email,
                error=said(refusal), values=values, status_code=422,
            )
        )  # fmt: skip
    command = ApproveRequest(
        by=email,
        bc_id=bc_id,
        new_bc_name=values["new_bc_name"] or None,
        timezone=values["timezone"] or None,
    )
    started = time.perf_counter()
    try:
        outcome = await state.requests.approve(
            view.request_id,
            command,
            idempotency_key=update_id(csrf.nonce, command),
            workflow_id=view.workflow_id,
            until=until,
        )
    except Refusal as refusal:
        return await run_in_threadpool(refused, state, token, view, email, refusal, values)
    update_ms = (time.perf_counter() - started) * 1000
    response = await run_in_threadpool(outcome_page, state, token, view, email, outcome)
    # How long the workflow update took, for browsers' dev tools and the bench.
    response.headers["Server-Timing"] = f"update;dur={update_ms:.1f}"
    return response


def outcome_page(
    state: WebState, token: str, view: RequestView, email: str, outcome: ApprovalOutcome
) -> HTMLResponse:
    if outcome.status is RequestStatus.APPROVED and not outcome.already_decided:
        return decided_page(
            state, token, view, email, outcome=outcome, after_submit=True, reread=True
        )
    # Someone else's decision landed first (another team member, or the other method).
    return decided_page(state, token, view, email, after_submit=True, reread=True)


def refused(
    state: WebState, token: str, view: RequestView, email: str, refusal: Refusal,
    values: dict[str, str],
) -> HTMLResponse:  # fmt: skip
    code = refusal.code
    if code in (ErrorCode.REQUEST_NOT_PENDING, ErrorCode.UNKNOWN_REQUEST):
        return decided_page(state, token, view, email, after_submit=True, reread=True)
    if code in (ErrorCode.INVALID_INPUT, ErrorCode.END_DATE_PASSED):
        return approval_page(
            state, token, view, email, error=said(refusal), values=values, status_code=422
        )
    if code == ErrorCode.BC_ADMIN_REQUIRED:
        return approval_page(
            state, token, view, email, error=said(refusal), values=values, status_code=403
        )
    if code == ErrorCode.NOT_SHOP_TEAM:
        raise PageError(403, N_("You cannot approve this request"), said(refusal))
    if code == ErrorCode.SERVICE_UNAVAILABLE:
        raise PageError(
            503, N_("Please try again in a minute"), said(refusal),
            hint=N_("Your approval was not lost if it was accepted: reload this link to see "
            "where it stands before trying again."),
        )  # fmt: skip
    raise PageError(409, N_("This request could not be approved"), said(refusal))


class DeclineForm(CsrfForm):
    """R22: the optional reason, checked by the service (a bad one re-shows the form)."""

    reason: Text = ""


@router.post("/approve/{token}/decline", response_class=HTMLResponse)
async def decline(
    token: str, link: Link, form: Annotated[DeclineForm, Form()], state: State
) -> HTMLResponse:
    """R22 beside Approve: the same checks (R13: a personal link, a team member), then the
    outcome page says the request was declined."""
    claims, view = link
    if claims.email is None:
        raise PageError(
            403, N_("Use your personal link to decline"),
            N_("This link was copied to you by the Business Center; it shows the request but "
            "cannot decide it. Nothing was changed."),
            hint=N_("Open the link again and ask for your personal link by e-mail."),
        )  # fmt: skip
    email = claims.email
    csrf = check_form(state, form, "decline", request_id=view.request_id, email=email)
    if view.status is not RequestStatus.PENDING:
        return await run_in_threadpool(
            partial(decided_page, state, token, view, email, after_submit=True, submitted=DECLINED)
        )
    try:
        await state.requests.decline(
            view.request_id,
            by=email,
            reason=form.reason or None,
            idempotency_key=f"web-decline:{csrf.nonce}",
            workflow_id=view.workflow_id,
        )
    except Refusal as refusal:
        if refusal.code == ErrorCode.INVALID_INPUT:
            return await run_in_threadpool(
                partial(
                    approval_page, state, token, view, email, status_code=422,
                    decline_error=said(refusal), values={"reason": form.reason},
                )
            )  # fmt: skip
        return await run_in_threadpool(refused, state, token, view, email, refusal, {})
    return await run_in_threadpool(
        partial(
            decided_page, state, token, view, email,
            after_submit=True, reread=True, submitted=DECLINED,
        )
    )  # fmt: skip


@router.post("/approve/{token}/personal-link", response_class=HTMLResponse)
async def personal_link(
    token: str, link: Link, form: Annotated[PersonalLinkForm, Form()], state: State
) -> HTMLResponse:
    """R7/R13: the same answer for every address; only the shop's team gets a mail."""
    _claims, view = link
    check_form(state, form, "personal_link", request_id=view.request_id)
    email = form.email.lower()
    if view.status is not RequestStatus.PENDING:
        return await run_in_threadpool(
            partial(decided_page, state, token, view, None, after_submit=True)
        )
    if not EMAIL.match(email) or len(email) > 320:
        return copy_page(
            state, token, view, email=email, status_code=422,
            error="Enter the e-mail address you use for your TikTok Shop, e.g. name@example.com.",
        )  # fmt: skip
    allowed = await run_in_threadpool(
        partial(
            link_asks.record_and_allow,
            state.engine,
            request_id=view.request_id,
            address=email,
            per_hour=state.settings.personal_link_asks_per_hour,
        )
    )
    if not allowed:
        # Past the hourly cap (R7): the page every ask gets, and no e-mail. The answer
        # must not tell a capped ask from a sent one, nor a team member from a stranger.
        return page("link_sent.html", **summary(view), email=email, token=token)
    try:
        await state.requests.request_personal_link(view.request_id, email)
    except Refusal as refusal:
        if refusal.code in (ErrorCode.REQUEST_NOT_PENDING, ErrorCode.UNKNOWN_REQUEST):
            return await run_in_threadpool(
                partial(decided_page, state, token, view, None, after_submit=True, reread=True)
            )
        if refusal.code == ErrorCode.INVALID_INPUT:
            return copy_page(state, token, view, email=email, error=said(refusal), status_code=422)
        raise PageError(503, N_("Please try again in a minute"), said(refusal)) from None
    return page("link_sent.html", **summary(view), email=email, token=token)


@router.post("/approve/{token}/signin")
def sign_in(link: Link, form: Annotated[CsrfForm, Form()], state: State) -> Response:
    """From a personal link into partner management (R15): no passwords; a server-side
    session (store.sessions) whose id a signed cookie carries. Plain def: every step is a
    store read or write, so all of it runs in the thread pool."""
    claims, view = link
    if claims.email is None:
        raise PageError(
            403, N_("Use your personal link"), N_("Only a personal link can sign you in.")
        )
    check_form(state, form, "signin", request_id=view.request_id, email=claims.email)
    if not seller_views.is_on_team(state.engine, view.shop_code, claims.email):
        raise PageError(
            403, N_("You cannot manage this shop's partners"),
            locale.say(
                N_("%(email)s is not on the team of shop %(shop_name)s (%(shop_code)s)."),
                email=claims.email, shop_name=view.shop_name, shop_code=view.shop_code,
            ),
        )  # fmt: skip
    session_id = sessions.start(
        state.engine, email=claims.email, lifetime=timedelta(seconds=state.sessions.max_age)
    )
    response = RedirectResponse("/partners", status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        state.sessions.dump(session_id),
        max_age=state.sessions.max_age,
        httponly=True,
        samesite="lax",
        secure=state.secure_cookies,
        path="/",
    )
    return response
