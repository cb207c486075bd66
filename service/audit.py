"""The audit export and its verification (R27, docs/audit.md) for the CLI and the API
alike: which scope, the export's text, what a checked file covers, the hash an export
ends with and the store's own chain checked. Store reads only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import BaseModel
from sqlalchemy import Engine

from models.errors import ErrorCode, Refusal
from models.fields import require_bc_or_shop
from models.views import ScopeView
from store import audit as chain
from store.audit_export import Scope, export, verify_lines
from store.db import read_session


def pick_scope(shop_code: str | None, bc_id: int | None) -> Scope:
    """Exactly one of a shop (by code, any case) or a Business Center."""
    require_bc_or_shop(bc_id, shop_code)
    return Scope(shop_code=shop_code.strip().upper() if shop_code else None, bc_id=bc_id)


def parse_since(text: str) -> datetime:
    """An ISO date or date-time; without an offset it is UTC (as the CLI's ``--since``)."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise Refusal(
            ErrorCode.INVALID_INPUT,
            "since must be an ISO date or date-time (2026-12-01, 2026-12-01T15:04:05).",
            field="since",
        ) from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@dataclass(frozen=True)
class ExportText:
    """An export as the file holds it: JSON Lines, each ending with a newline."""

    text: str
    lines: int
    head: str


def export_text(engine: Engine, scope: Scope, since: datetime | None = None) -> ExportText:
    with read_session(engine) as session:
        made = export(session, scope, since)
    text = "".join(line + "\n" for line in made.lines())
    return ExportText(text, len(made.changes), made.head)


class VerifyResult(BaseModel):
    """What a file that passed covers."""

    ok: bool = True
    scope: ScopeView
    lines: int
    head: str
    against_store: bool


def verify_export(data: bytes, engine: Engine | None) -> VerifyResult:
    """Check an export's bytes, against the store unless ``engine`` is None (file only);
    a Refusal names the first bad line (docs/audit.md)."""
    try:
        texts = data.decode("utf-8").splitlines()
    except UnicodeDecodeError:
        raise Refusal(ErrorCode.AUDIT_NOT_AN_EXPORT, None, line=1) from None
    if engine is None:
        checked = verify_lines(texts)
    else:
        with read_session(engine) as session:
            checked = verify_lines(texts, session)
    return VerifyResult(
        scope=ScopeView.model_validate(checked.scope.as_json()),
        lines=checked.lines,
        head=checked.head,
        against_store=engine is not None,
    )


class ChainTop(BaseModel):
    """The store's whole chain: how many changes, and the last one's hash."""

    seq: int
    head: str


class ScopeHead(BaseModel):
    """What an export of the scope (from ``since``) would hold and end with."""

    scope: ScopeView
    lines: int
    head: str


def audit_head(
    engine: Engine, shop_code: str | None, bc_id: int | None, since: datetime | None = None
) -> ChainTop | ScopeHead:
    """The hash a new export of the scope ends with, or the whole chain's with neither
    (``audit head``, ``GET /audit/head``)."""
    if shop_code is None and bc_id is None:
        if since is not None:
            raise Refusal(
                ErrorCode.INVALID_INPUT,
                "since needs a shop or a BC: the whole chain's head has no start.",
                field="since",
            )
        with read_session(engine) as session:
            top = chain.head(session)
        return ChainTop(seq=top.seq, head=top.hash)
    scope = pick_scope(shop_code, bc_id)
    with read_session(engine) as session:
        made = export(session, scope, since)
    return ScopeHead(
        scope=ScopeView.model_validate(scope.as_json()), lines=len(made.changes), head=made.head
    )


class StoreChecked(BaseModel):
    """The store's chain held, every row's hash and link and the head."""

    ok: bool = True
    seq: int
    head: str


def check_store(engine: Engine) -> StoreChecked:
    """Walk the store's whole chain (``audit check-store``, ``GET /audit/chain``); an
    ``audit_chain_broken`` refusal names the first row that does not hold (``seq``)."""
    with read_session(engine) as session:
        broken = chain.first_broken_seq(session)
        top = chain.head(session)
    if broken is not None:
        raise Refusal(ErrorCode.AUDIT_CHAIN_BROKEN, None, seq=broken)
    return StoreChecked(seq=top.seq, head=top.hash)
