"""What API routes take: the caller with the scope it needs, the acting user, and the
services (the same ones the CLI and the pages use)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Header, Path, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Engine

from api.errors import ApiError
from api.gate import MAX_KEY_LENGTH, Caller
from client.access_requests import RequestService
from client.context import ClientContext
from client.partners import PartnerService
from models.end_date_parsing import parse_end_date
from models.errors import ErrorCode
from store.api_tokens import Scope

KEY_HEADER = "Idempotency-Key"
KEY_PATTERN = r"^[\x20-\x7e]+$"  # printable ASCII, as the gate checks
KEY_DESCRIPTION = (
    "Any unique string (a UUID), 1 to 255 printable ASCII characters: a repeat with the "
    "same key and body gets the first answer (header `Idempotent-Replayed: true`) and "
    "does nothing again; the same key with another body is refused "
    "(idempotency_key_reused). Kept for 24 hours, per token. A call whose link handler "
    "died frees its key once its lease (the call's deadline plus a few seconds) has "
    "passed; a retry of POST /requests then answers with the request the first attempt "
    "started (201)."
)

# Documents the bearer scheme in the schema; the gate (api/gate.py) has checked it already.
bearer = HTTPBearer(
    auto_error=False,
    scheme_name="token",
    description="An ops API token from `starter.py api-token create` (shown once).",
)


def _needs(scope: Scope) -> Callable[..., Caller]:
    def caller(
        request: Request,
        _credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
    ) -> Caller:
        found: Caller = request.state.caller
        if scope not in found.token.scopes:
            raise ApiError(ErrorCode.SCOPE_REQUIRED, scope=scope.value)
        return found

    return caller


def _acting(
    caller: Annotated[Caller, Depends(_needs(Scope.ACT))],
    _key: Annotated[
        str | None,
        Header(
            alias=KEY_HEADER,
            description=KEY_DESCRIPTION,
            min_length=1,
            max_length=MAX_KEY_LENGTH,
            pattern=KEY_PATTERN,
        ),
    ] = None,
) -> Caller:
    return caller  # the gate (api/gate.py) has applied the key already


def keyed_id(caller: Caller, prefix: str, digits: int = 20) -> str | None:
    """An id for what a keyed POST creates, the same for every attempt of the call
    (``Caller.call_seed``): a retry after a fault or a dead link handler then meets the
    first attempt's work as its own instead of a conflict. None without a key: the
    service makes a fresh id."""
    if caller.call_seed is None:
        return None
    return prefix + hashlib.sha256(f"{prefix}{caller.call_seed}".encode()).hexdigest()[:digits]


Reader = Annotated[Caller, Depends(_needs(Scope.READ))]
"""A caller whose token may read."""
Actor = Annotated[Caller, Depends(_acting)]
"""A caller whose token may act; documents the Idempotency-Key header."""
Remover = Annotated[Caller, Depends(_needs(Scope.ACT))]
"""A caller whose token may act, on a DELETE (repeating it is harmless: no key)."""


def _state(request: Request) -> ClientContext:
    state: ClientContext = request.app.state.context
    return state


def _engine(request: Request) -> Engine:
    return _state(request).engine


def _requests(request: Request) -> RequestService:
    return _state(request).requests


def _partners(request: Request) -> PartnerService:
    return _state(request).partners


State = Annotated[ClientContext, Depends(_state)]
Store = Annotated[Engine, Depends(_engine)]
Requests = Annotated[RequestService, Depends(_requests)]
Partners = Annotated[PartnerService, Depends(_partners)]

Email = Annotated[str, Field(min_length=3, max_length=320, examples=["ana@agency.example"])]
ShopCodePath = Annotated[str, Path(min_length=1, max_length=64, examples=["GBLINKED01"])]
"""A shop code in a path (R5: the store says whether one exists)."""


def end_date(raw: str | None) -> datetime | None:
    """R23's end date as people type it (``models.end_date_parsing.parse_end_date``), if given."""
    return parse_end_date(raw) if raw is not None else None


class Body(BaseModel):
    """A request body: unknown fields are refused, not ignored."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Acting(Body):
    """An acting call names the person it acts for, as the CLI's ``--as`` does: the rules
    (R1, R13, R16-R19) apply to that person exactly as on the CLI."""

    acting_as: Email = Field(alias="as", description="E-mail of the person acting.")
