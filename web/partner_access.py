"""Partner-side pages (R16, R17, R19): removing a partner's access from the seller's
partner management, with its preview, and accepting or declining an invitation.

- ``GET /partners/<shop>/grants/<grant>/remove`` shows what a removal would stop
  (campaigns, partners downstream) and a confirm form; GET changes nothing.
- ``POST`` to the same address (routed in web/partners.py, which already checks sign-in,
  CSRF and the seller's team) calls :func:`confirm_removal`: the same workflow as the CLI.
- ``GET /invitations/<token>`` shows an invitation (member or add-partner) to the person
  it was mailed to; ``POST /invitations/<token>/accept`` and ``/decline`` answer it.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlmodel import select

from models.enums import Relationship
from models.errors import ErrorCode, Refusal
from models.partner_enums import InvitationKind, InvitationStatus
from models.tables import (
    AccessRemoval,
    AdAccount,
    BusinessCenter,
    Invitation,
    InvitationAdAccount,
    InvitationShop,
    Shop,
    ShopGrant,
)
from service.invitation_links import InvitationClaims, InvitationLinks
from service.partners import PartnerService
from store.db import read_session
from web import reads
from web.approval import form_rejected
from web.partners import signed_in
from web.rendering import page
from web.security import FormRejected
from web.state import PageError, State, WebState

router = APIRouter()


def _partners(state: WebState) -> PartnerService:
    return PartnerService(state.requests.client, state.engine, state.settings.task_queue)


def _refusal_page(refusal: Refusal) -> PageError:
    if refusal.code == ErrorCode.SERVICE_UNAVAILABLE:
        # The workflow may have started and carries on when a worker is back.
        return PageError(
            503,
            "The service is busy",
            refusal.message,
            hint="Reload partner management in a minute to see the outcome.",
        )
    return PageError(409, "Nothing was changed", refusal.message)


# --- removing access (R19) ----------------------------------------------------------------


def _grant(state: WebState, shop_code: str, grant_id: int) -> tuple[Shop, ShopGrant, str]:
    with read_session(state.engine) as session:
        grant = session.get(ShopGrant, grant_id)
        shop = session.get(Shop, grant.shop_id) if grant else None
        bc = session.get(BusinessCenter, grant.bc_id) if grant else None
    if grant is None or shop is None or bc is None or shop.code != shop_code.upper():
        raise PageError(404, "No such partner", "This shop has no such Business Center.")
    if grant.relationship is not Relationship.PARTNER:
        raise PageError(
            409,
            "This is the shop's owner",
            f"{bc.name} owns the shop; only partners' access can be removed.",
        )
    return shop, grant, bc.name


def _require_team(state: WebState, shop_code: str, email: str) -> None:
    if not reads.is_on_team(state.engine, shop_code.upper(), email):
        raise PageError(
            403,
            "You cannot manage this shop's partners",
            f"{email} is not on the team of shop {shop_code}.",
        )


def _removal_of(state: WebState, shop_id: int, grant_id: int) -> AccessRemoval | None:
    with read_session(state.engine) as session:
        removals = session.exec(select(AccessRemoval).where(AccessRemoval.shop_id == shop_id))
        for removal in removals.all():
            if grant_id in json.loads(removal.ended_grant_ids):
                return removal
    return None


@router.get("/partners/{shop_code}/grants/{grant_id}/remove", response_class=HTMLResponse)
def preview_removal(shop_code: str, grant_id: int, request: Request, state: State) -> HTMLResponse:
    """R19: what will stop, before the seller confirms. Changes nothing."""
    email = signed_in(request, state)
    _require_team(state, shop_code, email)
    shop, grant, bc_name = _grant(state, shop_code, grant_id)
    if grant.revoked_at is not None:
        return _removed_page(state, shop, bc_name, grant_id, just_now=False)
    try:
        preview = _partners(state).preview_removal(
            shop_code=shop.code, partner_bc_id=grant.bc_id, by=email
        )
    except Refusal as refusal:
        raise _refusal_page(refusal) from None
    return page(
        "partners_remove.html",
        shop=shop,
        preview=preview,
        grant_id=grant_id,
        csrf=state.forms.issue("remove_access", email=email),
        email=email,
    )


async def confirm_removal(
    state: WebState, email: str, shop_code: str, grant_id: int
) -> HTMLResponse:
    """R19: the confirm POST (sign-in, CSRF and team already checked by the caller)."""
    shop, grant, bc_name = _grant(state, shop_code, grant_id)
    if grant.revoked_at is not None:  # a second click, or someone else was quicker
        return _removed_page(state, shop, bc_name, grant_id, just_now=False)
    try:
        ended, _workflow_id = await _partners(state).remove_access(
            shop_code=shop.code, partner_bc_id=grant.bc_id, by=email
        )
    except Refusal as refusal:
        raise _refusal_page(refusal) from None
    return _removed_page(state, shop, bc_name, grant_id, just_now=True, lost=len(ended.lost_bc_ids))


def _removed_page(
    state: WebState,
    shop: Shop,
    bc_name: str,
    grant_id: int,
    *,
    just_now: bool,
    lost: int | None = None,
) -> HTMLResponse:
    assert shop.id is not None
    removal = _removal_of(state, shop.id, grant_id)
    return page(
        "partners_removed.html",
        shop=shop,
        bc_name=bc_name,
        removal=removal,
        just_now=just_now,
        lost=lost if lost is not None else (len(json.loads(removal.lost_bc_ids)) if removal else 0),
    )


# --- invitations (R16, R17) -------------------------------------------------------------


def _links(state: WebState) -> InvitationLinks:
    return InvitationLinks(state.settings.secret_keys, state.settings.link_base_url)


def _open(state: WebState, token: str) -> tuple[InvitationClaims, Invitation, dict[str, Any]]:
    claims = _links(state).verify(token)
    if claims is None or claims.email is None:
        raise PageError(
            400,
            "This link is not valid",
            "The link is incomplete or has been changed, so it cannot be used. "
            "Nothing was changed.",
            hint="Open the link again from your e-mail, copying all of it.",
        )
    with read_session(state.engine) as session:
        invitation = session.get(Invitation, claims.invitation_id)
        if invitation is None:
            raise PageError(
                404,
                "This invitation does not exist",
                "The link is genuine but points to an invitation this service does not know.",
            )
        inviter = session.get(BusinessCenter, invitation.bc_id)
        partner = (
            session.get(BusinessCenter, invitation.partner_bc_id)
            if invitation.partner_bc_id
            else None
        )
        accounts = session.exec(
            select(InvitationAdAccount, AdAccount)
            .join(AdAccount, AdAccount.id == InvitationAdAccount.ad_account_id)  # type: ignore[arg-type]
            .where(InvitationAdAccount.invitation_id == invitation.id)
        ).all()
        shops = session.exec(
            select(InvitationShop, Shop)
            .join(Shop, Shop.id == InvitationShop.shop_id)  # type: ignore[arg-type]
            .where(InvitationShop.invitation_id == invitation.id)
            .order_by(Shop.code)
        ).all()
    details: dict[str, Any] = {
        "inviter": inviter,
        "partner": partner,
        "accounts": [(a.name, a.id, i.permission.value) for i, a in accounts],
        "shops": [(s.name, s.code, i.permission.value.replace("_", " ")) for i, s in shops],
    }
    return claims, invitation, details


def _invitation_page(
    state: WebState, token: str, *, answered: str | None = None, status: int = 200
) -> HTMLResponse:
    claims, invitation, details = _open(state, token)
    pending = invitation.status is InvitationStatus.PENDING
    csrf = (
        state.forms.issue("invitation", request_id=invitation.id, email=claims.email or "")
        if pending
        else ""
    )
    return page(
        "invitation.html",
        status,
        invitation=invitation,
        email=claims.email,
        token=token,
        csrf=csrf,
        answered=answered,
        member=invitation.kind is InvitationKind.MEMBER,
        **details,
    )


@router.get("/invitations/{token}", response_class=HTMLResponse)
def show_invitation(token: str, state: State) -> HTMLResponse:
    return _invitation_page(state, token)


@router.post("/invitations/{token}/{answer}", response_class=HTMLResponse)
async def answer_invitation(
    token: str, answer: str, request: Request, state: State
) -> HTMLResponse:
    if answer not in ("accept", "decline"):
        raise PageError(404, "Page not found", "There is nothing at this address.")
    claims, invitation, _ = _open(state, token)
    form = await request.form()
    csrf = form.get("csrf")
    try:
        state.forms.check(
            csrf if isinstance(csrf, str) else None,
            "invitation",
            request_id=invitation.id,
            email=claims.email or "",
        )
    except FormRejected as reason:
        raise form_rejected(reason) from None
    if invitation.status is not InvitationStatus.PENDING:  # a second click
        return _invitation_page(state, token)
    service = _partners(state)
    try:
        if answer == "accept":
            await service.accept_invitation(invitation.id, by=claims.email or "")
        else:
            await service.decline_invitation(invitation.id, by=claims.email or "")
    except Refusal as refusal:
        raise _refusal_page(refusal) from None
    return _invitation_page(state, token, answered=answer)
