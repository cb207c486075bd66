"""Removing a partner's access to a shop over HTTP (R19, R20): what it would stop, the
removal itself (202: the grant ends at once, campaigns stop in the background) and its
progress. The CLI's ``remove-access --preview``, ``remove-access`` and ``--wait``.

The preview is a GET with the acting person in the query (``?as=``): it changes nothing,
so a token with the ``read`` scope may ask it and it can be repeated freely; ``as`` is
needed because the preview applies R19's authority check to that person, so the answer is
exactly what that person would be allowed to stop. The removal itself is a POST with
``as`` in its body, as every acting call.
"""

from __future__ import annotations

from typing import Annotated

from anyio import to_thread
from fastapi import APIRouter, Path, Query, Response
from pydantic import Field

from api.access_request_routes import ACTING_KEYED, CALLER
from api.deps import Acting, Actor, Email, Partners, Reader, ShopCodePath, Store
from api.errors import documented
from client.progress import RemovalStatusView, removal_status
from models.errors import ErrorCode as E
from models.fields import DbId
from models.partner_messages import GrantsEnded, RemovalPreview

router = APIRouter(tags=["removal"])

PartnerBc = Annotated[DbId, Path(description="The partner Business Center to remove.")]
RemovalId = Annotated[str, Path(min_length=1, max_length=40, examples=["rm_0123456789abcdef0123"])]
# What R19 can refuse, for the preview and the removal alike (store/removal.py _checked).
R19 = (E.UNKNOWN_SHOP_CODE, E.PERMISSION_DENIED, E.UNKNOWN_BC, E.NOT_A_PARTNER)


def status_url(removal_id: str) -> str:
    return f"/api/v1/removals/{removal_id}"


class RemovalStarted(GrantsEnded):
    """The grants have ended (with onward shares and member assignments); campaigns stop in
    the background: poll ``status_url``."""

    workflow_id: str
    status: str = Field(default="stopping_campaigns", description="As GET status_url says.")
    status_url: str


@router.get(
    "/shops/{shop_code}/partners/{partner_bc_id}/removal-preview",
    response_model=RemovalPreview,
    responses=documented(*CALLER, E.INVALID_INPUT, *R19),
    summary="What removing a partner would stop; changes nothing (R19)",
)
async def preview_removal(
    shop_code: ShopCodePath,
    partner_bc_id: PartnerBc,
    acting_as: Annotated[
        Email,
        Query(
            alias="as",
            description="A member of the shop's team, or an admin of its owner BC: the "
            "person who would remove.",
        ),
    ],
    _caller: Reader,
    service: Partners,
) -> RemovalPreview:
    return await to_thread.run_sync(
        lambda: service.preview_removal(
            shop_code=shop_code, partner_bc_id=partner_bc_id, by=acting_as
        )
    )


@router.post(
    "/shops/{shop_code}/partners/{partner_bc_id}/removal",
    status_code=202,
    response_model=RemovalStarted,
    responses=documented(*ACTING_KEYED, *R19),
    summary="Remove a partner's access: the grant ends now, campaigns stop after (R19, R20)",
)
async def remove_access(
    shop_code: ShopCodePath,
    partner_bc_id: PartnerBc,
    body: Acting,
    _caller: Actor,
    service: Partners,
    response: Response,
) -> RemovalStarted:
    # The CLI's defaults (page and batch sizes): the same removal whichever side starts it.
    ended, workflow_id = await service.remove_access(
        shop_code=shop_code, partner_bc_id=partner_bc_id, by=body.acting_as
    )
    url = status_url(ended.removal_id)
    response.headers["Location"] = url
    return RemovalStarted(**ended.model_dump(), workflow_id=workflow_id, status_url=url)


@router.get(
    "/removals/{removal_id}",
    response_model=RemovalStatusView,
    responses=documented(*CALLER, E.INVALID_INPUT, E.SERVICE_UNAVAILABLE, E.UNKNOWN_REMOVAL),
    summary="A removal's progress: campaigns stopped so far of the total (R19)",
)
async def get_removal(
    removal_id: RemovalId, _caller: Reader, store: Store, service: Partners
) -> RemovalStatusView:
    return await removal_status(service.client, store, removal_id, timeout=service.timeout)
