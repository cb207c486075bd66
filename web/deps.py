"""Typed dependencies every page family shares: who is signed in, whether they are on the
shop's team, and forms whose CSRF token has been checked.

Each is a plain ``def`` so FastAPI runs it in its thread pool: the session and team reads
never hold up the event loop. A route lists them in the order the checks must run (sign-in,
then the form's token, then the team), because FastAPI solves dependencies in the order
they are declared, and one request reads the session only once (FastAPI caches it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Form, Request
from pydantic import BaseModel, BeforeValidator, StringConstraints

from models.i18n import N_
from store import seller_views
from web import locale
from web.security import SESSION_COOKIE, FormClaims, FormRejected
from web.state import PageError, State, WebState


def _text_or_none(value: object) -> str | None:
    # A file upload under a text field's name is no answer: the same as leaving it out,
    # so a bad token is still the 403 page below, never a 400.
    return value if isinstance(value, str) else None


def _text_or_empty(value: object) -> str:
    return value if isinstance(value, str) else ""


Token = Annotated[str | None, BeforeValidator(_text_or_none)]
Text = Annotated[str, BeforeValidator(_text_or_empty), StringConstraints(strip_whitespace=True)]
"""A text field, trimmed; anything but text reads as empty."""


# --- forms (pydantic models read with Form()) -------------------------------------------


class CsrfForm(BaseModel):
    """A form that carries only its signed token (web.security.FormTokens)."""

    csrf: Token = None


class ApproveForm(CsrfForm):
    """R12's answers: the BC picked (S3), or a new BC's name and timezone (S2)."""

    bc_id: Text = ""
    new_bc_name: Text = ""
    timezone: Text = ""
    # R23: the optional end date (YYYY-MM-DD from the date field; empty: no end).
    until: Text = ""


class PersonalLinkForm(CsrfForm):
    """R7: the address a personal link is asked for (checked by the route, not here, so a
    bad address re-shows the form with what was typed)."""

    email: Text = ""


def form_rejected(reason: FormRejected) -> PageError:
    if reason.reason == "expired":
        return PageError(
            403, N_("This page was open too long"),
            N_("For your safety, forms stop working after a week. Nothing was changed."),
            hint=N_("Open the link from your e-mail again and submit from the fresh page."),
        )  # fmt: skip
    return PageError(
        403, N_("This form could not be checked"),
        N_("The page was not sent by this site, or it was changed on the way. "
           "Nothing was changed."),
        hint=N_("Open the link from your e-mail again and submit from there."),
    )  # fmt: skip


def check_form(
    state: WebState, form: CsrfForm, purpose: str, *, request_id: str = "", email: str = ""
) -> FormClaims:
    """The claims of the form's token, made for exactly this purpose, request and e-mail;
    else the "form could not be checked" page (nothing changes)."""
    try:
        return state.forms.check(form.csrf, purpose, request_id=request_id, email=email)
    except FormRejected as reason:
        raise form_rejected(reason) from None


# --- who is asking ----------------------------------------------------------------------


def maybe_signed_in(request: Request, state: State) -> str | None:
    email = state.signed_in(request.cookies.get(SESSION_COOKIE))
    if email is not None:
        locale.refine(state, email=email)  # R28: their saved language, if any
    return email


MaybeSignedIn = Annotated[str | None, Depends(maybe_signed_in)]
"""The signed-in seller's e-mail, or None (pages that show to everyone)."""


def signed_in(email: MaybeSignedIn) -> str:
    if email is None:
        raise PageError(
            401, N_("Sign in with your personal link"),
            N_("Partner management opens from the link in your approval e-mail: open it and "
            "choose “Manage partners”. There are no passwords."),
        )  # fmt: skip
    return email


SignedIn = Annotated[str, Depends(signed_in)]
"""The e-mail of the seller's open server-side session; else a 401 page."""


def session_form(purpose: str) -> Callable[[CsrfForm, str, WebState], str]:
    """A dependency: the signed-in seller's form, its token checked for ``purpose``."""

    def checked(form: Annotated[CsrfForm, Form()], email: SignedIn, state: State) -> str:
        check_form(state, form, purpose, email=email)
        return email

    return checked


SignOutForm = Annotated[str, Depends(session_form("signout"))]
RemoveAccessForm = Annotated[str, Depends(session_form("remove_access"))]
"""The signed-in seller's e-mail, once the form's token is checked."""


@dataclass(frozen=True)
class TeamMember:
    """R13: a signed-in seller on the team of the shop in the URL."""

    email: str
    shop_code: str


def on_team(shop_code: str, email: SignedIn, state: State) -> TeamMember:
    if not seller_views.is_on_team(state.engine, shop_code.upper(), email):
        raise PageError(
            403,
            N_("You cannot manage this shop's partners"),
            locale.say(
                N_("%(email)s is not on the team of shop %(shop_code)s."),
                email=email,
                shop_code=shop_code,
            ),
        )
    return TeamMember(email=email, shop_code=shop_code)


OnTeam = Annotated[TeamMember, Depends(on_team)]
"""The signed-in seller, on the team of ``{shop_code}`` (R13); else a 401 or 403 page."""
