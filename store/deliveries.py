"""The e-mail delivery records (R20's "never twice"): one row per business key, claimed
before the message is sent, marked sent in the transaction that ends the send, or marked
rejected for good. activities.delivery.deliver_once decides when each runs; these are the
statements, each on the caller's session and transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, or_, select

from models.tables import EmailDelivery, utcnow

# On the table, not the mapped class: an insert on the class takes the ORM's bulk path,
# which costs more CPU than the statement itself (docs/performance.md).
_TABLE = EmailDelivery.__table__  # type: ignore[attr-defined]

# A claim never overwrites: the first claim's time stays the message's Date on a repeat.
_CLAIM = {
    "sqlite": sqlite_insert(_TABLE).on_conflict_do_nothing(index_elements=["key"]),
    "postgresql": postgresql_insert(_TABLE).on_conflict_do_nothing(index_elements=["key"]),
}


def _claimed_and_sent(insert: Any) -> Any:
    statement = insert(_TABLE)
    return statement.on_conflict_do_update(
        index_elements=["key"], set_={"sent_at": statement.excluded.sent_at}
    )


# Claim and mark sent in one statement, for a transport whose repeat is harmless.
_CLAIM_SENT = {
    "sqlite": _claimed_and_sent(sqlite_insert),
    "postgresql": _claimed_and_sent(postgresql_insert),
}
_STATE = select(EmailDelivery.created_at, EmailDelivery.sent_at, EmailDelivery.rejected).where(
    EmailDelivery.key == bindparam("key")
)


def claim(
    session: Session, *, key: str, to_addr: str, subject: str, message_id: str
) -> datetime | None:
    """Claim ``key`` (a row with no ``sent_at``) unless claimed already; the claim's time if
    the message still needs sending, None if it was sent or rejected for good."""
    row = _row(key, to_addr, subject, message_id, utcnow())
    session.exec(_CLAIM[session.get_bind().dialect.name], params=row)
    created_at, sent_at, rejected = session.exec(_STATE, params={"key": key}).one()
    return created_at if sent_at is None and rejected is None else None


def claim_sent(session: Session, *, key: str, to_addr: str, subject: str, message_id: str) -> None:
    """Record ``key`` as sent now, claimed now unless claimed before (the first claim's
    time stays): :func:`claim` then :func:`mark_sent` in one statement, for the outbox,
    whose repeat rewrites the same file and so needs no claim before the write."""
    now = utcnow()
    row = {**_row(key, to_addr, subject, message_id, now), "sent_at": now}
    session.exec(_CLAIM_SENT[session.get_bind().dialect.name], params=row)  # type: ignore[call-overload]


def _row(key: str, to_addr: str, subject: str, message_id: str, now: datetime) -> dict[str, Any]:
    """A claim's columns, cut to what they hold."""
    return {
        "key": key,
        "to_addr": to_addr[:320],
        "subject": subject[:300],
        "message_id": message_id,
        "created_at": now,
    }


# Built once with bound parameters: building a statement costs as much as running it
# on SQLite, and every e-mail runs these (docs/performance.md).
_MARK_SENT = (
    update(EmailDelivery)
    .where(col(EmailDelivery.key) == bindparam("b_key"))
    .values(sent_at=bindparam("b_sent_at"))
)
_MARK_REJECTED = (
    update(EmailDelivery)
    .where(and_(col(EmailDelivery.key) == bindparam("b_key"), col(EmailDelivery.sent_at).is_(None)))
    .values(rejected=bindparam("b_rejected"))
)


def mark_sent(session: Session, key: str) -> None:
    session.exec(_MARK_SENT, params={"b_key": key, "b_sent_at": utcnow()})  # type: ignore[call-overload]


def mark_rejected(session: Session, key: str, reason: str) -> None:
    """Record a permanent refusal, unless the key was sent meanwhile."""
    session.exec(  # type: ignore[call-overload]
        _MARK_REJECTED, params={"b_key": key, "b_rejected": reason[:300]}
    )


def delivered(session: Session, keys: Iterable[str]) -> set[str]:
    """Which of ``keys`` need no more sending (sent, or refused for good): for activities
    that read their context in one session anyway, so a retry renders nothing twice."""
    wanted = list(keys)
    if not wanted:
        return set()
    return set(
        session.exec(
            select(EmailDelivery.key).where(
                col(EmailDelivery.key).in_(wanted),
                or_(
                    col(EmailDelivery.sent_at).is_not(None),
                    col(EmailDelivery.rejected).is_not(None),
                ),
            )
        ).all()
    )
