"""The audit export over HTTP (R27, docs/audit.md): a shop's or a BC's recorded changes as
the same JSON Lines file ``audit export`` writes, the check ``audit verify`` makes, the
head ``audit head`` prints and the store's chain checked as ``audit check-store`` does.

The export answers ``application/x-ndjson`` whose body is the file itself, streamed as
its rows are read (R27): saved as it comes (``curl -o``), it is what ``starter.py audit
verify`` and ``POST /audit/verify`` take, unchanged."""

from __future__ import annotations

from typing import Annotated, Any

from anyio import to_thread
from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse

from api.access_request_routes import CALLER
from api.deps import Reader, Store
from api.errors import documented
from client.audit import (
    ChainTop,
    PublicKeys,
    ScopeHead,
    StoreChecked,
    VerifyResult,
    audit_head,
    check_store,
    export_text,
    parse_since,
    pick_scope,
    public_key,
    public_keys,
    verify_export,
)
from models.errors import ErrorCode as E
from models.fields import DbId

router = APIRouter(tags=["audit"])

NDJSON = "application/x-ndjson"
PEM = "application/x-pem-file"
KEY_ID_HEADER = "Audit-Key-Id"
LINES_HEADER, HEAD_HEADER = "Audit-Export-Lines", "Audit-Export-Head"
VERIFY_CODES = (
    E.AUDIT_NOT_AN_EXPORT,
    E.AUDIT_LINE_ALTERED,
    E.AUDIT_LINE_OUT_OF_CHAIN,
    E.AUDIT_LINES_MISSING,
    E.AUDIT_STORE_MISMATCH,
    E.AUDIT_SIGNATURE_INVALID,
)
_EXPORT_BODY: dict[str, Any] = {
    NDJSON: {
        "schema": {"type": "string"},
        "example": '{"audit_export": 1, "prev_line": "000…", "scope": {"shop_code": '
        '"GBLINKED01"}, "since": null}\n…\n{"end": true, "lines": 7, "head": "5f0c…"}\n',
    }
}
# The file as bytes, in the one content type every client generator reads and sends
# (openapi-python-client knows no JSON Lines): the export is answered as JSON Lines and
# documented as both; verify takes any content type and documents this one (R30).
_FILE_BYTES: dict[str, Any] = {
    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
}

ShopCodeQuery = Annotated[
    str | None, Query(min_length=1, max_length=64, description="A shop's changes.")
]
BcQuery = Annotated[DbId | None, Query(description="A Business Center's changes.")]
SinceQuery = Annotated[
    str | None,
    Query(
        max_length=64,
        description="Start at the scope's first change at or after this time: an ISO "
        "date or date-time, UTC unless it has an offset.",
        examples=["2026-12-01"],
    ),
]


@router.get(
    "/audit/export",
    response_class=Response,
    responses={
        200: {
            "description": "The export file (JSON Lines). Headers "
            f"`{LINES_HEADER}` (changes) and `{HEAD_HEADER}` (the last line's hash).",
            "content": {**_EXPORT_BODY, **_FILE_BYTES},
        },
        **documented(*CALLER, E.INVALID_INPUT, E.UNKNOWN_SHOP_CODE, E.UNKNOWN_BC),
    },
    summary="A shop's or a BC's recorded changes as a hash-chained JSON Lines file (R27)",
)
async def audit_export(
    _caller: Reader,
    store: Store,
    shop_code: ShopCodeQuery = None,
    bc_id: BcQuery = None,
    since: SinceQuery = None,
) -> Response:
    scope = pick_scope(shop_code, bc_id)
    start = parse_since(since) if since is not None else None
    made = await to_thread.run_sync(export_text, store, scope, start)
    headers = {LINES_HEADER: str(made.lines), HEAD_HEADER: made.head}
    # Refusals came above, before the status line; the body is read from the store as it
    # is sent (R27: memory does not grow with the scope), on the thread pool.
    return StreamingResponse(made.body, media_type=NDJSON, headers=headers)


@router.post(
    "/audit/verify",
    response_model=VerifyResult,
    responses=documented(*CALLER, E.INVALID_INPUT, *VERIFY_CODES),
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "The export file's bytes, exactly as GET /audit/export gave "
            "them, with any content type (application/x-ndjson, text/plain, this one).",
            "content": _FILE_BYTES,
        }
    },
    summary="Check an export: the first line altered, removed or reordered is named (R27)",
)
async def audit_verify(
    request: Request,
    _caller: Reader,
    store: Store,
    file_only: Annotated[
        bool,
        Query(
            description="Check the file on its own, without the store (catches edits that "
            "left the hashes stale, not a file rewritten with new hashes)."
        ),
    ] = False,
) -> VerifyResult:
    data = await request.body()
    return await to_thread.run_sync(verify_export, data, None if file_only else store)


@router.get(
    "/audit/head",
    response_model=ScopeHead | ChainTop,
    responses=documented(*CALLER, E.INVALID_INPUT, E.UNKNOWN_SHOP_CODE, E.UNKNOWN_BC),
    summary="The hash a new export of a shop or a BC ends with; the whole chain's with "
    "neither (R27)",
)
async def audit_head_get(
    _caller: Reader,
    store: Store,
    shop_code: ShopCodeQuery = None,
    bc_id: BcQuery = None,
    since: SinceQuery = None,
) -> ScopeHead | ChainTop:
    start = parse_since(since) if since is not None else None
    return await to_thread.run_sync(audit_head, store, shop_code, bc_id, start)


@router.get(
    "/audit/chain",
    response_model=StoreChecked,
    responses=documented(*CALLER, E.AUDIT_CHAIN_BROKEN),
    summary="The store's whole audit chain checked: every row's hash and link, and the head (R27)",
)
async def audit_chain(_caller: Reader, store: Store) -> StoreChecked:
    return await to_thread.run_sync(check_store, store)


@router.get(
    "/audit/public-key",
    response_class=Response,
    responses={
        200: {
            "description": "The public key (SubjectPublicKeyInfo PEM) that checks exports' "
            f"signed trailers offline (R32); header `{KEY_ID_HEADER}` names it.",
            "content": {PEM: {"schema": {"type": "string"}}, **_FILE_BYTES},
        },
        **documented(*CALLER, E.UNKNOWN_AUDIT_KEY),
    },
    summary="The public key that verifies audit exports offline: the signing one, or an "
    "earlier one by key id (R32)",
)
async def audit_public_key(
    _caller: Reader,
    store: Store,
    key_id: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=32,
            description="An earlier key, by the id an export's trailer names; "
            "unset: the key that signs now.",
        ),
    ] = None,
) -> Response:
    key = await to_thread.run_sync(public_key, store, key_id)
    return Response(key.public_key, media_type=PEM, headers={KEY_ID_HEADER: key.key_id})


@router.get(
    "/audit/public-keys",
    response_model=PublicKeys,
    responses=documented(*CALLER),
    summary="Every audit signing key's public half by key id, newest (signing) first (R32)",
)
async def audit_public_keys(_caller: Reader, store: Store) -> PublicKeys:
    return await to_thread.run_sync(public_keys, store)
