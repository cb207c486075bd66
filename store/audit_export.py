"""Audit export and verification (R27, docs/audit.md).

An export is the contiguous run of one scope's audit rows (a shop's or a Business
Center's), in chain order, as JSON Lines: a header, one line per change, a trailer. Each
change line carries the row's fields, its place and hashes in the store's chain (``seq``,
``prev_hash``, ``hash``) and ``prev_line``, the hash of the scope's row before it. So:

* an altered line no longer matches its ``hash``;
* a removed or moved line breaks the next line's ``prev_line``;
* lines cut from the end disagree with the trailer; a rewritten file disagrees with the
  store, whose rows carry the same hashes (the chain is anchored there), and an export
  made later of the same scope repeats the same lines and continues from them.

Which rows belong to a scope is decided from facts that never change after they are
written (a request's shop and BC, a grant's, an invitation's...), so a scope's run of rows
is the same whenever it is exported.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, String, and_, cast, or_, select
from sqlmodel import Session, col
from sqlmodel import select as sm_select

from models.errors import ErrorCode, Refusal
from models.tables import (
    AccessRemoval,
    AccessRequest,
    AuditEvent,
    Campaign,
    Invitation,
    InvitationShop,
    ShopGrant,
)
from store.audit import GENESIS, canonical_time, row_hash
from store.people import require_bc, require_shop_by_code

FORMAT = 1


@dataclass(frozen=True)
class Scope:
    """A shop (by code) or a Business Center (by id); exactly one is set."""

    shop_code: str | None = None
    bc_id: int | None = None

    def as_json(self) -> dict[str, Any]:
        return {"shop_code": self.shop_code} if self.shop_code else {"bc_id": self.bc_id}


def _str_ids(column: Any) -> Any:
    return cast(column, String)


def scope_filter(session: Session, scope: Scope) -> ColumnElement[bool]:
    entity, entity_id = col(AuditEvent.entity), col(AuditEvent.entity_id)

    def of(kind: str, ids: Any) -> ColumnElement[bool]:
        return and_(entity == kind, entity_id.in_(ids))

    if scope.shop_code is not None:
        shop = require_shop_by_code(session, scope.shop_code)
        sid = shop.id
        return or_(
            and_(entity == "shop", entity_id == shop.code),
            of(
                "access_request",
                select(col(AccessRequest.id)).where(col(AccessRequest.shop_id) == sid),
            ),
            of(
                "shop_grant",
                select(_str_ids(col(ShopGrant.id))).where(col(ShopGrant.shop_id) == sid),
            ),
            and_(entity == "member_assignment", entity_id.like(f"bc-%:shop-{sid}:user-%")),
            of(
                "invitation",
                select(col(InvitationShop.invitation_id)).where(col(InvitationShop.shop_id) == sid),
            ),
            of(
                "access_removal",
                select(col(AccessRemoval.id)).where(col(AccessRemoval.shop_id) == sid),
            ),
            of("campaign", select(_str_ids(col(Campaign.id))).where(col(Campaign.shop_id) == sid)),
        )
    bc = scope.bc_id
    assert bc is not None
    require_bc(session, bc)
    return or_(
        and_(entity == "business_center", entity_id == str(bc)),
        of("access_request", select(col(AccessRequest.id)).where(col(AccessRequest.bc_id) == bc)),
        of(
            "shop_grant",
            select(_str_ids(col(ShopGrant.id))).where(
                or_(col(ShopGrant.bc_id) == bc, col(ShopGrant.granted_by_bc_id) == bc)
            ),
        ),
        and_(entity == "member_assignment", entity_id.like(f"bc-{bc}:shop-%")),
        of(
            "invitation",
            select(col(Invitation.id)).where(
                or_(col(Invitation.bc_id) == bc, col(Invitation.partner_bc_id) == bc)
            ),
        ),
        of(
            "access_removal",
            select(col(AccessRemoval.id)).where(col(AccessRemoval.partner_bc_id) == bc),
        ),
        of("campaign", select(_str_ids(col(Campaign.id))).where(col(Campaign.bc_id) == bc)),
    )


@dataclass(frozen=True)
class Export:
    """One export: the header's fields and the change lines, ready to write."""

    scope: Scope
    since: datetime | None
    prev_line: str
    changes: list[dict[str, Any]]

    @property
    def head(self) -> str:
        return self.changes[-1]["hash"] if self.changes else self.prev_line

    def lines(self) -> Iterator[str]:
        header = {
            "audit_export": FORMAT,
            "scope": self.scope.as_json(),
            "since": self.since.isoformat() if self.since else None,
            "prev_line": self.prev_line,
        }
        yield json.dumps(header, sort_keys=True)
        for change in self.changes:
            yield json.dumps(change, sort_keys=True)
        yield json.dumps({"end": True, "lines": len(self.changes), "head": self.head})


def export(session: Session, scope: Scope, since: datetime | None = None) -> Export:
    """The scope's rows from the first one at or after ``since`` to the end of the chain."""
    where = scope_filter(session, scope)
    rows = list(
        session.exec(sm_select(AuditEvent).where(where).order_by(col(AuditEvent.seq))).all()
    )
    start = 0
    if since is not None:
        cutoff = canonical_time(since)
        start = next((i for i, r in enumerate(rows) if canonical_time(r.at) >= cutoff), len(rows))
    prev = rows[start - 1].hash if start > 0 else GENESIS
    changes = []
    for row in rows[start:]:
        changes.append(_line(row, prev))
        prev = row.hash
    return Export(scope, since, rows[start - 1].hash if start > 0 else GENESIS, changes)


def _line(row: AuditEvent, prev_line: str) -> dict[str, Any]:
    return {
        "seq": row.seq,
        "at": canonical_time(row.at),
        "actor": row.actor,
        "entity": row.entity,
        "entity_id": row.entity_id,
        "action": row.action,
        "detail": json.loads(row.detail),
        "prev_hash": row.prev_hash,
        "hash": row.hash,
        "prev_line": prev_line,
    }


# --- verification ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Verified:
    scope: Scope
    since: str | None
    lines: int
    head: str


def _broken(code: ErrorCode, line: int, **details: Any) -> Refusal:
    return Refusal(code, None, line=line, **details)


def _parse(number: int, text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise _broken(ErrorCode.AUDIT_LINE_ALTERED, number)
    return value


def _recomputed(line: dict[str, Any]) -> str | None:
    try:
        return row_hash(
            seq=int(line["seq"]),
            at=str(line["at"]),
            actor=str(line["actor"]),
            entity=str(line["entity"]),
            entity_id=str(line["entity_id"]),
            action=str(line["action"]),
            detail=json.dumps(line["detail"], sort_keys=True),
            prev_hash=str(line["prev_hash"]),
        )
    except (KeyError, TypeError, ValueError):
        return None


def verify_lines(texts: Iterable[str], store: Session | None = None) -> Verified:
    """Check an export, line by line; raise a Refusal naming the first bad line (1-based,
    as an editor counts) or return what the file covers.

    With ``store``, each line must also be the store's row at that place in the scope's
    run (the file may end before the store does: later changes are not in it). Per line,
    the checks run in this order, so the code says what happened to the first bad line:
    altered (content vs. its hash), out of chain (removed or moved), not in the store
    (rewritten with fresh hashes).
    """
    numbered = [(n, t) for n, t in enumerate(texts, start=1) if t.strip()]
    if not numbered:
        raise _broken(ErrorCode.AUDIT_NOT_AN_EXPORT, 1)
    first_no, first_text = numbered[0]
    header = _parse(first_no, first_text)
    scope_raw = header.get("scope")
    if header.get("audit_export") != FORMAT or not isinstance(scope_raw, dict):
        raise _broken(ErrorCode.AUDIT_NOT_AN_EXPORT, first_no)
    scope = Scope(scope_raw.get("shop_code"), scope_raw.get("bc_id"))
    since = header.get("since")
    prev = str(header.get("prev_line"))
    stored: Export | None = None
    if store is not None:
        try:
            start = datetime.fromisoformat(since) if since else None
        except (TypeError, ValueError):
            raise _broken(ErrorCode.AUDIT_LINE_ALTERED, first_no) from None
        stored = export(store, scope, start)
        if stored.prev_line != prev:
            raise _broken(ErrorCode.AUDIT_STORE_MISMATCH, first_no)
    seen: set[str] = set()
    for number, text in numbered[1:]:
        line = _parse(number, text)
        if line.get("end") is True:
            if line.get("lines") != len(seen) or line.get("head") != prev:
                # The trailer counts what was exported: fewer lines means some went missing
                # at the end (or the trailer was altered).
                raise _broken(ErrorCode.AUDIT_LINES_MISSING, number)
            if number != numbered[-1][0]:
                raise _broken(ErrorCode.AUDIT_LINE_ALTERED, numbered[-1][0])
            return Verified(scope, since, len(seen), prev)
        digest = _recomputed(line)
        if digest is None or digest != line.get("hash"):
            raise _broken(ErrorCode.AUDIT_LINE_ALTERED, number)
        if line.get("prev_line") != prev or digest in seen:
            raise _broken(ErrorCode.AUDIT_LINE_OUT_OF_CHAIN, number)
        if stored is not None:
            index = len(seen)
            if index >= len(stored.changes) or stored.changes[index]["hash"] != digest:
                raise _broken(ErrorCode.AUDIT_STORE_MISMATCH, number)
        seen.add(digest)
        prev = digest
    raise _broken(ErrorCode.AUDIT_LINES_MISSING, numbered[-1][0] + 1)
