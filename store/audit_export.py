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

Both directions stream (R27; docs/decisions.md, "Exports and verification stream"): an
export is written as its rows are read, its trailer's count and digest taken on the way,
and a file is checked a line at a time against the store's run read in step with it, so
memory stays a batch of rows whatever the scope's size.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Generator, Iterable, Iterator, Mapping
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import ColumnElement, Engine, Row, String, and_, cast, func, or_, select
from sqlmodel import Session, col

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
from store.db import read_session
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


BATCH = 1000
"""Rows fetched at a time from the store: what an export or a check holds of the run."""

_COLUMNS = (
    col(AuditEvent.seq),
    col(AuditEvent.at),
    col(AuditEvent.actor),
    col(AuditEvent.entity),
    col(AuditEvent.entity_id),
    col(AuditEvent.action),
    col(AuditEvent.detail),
    col(AuditEvent.prev_hash),
    col(AuditEvent.hash),
)


@dataclass(frozen=True)
class Export:
    """One export's bounds, read before any of its lines: the scope's rows after
    ``after_seq`` up to ``last_seq``, ``count`` of them ending with ``head`` (the API
    answers both as headers before the body). :func:`changes` reads the lines."""

    scope: Scope
    since: datetime | None
    prev_line: str
    after_seq: int
    last_seq: int
    count: int
    head: str
    where: ColumnElement[bool] = field(repr=False, compare=False)

    def lines(
        self, changes: Iterable[Mapping[str, Any]], key: SigningKey, exported_at: datetime
    ) -> Iterator[str]:
        """The file's lines (without newlines): header, ``changes``, the signed trailer.
        The trailer's count, last hash and digest are taken as the lines go by, so they
        describe what was written, and nothing but the current line is held (R27)."""
        header = {
            "audit_export": FORMAT,
            "scope": self.scope.in_file(),
            "since": self.since.isoformat() if self.since else None,
            "prev_line": self.prev_line,
        }
        text = json.dumps(header, sort_keys=True)
        digest = hashlib.sha256(text.encode() + b"\n")
        yield text
        count, head = 0, self.prev_line
        for change in changes:
            text = json.dumps(change, sort_keys=True)
            digest.update(text.encode() + b"\n")
            count, head = count + 1, str(change["hash"])
            yield text
        trailer = {
            "end": True,
            "scope": self.scope.in_file(),
            "lines": count,
            "head": head,
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


@dataclass(frozen=True)
class _Start:
    """Where a scope's run begins: after the row ``after_seq``, whose hash is ``prev_line``
    (0 and GENESIS when the run starts with the scope's first row)."""

    where: ColumnElement[bool]
    after_seq: int
    prev_line: str


def _utc(at: datetime) -> datetime:
    """``at`` in UTC, naive meaning UTC as :func:`canonical_time` reads it: the column binds
    aware times only (UTCDateTime), compared as instants on PostgreSQL and as UTC text on
    SQLite, so the database picks the row the comparison of canonical times would."""
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def _start(session: Session, scope: Scope, since: datetime | None) -> _Start:
    """The scope's run from its first row at or after ``since`` (by ``seq``, as rows are
    ordered in the chain), found by the database rather than by reading the rows before."""
    where = scope_filter(session, scope)
    if since is None:
        return _Start(where, 0, GENESIS)
    seq = col(AuditEvent.seq)
    at_or_after = and_(where, col(AuditEvent.at) >= _utc(since))
    first = session.execute(select(func.min(seq)).where(at_or_after)).scalar()
    before = select(seq, col(AuditEvent.hash)).where(where)
    if first is not None:  # else every row is before ``since``: the run starts after them
        before = before.where(seq < first)
    row = session.execute(before.order_by(seq.desc()).limit(1)).first()
    return _Start(where, int(row[0]), str(row[1])) if row else _Start(where, 0, GENESIS)


def export(session: Session, scope: Scope, since: datetime | None = None) -> Export:
    """The bounds of the scope's run from the first row at or after ``since`` to the end
    of the chain as it is now; later rows are left to a later export."""
    start = _start(session, scope, since)
    seq = col(AuditEvent.seq)
    counted = select(func.count(), func.max(seq)).where(start.where, seq > start.after_seq)
    count, last = session.execute(counted).one()
    if last is None:
        return Export(scope, since, start.prev_line, start.after_seq, start.after_seq, 0,
                      start.prev_line, start.where)  # fmt: skip
    head = session.execute(select(col(AuditEvent.hash)).where(seq == last)).scalar_one()
    return Export(scope, since, start.prev_line, start.after_seq, int(last), int(count),
                  str(head), start.where)  # fmt: skip


def _rows(
    session: Session, where: ColumnElement[bool], after: int, upto: int | None = None
) -> Generator[Row[Any]]:
    """The scope's rows after seq ``after`` (to ``upto``), in chain order, fetched BATCH
    at a time (R27: memory is a batch, whatever the run's size). One query, streamed
    (``yield_per``: a server-side cursor on PostgreSQL, SQLite's own stepping), not a query
    per batch: SQLite plans a keyset page (``seq > ? ORDER BY seq LIMIT ?``) as it plans
    the whole read, by the entities' index and a sort, so each page would sort every
    remaining row of the scope again."""
    seq = col(AuditEvent.seq)
    query = select(*_COLUMNS).where(where, seq > after)
    if upto is not None:
        query = query.where(seq <= upto)
    result = session.execute(query.order_by(seq).execution_options(yield_per=BATCH))
    try:
        yield from result
    finally:
        result.close()


def changes(engine: Engine, made: Export) -> Iterator[dict[str, Any]]:
    """The export's change lines, read as they are asked for, in a read session of their
    own that ends with them (or when the reader stops: closing the generator closes the
    cursor, then the session). Rows up to ``made.last_seq`` never change (R27), so the
    lines are the run ``made`` counted, whatever was appended since."""
    with (
        read_session(engine) as session,
        closing(_rows(session, made.where, made.after_seq, made.last_seq)) as rows,
    ):
        prev = made.prev_line
        for row in rows:
            yield _line(row, prev)
            prev = row.hash


def _line(row: Row[Any], prev_line: str) -> dict[str, Any]:
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


def _stored_run(store: Session, header: _Header) -> Generator[Row[Any]]:
    """The scope's run in the store from the header's start, read in step with the file's
    lines (R27: a batch held, whatever the run's size); the header must link to it. Its
    checks raise here, before any line is read; the caller closes the run."""
    try:
        start = datetime.fromisoformat(header.since) if header.since else None
    except (TypeError, ValueError):
        raise _broken(ErrorCode.AUDIT_LINE_ALTERED, header.number) from None
    begun = _start(store, header.scope, start)
    if begun.prev_line != header.prev_line:
        raise _broken(ErrorCode.AUDIT_STORE_MISMATCH, header.number)
    return _rows(store, begun.where, begun.after_seq)


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

    ``texts`` is read once, a line at a time, and the store's run in step with it: what
    is held is the current line and a batch of stored rows, not the file (R27).
    """
    numbered = ((n, t) for n, t in enumerate(texts, start=1) if t.strip())
    first = next(numbered, None)
    if first is None:
        raise _broken(ErrorCode.AUDIT_NOT_AN_EXPORT, 1)
    header = _header(*first)
    stored = _stored_run(store, header) if store is not None else None
    if store is not None and keys is None:
        keys = verifying_keys(store)
    digest = hashlib.sha256(first[1].encode() + b"\n")
    try:
        return _lines_checked(header, digest, numbered, stored, keys, store is None)
    finally:
        if stored is not None:
            stored.close()  # its cursor, now: the caller's session ends next


def _lines_checked(
    header: _Header,
    digest: Any,
    numbered: Iterator[tuple[int, str]],
    stored: Iterator[Row[Any]] | None,
    keys: Keys | None,
    offline: bool,
) -> Verified:
    """The lines after the header, in :func:`verify_lines`' order of checks; ``digest``
    has the header in it."""
    prev, count, number = header.prev_line, 0, header.number
    for number, text in numbered:
        line = _parse(number, text)
        if line.get("end") is True:
            verified = _ended(line, number, header, count, prev, digest.hexdigest(), keys, offline)
            _nothing_after(number, numbered)
            return verified
        digest.update(text.encode() + b"\n")
        recomputed = _recomputed(line, header.version)
        if recomputed is None or recomputed != line.get("hash"):
            raise _broken(ErrorCode.AUDIT_LINE_ALTERED, number)
        # A line repeated or moved breaks this link (its own, or the next line's): the
        # chain needs no memory of the hashes already seen.
        if line.get("prev_line") != prev:
            raise _broken(ErrorCode.AUDIT_LINE_OUT_OF_CHAIN, number)
        if stored is not None:
            row = next(stored, None)
            if row is None or row.hash != recomputed:
                raise _broken(ErrorCode.AUDIT_STORE_MISMATCH, number)
        prev, count = recomputed, count + 1
    raise _broken(ErrorCode.AUDIT_LINES_MISSING, number + 1)


def _nothing_after(trailer: int, rest: Iterator[tuple[int, str]]) -> None:
    """Lines after the trailer are refused, naming the file's last non-empty line."""
    last = trailer
    for number, _text in rest:
        last = number
    if last != trailer:
        raise _broken(ErrorCode.AUDIT_LINE_ALTERED, last)
