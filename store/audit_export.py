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

Format 2 (R30, R32) signs the trailer with the store's Ed25519 key over the scope, the
count, the last hash, a SHA-256 digest of every line above it and the time of export, so a
holder of the public key alone tells a complete file from one cut short or rewritten; and
it carries ids beyond 2^53 as strings (``detail``), with the hashed text beside them
(``detail_json``). Format 1 files (unsigned, ``detail`` as hashed) still verify against
the store.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
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
from store.audit_keys import SigningKey, verifying_keys
from store.people import require_bc, require_shop_by_code

FORMAT = 2
"""The line format an export is written in (docs/audit.md, "Format versions")."""
UNSIGNED_FORMAT = 1
"""Exports made before signing: read and verified against the store, as ever."""
MAX_SAFE_INTEGER = 2**53 - 1
"""Beyond this, a JSON number loses digits in JavaScript and other float-based parsers."""


@dataclass(frozen=True)
class Scope:
    """A shop (by code) or a Business Center (by id); exactly one is set."""

    shop_code: str | None = None
    bc_id: int | None = None

    def as_json(self) -> dict[str, Any]:
        return {"shop_code": self.shop_code} if self.shop_code else {"bc_id": self.bc_id}

    def in_file(self) -> dict[str, Any]:
        """The scope as an export (format 2) writes it: a BC id as a string (R30)."""
        return {"shop_code": self.shop_code} if self.shop_code else {"bc_id": str(self.bc_id)}

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Scope:
        """A header's scope, either format (format 1 wrote the BC id as a number)."""
        code, bc = raw.get("shop_code"), raw.get("bc_id")
        if isinstance(code, str) and code and bc is None:
            return cls(shop_code=code)
        digits = isinstance(bc, int | str) and not isinstance(bc, bool) and str(bc).isdigit()
        if digits and code is None:
            return cls(bc_id=int(str(bc)))
        raise ValueError("not a scope")


def readable(value: Any) -> Any:
    """``value`` with every integer beyond 2^53 as a string (R30), for readers whose JSON
    numbers are doubles; the hash covers the original text (``detail_json``)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and abs(value) > MAX_SAFE_INTEGER:
        return str(value)
    if isinstance(value, dict):
        return {k: readable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [readable(v) for v in value]
    return value


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

    def lines(self, key: SigningKey, exported_at: datetime) -> Iterator[str]:
        """The file's lines (without newlines): header, changes, the signed trailer."""
        header = {
            "audit_export": FORMAT,
            "scope": self.scope.in_file(),
            "since": self.since.isoformat() if self.since else None,
            "prev_line": self.prev_line,
        }
        digest = hashlib.sha256()
        for line in (header, *self.changes):
            text = json.dumps(line, sort_keys=True)
            digest.update(text.encode() + b"\n")
            yield text
        trailer = {
            "end": True,
            "scope": self.scope.in_file(),
            "lines": len(self.changes),
            "head": self.head,
            "digest": digest.hexdigest(),
            "exported_at": canonical_time(exported_at),
            "key_id": key.key_id,
        }
        signature = key.sign(signed_text(trailer))
        yield json.dumps(
            {**trailer, "signature": base64.b64encode(signature).decode()}, sort_keys=True
        )


def signed_text(trailer: Mapping[str, Any]) -> bytes:
    """What the signature covers: the trailer without its signature as sorted JSON with
    Python's default separators, i.e. the trailer line as written with its last member
    ``, "signature": "…"`` cut out (docs/audit.md checks it with openssl)."""
    unsigned = {k: v for k, v in trailer.items() if k != "signature"}
    return json.dumps(unsigned, sort_keys=True).encode()


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
        "detail": readable(json.loads(row.detail)),
        "detail_json": row.detail,
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
    format: int
    signed_by: str | None
    """The key id whose signature was checked; None when none was (format 1, file only)."""
    exported_at: str | None


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


def _recomputed(line: dict[str, Any], version: int) -> str | None:
    try:
        if version == UNSIGNED_FORMAT:
            detail = json.dumps(line["detail"], sort_keys=True)
        else:
            detail = line["detail_json"]
            # The readable copy must say what the hashed text says.
            if not isinstance(detail, str) or line["detail"] != readable(json.loads(detail)):
                return None
        return row_hash(
            seq=int(line["seq"]),
            at=str(line["at"]),
            actor=str(line["actor"]),
            entity=str(line["entity"]),
            entity_id=str(line["entity_id"]),
            action=str(line["action"]),
            detail=detail,
            prev_hash=str(line["prev_hash"]),
        )
    except (KeyError, TypeError, ValueError):
        return None


Keys = Mapping[str, Ed25519PublicKey]


def _check_signature(
    trailer: dict[str, Any], number: int, scope: Scope, digest: str, keys: Keys | None
) -> str | None:
    """The signed trailer's checks (R32), in the order that names what happened: the
    signature (a trailer recomputed after a cut, an altered signature, another key),
    then what it signs against the lines above it. Returns the key id checked."""
    key_id = trailer.get("key_id")
    if keys is not None:
        key = keys.get(key_id) if isinstance(key_id, str) else None
        if key is None:
            given = ", ".join(sorted(keys)) or "none"
            raise _broken(
                ErrorCode.AUDIT_SIGNATURE_INVALID,
                number,
                reason="unknown_key",
                key_id=str(key_id),
                given=given,
            )
        try:
            signature = base64.b64decode(str(trailer.get("signature")), validate=True)
            key.verify(signature, signed_text(trailer))
        except (InvalidSignature, binascii.Error, ValueError):
            raise _broken(ErrorCode.AUDIT_SIGNATURE_INVALID, number, key_id=key_id) from None
    if trailer.get("digest") != digest or trailer.get("scope") != scope.in_file():
        raise _broken(ErrorCode.AUDIT_SIGNATURE_INVALID, number, reason="digest")
    return key_id if keys is not None else None


@dataclass(frozen=True)
class _Header:
    number: int
    version: int
    scope: Scope
    since: str | None
    prev_line: str


def _header(number: int, text: str) -> _Header:
    header = _parse(number, text)
    version, scope_raw = header.get("audit_export"), header.get("scope")
    if version not in (UNSIGNED_FORMAT, FORMAT) or not isinstance(scope_raw, dict):
        raise _broken(ErrorCode.AUDIT_NOT_AN_EXPORT, number)
    try:
        scope = Scope.from_json(scope_raw)
    except ValueError:
        raise _broken(ErrorCode.AUDIT_NOT_AN_EXPORT, number) from None
    since = header.get("since")
    return _Header(number, int(version), scope, since, str(header.get("prev_line")))


def _stored_run(store: Session, header: _Header) -> Export:
    """The scope's run in the store from the header's start; the header must link to it."""
    try:
        start = datetime.fromisoformat(header.since) if header.since else None
    except (TypeError, ValueError):
        raise _broken(ErrorCode.AUDIT_LINE_ALTERED, header.number) from None
    stored = export(store, header.scope, start)
    if stored.prev_line != header.prev_line:
        raise _broken(ErrorCode.AUDIT_STORE_MISMATCH, header.number)
    return stored


def _ended(
    trailer: dict[str, Any],
    number: int,
    header: _Header,
    count: int,
    head: str,
    digest: str,
    keys: Keys | None,
    offline: bool,
) -> Verified:
    """The trailer's checks, once every line above it held."""
    if trailer.get("lines") != count or trailer.get("head") != head:
        # The trailer counts what was exported: fewer lines means some went missing at
        # the end (or the trailer was altered).
        raise _broken(ErrorCode.AUDIT_LINES_MISSING, number)
    signed_by: str | None = None
    if header.version == FORMAT:
        signed_by = _check_signature(trailer, number, header.scope, digest, keys)
    elif keys is not None and offline:
        # Offline, only a signature tells a whole file from a cut one.
        raise _broken(ErrorCode.AUDIT_SIGNATURE_INVALID, number, reason="unsigned")
    exported_at = trailer.get("exported_at")
    return Verified(
        header.scope,
        header.since,
        count,
        head,
        header.version,
        signed_by,
        exported_at if isinstance(exported_at, str) else None,
    )


def verify_lines(
    texts: Iterable[str], store: Session | None = None, keys: Keys | None = None
) -> Verified:
    """Check an export, line by line; raise a Refusal naming the first bad line (1-based,
    as an editor counts) or return what the file covers.

    With ``store``, each line must also be the store's row at that place in the scope's
    run (the file may end before the store does: later changes are not in it), and the
    trailer's signature must verify with one of the store's keys. Without it, ``keys``
    (by key id) check the signature offline; with neither, only the file's own links and
    digest are checked. Per line, the checks run in this order, so the code says what
    happened to the first bad line: altered (content vs. its hash), out of chain (removed
    or moved), not in the store (rewritten with fresh hashes); then the trailer: lines
    missing (count or last hash), then its signature.
    """
    numbered = [(n, t) for n, t in enumerate(texts, start=1) if t.strip()]
    if not numbered:
        raise _broken(ErrorCode.AUDIT_NOT_AN_EXPORT, 1)
    header = _header(*numbered[0])
    stored = _stored_run(store, header) if store is not None else None
    if store is not None and keys is None:
        keys = verifying_keys(store)
    prev = header.prev_line
    digest = hashlib.sha256(numbered[0][1].encode() + b"\n")
    seen: set[str] = set()
    for number, text in numbered[1:]:
        line = _parse(number, text)
        if line.get("end") is True:
            verified = _ended(
                line, number, header, len(seen), prev, digest.hexdigest(), keys, store is None
            )
            if number != numbered[-1][0]:  # lines after the trailer
                raise _broken(ErrorCode.AUDIT_LINE_ALTERED, numbered[-1][0])
            return verified
        digest.update(text.encode() + b"\n")
        recomputed = _recomputed(line, header.version)
        if recomputed is None or recomputed != line.get("hash"):
            raise _broken(ErrorCode.AUDIT_LINE_ALTERED, number)
        if line.get("prev_line") != prev or recomputed in seen:
            raise _broken(ErrorCode.AUDIT_LINE_OUT_OF_CHAIN, number)
        if stored is not None:
            index = len(seen)
            if index >= len(stored.changes) or stored.changes[index]["hash"] != recomputed:
                raise _broken(ErrorCode.AUDIT_STORE_MISMATCH, number)
        seen.add(recomputed)
        prev = recomputed
    raise _broken(ErrorCode.AUDIT_LINES_MISSING, numbered[-1][0] + 1)
