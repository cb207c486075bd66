"""The ops HTTP API (R26, docs/api.md), mounted at ``/api/v1`` in the link handler.

Its own FastAPI app so that its schema (``/api/v1/openapi.json``), its docs page and its
JSON errors stay apart from the seller's pages; it shares the link handler's ClientContext,
so the services, the store and the Temporal client are the ones the pages use.
"""

from __future__ import annotations

import re

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Mount
from temporalio.service import RPCError

from api import (
    access_request_routes,
    audit,
    bulk,
    campaigns,
    invitations,
    partners,
    reference,
    removal,
    webhooks,
)
from api.errors import ApiError, error_response
from api.gate import ApiGate
from api.schema import install as install_schema
from client.context import ClientContext
from models.errors import ErrorCode, Refusal
from store.db import store_fault

PREFIX = "/api/v1"
VERSION = "1.0.0"
DESCRIPTION = """\
Partners asking for access to TikTok Shops, sellers deciding, access shared, assigned and
removed: the same operations and rules as `starter.py`, over HTTP.

Every call sends `Authorization: Bearer <token>` (`starter.py api-token create`). Tokens
with the `read` scope read; `act` also changes things, always on behalf of the person
named in the body's `as` field, to whom the rules apply as on the CLI. Every POST takes
an `Idempotency-Key`. Refusals are `{"error": {"code", "message", "details"}}` with a
status fixed by the code; long operations answer `202` with a `Location` to poll.
"""


def api_mount(state: ClientContext) -> Mount:
    """The API under /api/v1, for the link handler's routes. Every path under the prefix
    reaches the API, so it answers with its JSON errors: Starlette's mount pattern stops
    at a newline (a ``%0A`` in a path), which would fall through to the HTML 404 page."""
    mount = Mount(PREFIX, app=create_api(state))
    mount.path_regex = re.compile(mount.path_regex.pattern, re.DOTALL)
    return mount


def create_api(state: ClientContext) -> FastAPI:
    api = FastAPI(
        title="Shop Access ops API",
        version=VERSION,
        description=DESCRIPTION,
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
        servers=[{"url": PREFIX}],
    )
    api.state.context = state
    for group in (
        access_request_routes,
        partners,
        invitations,
        campaigns,
        webhooks,
        audit,
        removal,
        bulk,
    ):
        api.include_router(group.router)
    api.include_router(reference.router)
    install_schema(api)  # the finished schema (api/schema.py): errors, security, keys
    add_error_answers(api, state)
    api.add_middleware(ApiGate, state=state)
    return api


def add_error_answers(api: FastAPI, state: ClientContext) -> None:
    """Every failure inside the API is the JSON error contract (api/errors.py)."""

    async def refused(_request: Request, err: Exception) -> JSONResponse:
        return error_response(err)

    for kind in (Refusal, ApiError, RequestValidationError, RPCError):
        api.add_exception_handler(kind, refused)

    @api.exception_handler(SQLAlchemyError)
    async def on_store(_request: Request, err: SQLAlchemyError) -> JSONResponse:
        return error_response(store_fault(err, state.settings.database_url) or err)

    @api.exception_handler(StarletteHTTPException)
    async def on_http(request: Request, err: StarletteHTTPException) -> JSONResponse:
        path = request.url.path
        if err.status_code == 405:
            return error_response(
                ApiError(ErrorCode.METHOD_NOT_ALLOWED, method=request.method, path=path)
            )
        if err.status_code == 404:
            return error_response(ApiError(ErrorCode.NOT_FOUND, path=path))
        # FastAPI's own refusals of a request it cannot read (a body that is not JSON).
        problem = err.detail if isinstance(err.detail, str) else "The request cannot be read."
        return error_response(
            ApiError(
                ErrorCode.INVALID_INPUT,
                f"Invalid input: {problem}",
                errors=[{"field": "body", "problem": problem}],
            )
        )
