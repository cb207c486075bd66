"""Campaigns over HTTP (R18): a BC's or a shop's campaigns, and creating one with a shop
as product source. The CLI's ``campaigns`` and ``create-campaign``, over the same service
(client/partners.py) with the same rules and codes."""

from __future__ import annotations

from typing import Annotated

from anyio import to_thread
from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from api.access_request_routes import ACTING_KEYED, CALLER, ShopCode
from api.deps import Acting, Actor, Partners, Reader
from api.errors import documented
from models.errors import ErrorCode as E
from models.fields import DbId
from models.partner_messages import CampaignView

router = APIRouter(tags=["campaigns"])


class CampaignList(BaseModel):
    campaigns: list[CampaignView]


@router.get(
    "/campaigns",
    response_model=CampaignList,
    responses=documented(*CALLER, E.INVALID_INPUT, E.UNKNOWN_BC, E.UNKNOWN_SHOP_CODE),
    summary="Campaigns of a BC's ad accounts, or using a shop as product source (R18)",
)
async def list_campaigns(
    _caller: Reader,
    service: Partners,
    bc_id: Annotated[DbId | None, Query(description="A Business Center's campaigns.")] = None,
    shop_code: Annotated[
        str | None, Query(min_length=1, max_length=64, description="A shop's campaigns.")
    ] = None,
) -> CampaignList:
    views = await to_thread.run_sync(lambda: service.campaigns(bc_id=bc_id, shop_code=shop_code))
    return CampaignList(campaigns=views)


class NewCampaign(Acting):
    """A Product Sales campaign in an ad account with a shop as product source (R18): the
    ad account's BC must hold the shop, and the person acting hold ``manager`` or
    ``ad_promotion`` on it (a BC admin holds what the BC holds; a standard member needs an
    assignment and an ad account permission that writes campaigns)."""

    ad_account_id: DbId
    shop_code: ShopCode = Field(description="The shop used as product source.")
    # The store checks the name (R18's display-name rule), with the CLI's message.
    name: str = Field(examples=["Spring sale"])


@router.post(
    "/campaigns",
    status_code=201,
    response_model=CampaignView,
    responses=documented(
        *ACTING_KEYED,
        E.UNKNOWN_AD_ACCOUNT,
        E.UNKNOWN_BC,
        E.UNKNOWN_SHOP_CODE,
        E.NOT_A_MEMBER,
        E.SHOP_NOT_HELD,
        E.PERMISSION_DENIED,
    ),
    summary="Create a campaign with a shop as product source (R18)",
)
async def create_campaign(body: NewCampaign, _caller: Actor, service: Partners) -> CampaignView:
    return await to_thread.run_sync(
        lambda: service.create_campaign(
            ad_account_id=body.ad_account_id,
            shop_code=body.shop_code,
            name=body.name,
            by=body.acting_as,
        )
    )
