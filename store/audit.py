"""The append-only audit log (R21): every state change with its time and actor, written
as one hash chain (R27, docs/audit.md).

Each row gets the next ``seq``, the hash of the row before (``prev_hash``) and its own
``hash`` over its fields and ``prev_hash``, inside the writing transaction. The next seq
and the previous hash come from the one-row ``audit_chain_head``, taken with an UPDATE:
that locks the row on PostgreSQL until commit, and SQLite's write transactions already
hold the database's writer lock (store/db.py), so two writers can never take the same
previous hash.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col
from sqlmodel import select as sm_select

from models.tables import AuditChainHead, AuditEvent, utcnow

GENESIS = "0" * 64
"""The previous hash of the first row of a chain."""

# Core statements on the tables: the log is append-only and nothing reads the row back
# in the same transaction, so the ORM's unit of work, or its bulk path that an insert on
# the mapped class takes, would only add CPU (docs/performance.md).
_INSERT = insert(AuditEvent.__table__)  # type: ignore[attr-defined]
_HEAD = AuditChainHead.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Change:
    """One change to record; ``detail`` must be JSON-able (others are stored as text)."""

    actor: str
    entity: str
    entity_id: str | int
    action: str
    at: datetime | None = None
    detail: Mapping[str, Any] | None = None


def canonical_time(at: datetime) -> str:
    """``at`` as the hash sees it: UTC, microseconds, so both engines give the same text."""
    if at.tzinfo is None:  # stored naive means UTC (models/tables.py)
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def canonical_detail(detail: Mapping[str, Any] | None) -> str:
    return json.dumps(dict(detail or {}), default=str, sort_keys=True)


def row_hash(
    *,
    seq: int,
    at: datetime | str,
    actor: str,
    entity: str,
    entity_id: str,
    action: str,
    detail: str,
    prev_hash: str,
) -> str:
    """SHA-256 over a canonical JSON list of the row's fields and the previous hash.

    ``detail`` is the canonical text (:func:`canonical_detail`); an export carries the
    parsed object, and a verifier gets the same text back by dumping it with sorted keys.
    """
    when = at if isinstance(at, str) else canonical_time(at)
    text = json.dumps(
        [seq, when, actor, entity, entity_id, action, detail, prev_hash],
        separators=(",", ":"),
        ensure_ascii=True,
    )
    return hashlib.sha256(text.encode()).hexdigest()


# Built once (audit rows are on every store step's path): take ``n`` seqs and the lock.
_TAKE = (
    update(_HEAD)
    .where(_HEAD.c.id == 1)
    .values(seq=_HEAD.c.seq + bindparam("n"))
    .returning(_HEAD.c.seq, _HEAD.c.hash)
)
# ... and leave the last row's hash there.
_SET_HASH = update(_HEAD).where(_HEAD.c.id == 1).values(hash=bindparam("last_hash"))


def record(
    session: Session,
    *,
    actor: str,
    entity: str,
    entity_id: str | int,
    action: str,
    at: datetime | None = None,
    **detail: Any,
) -> None:
    record_many(session, [Change(actor, entity, entity_id, action, at, detail)])


def record_many(session: Session, changes: Iterable[Change]) -> None:
    """Append ``changes`` to the chain, in order, in the caller's transaction."""
    batch = list(changes)
    if not batch:
        return
    # One UPDATE takes the head's lock and the next seqs (3 statements a batch in all).
    take = {"n": len(batch)}
    row = session.execute(_TAKE, take).one_or_none()
    if row is None:
        _start_chain(session)
        row = session.execute(_TAKE, take).one()
    last_seq, prev = int(row[0]), str(row[1])
    params: list[dict[str, Any]] = []
    for n, change in enumerate(batch):
        seq = last_seq - len(batch) + 1 + n
        fields: dict[str, Any] = {
            "seq": seq,
            "at": change.at or utcnow(),
            "actor": change.actor,
            "entity": change.entity,
            "entity_id": str(change.entity_id),
            "action": change.action,
            "detail": canonical_detail(change.detail),
            "prev_hash": prev,
        }
        fields["hash"] = prev = row_hash(**fields)
        params.append(fields)
    session.execute(_INSERT, params)
    session.execute(_SET_HASH, {"last_hash": prev})


def _start_chain(session: Session) -> None:
    """Put back the head of an emptied log (the migration writes it; tests empty tables).
    A log with rows but no head was tampered with: refuse to write rather than fork."""
    if session.execute(select(col(AuditEvent.id)).limit(1)).first() is not None:
        raise RuntimeError(
            "The audit log has rows but no audit_chain_head: the chain cannot be extended "
            "safely; see docs/audit.md."
        )
    try:
        with session.begin_nested():
            session.execute(insert(_HEAD).values(id=1, seq=0, hash=GENESIS))
    except IntegrityError:
        pass  # another writer put it back first; its row is locked, then read, by the caller


@dataclass(frozen=True)
class ChainHead:
    seq: int
    hash: str


def head(session: Session) -> ChainHead:
    row = session.execute(select(_HEAD.c.seq, _HEAD.c.hash).where(_HEAD.c.id == 1)).one()
    return ChainHead(int(row[0]), str(row[1]))


def first_broken_seq(session: Session, batch: int = 5000) -> int | None:
    """The first row whose hash or link does not hold, walking the whole chain; None if
    every row holds and the head names the last one. For ops (`audit check-store`)."""
    prev, expected, after = GENESIS, 1, 0
    while True:
        rows = session.exec(
            sm_select(AuditEvent)
            .where(col(AuditEvent.seq) > after)
            .order_by(col(AuditEvent.seq))
            .limit(batch)
        ).all()
        if not rows:
            break
        for r in rows:
            fields: dict[str, Any] = {
                "seq": r.seq,
                "at": r.at,
                "actor": r.actor,
                "entity": r.entity,
                "entity_id": r.entity_id,
                "action": r.action,
                "detail": r.detail,
                "prev_hash": r.prev_hash,
            }
            if r.seq != expected or r.prev_hash != prev or row_hash(**fields) != r.hash:
                return int(expected)
            prev, expected, after = r.hash, expected + 1, r.seq
    top = head(session)
    if top.seq != expected - 1 or top.hash != prev:
        return expected
    return None
