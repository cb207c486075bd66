"""Bulk requests and the daily quota over HTTP (R24, R4): start a bulk request for a list of
shop codes (202, then poll it), read it, cancel it; read a BC's quota today. The CLI's
``request-access --shop-codes-file``, ``bulk-status``, ``bulk-cancel`` and ``quota``.

The list is checked by the file's rules (client/bulk.py ``check_shop_codes``): nothing
starts unless every code is good, and a refusal names the item.
"""

from __future__ import annotations

from typing import Annotated

from anyio import to_thread
from fastapi import APIRouter, Depends, Path, Request, Response
from pydantic import BaseModel, Field

from api.access_request_routes import ACTING_KEYED, CALLER
from api.deps import Acting, Actor, Reader, State, Store, keyed_id
from api.errors import documented
from client.bulk import MAX_CODES, BulkService, check_shop_codes, quota
from models.bulk_messages import BulkProgress, QuotaView
from models.enums import RequestMethod
from models.errors import ErrorCode as E
from models.fields import DbId

router = APIRouter(tags=["bulk requests"])

BulkId = Annotated[str, Path(min_length=1, max_length=64, examples=["bulk_0123456789abcdef"])]
BcId = Annotated[DbId, Path(description="A Business Center.")]


def _bulk_service(request: Request, state: State) -> BulkService:
    # Made once per app, over the request service's client (as the CLI does).
    found: BulkService | None = getattr(request.app.state, "bulk", None)
    if found is None:
        found = BulkService(state.requests.client, state.engine, state.settings.task_queue)
        request.app.state.bulk = found
    return found


Bulk = Annotated[BulkService, Depends(_bulk_service)]


def status_url(bulk_id: str) -> str:
    return f"/api/v1/bulk-requests/{bulk_id}"


class NewBulk(Acting):
    """Ask many shops at once, as an admin of the requesting BC (R1, R2 checked before
    anything starts; every other rule answers per code, R24)."""

    method: RequestMethod = Field(
        default=RequestMethod.REQUEST_ACCESS,
        description="request_access or add_my_shop, for every code.",
    )
    bc_id: DbId = Field(description="The requesting Business Center.")
    shop_codes: list[str] = Field(
        description=f"1 to {MAX_CODES} shop codes, each once; upper-cased (R5).",
        examples=[["GBLINKED01", "SGNEWBC002"]],
    )


class BulkStarted(BaseModel):
    bulk_id: str
    shop_codes: int = Field(description="How many codes it will try.")
    status: str = "running"
    status_url: str


class BulkCancelling(BulkProgress):
    status_url: str


@router.post(
    "/bulk-requests",
    status_code=202,
    response_model=BulkStarted,
    responses=documented(*ACTING_KEYED, E.UNKNOWN_BC, E.NOT_BC_ADMIN, E.BC_NOT_ELIGIBLE),
    summary="Request access to many shops by their codes (R24)",
)
async def start_bulk(body: NewBulk, caller: Actor, bulk: Bulk, response: Response) -> BulkStarted:
    codes = check_shop_codes(body.shop_codes)
    bulk_id = await bulk.start(
        method=body.method,
        bc_id=body.bc_id,
        shop_codes=codes,
        by=body.acting_as,
        # Every attempt of one keyed call names the same bulk: a retry after a fault or a
        # dead link handler answers it instead of starting a second one.
        bulk_id=keyed_id(caller, "bulk_", 16),
    )
    response.headers["Location"] = status_url(bulk_id)
    return BulkStarted(bulk_id=bulk_id, shop_codes=len(codes), status_url=status_url(bulk_id))


@router.get(
    "/bulk-requests/{bulk_id}",
    response_model=BulkProgress,
    responses=documented(*CALLER, E.INVALID_INPUT, E.SERVICE_UNAVAILABLE, E.UNKNOWN_BULK),
    summary="A bulk request: counts, when it continues, a result per code (R24)",
)
async def get_bulk(bulk_id: BulkId, _caller: Reader, bulk: Bulk) -> BulkProgress:
    return await bulk.progress(bulk_id)


@router.post(
    "/bulk-requests/{bulk_id}/cancel",
    status_code=202,
    response_model=BulkCancelling,
    responses=documented(
        *ACTING_KEYED, E.UNKNOWN_BULK, E.UNKNOWN_BC, E.NOT_BC_ADMIN, E.BULK_NOT_RUNNING
    ),
    summary="Stop a bulk request before its next code (R24)",
)
async def cancel_bulk(
    bulk_id: BulkId, body: Acting, _caller: Actor, bulk: Bulk, response: Response
) -> BulkCancelling:
    """Requests it already admitted stay pending (cancel them one by one); the codes not
    tried yet end ``cancelled``. Poll ``status_url`` until its status is ``cancelled``."""
    progress = await bulk.cancel(bulk_id, by=body.acting_as)
    response.headers["Location"] = status_url(bulk_id)
    return BulkCancelling(**progress.model_dump(), status_url=status_url(bulk_id))


@router.get(
    "/bcs/{bc_id}/quota",
    response_model=QuotaView,
    responses=documented(*CALLER, E.INVALID_INPUT, E.UNKNOWN_BC),
    summary="A Business Center's requests left today and when the limit resets (R4)",
)
async def get_quota(bc_id: BcId, _caller: Reader, store: Store) -> QuotaView:
    return await to_thread.run_sync(quota, store, bc_id)
