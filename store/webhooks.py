"""Webhook subscriptions, their events and their delivery log (R26, R30, docs/webhooks.md).

Events are the audit rows (R21) of a subscription's scope (a shop or a BC, the same scopes
as the audit export) whose entity is a request, grant or share, assignment, invitation or
removal. An event's id is its place in the audit chain (``evt_<seq>``), so every attempt
and every replay of one change carries the same id, and a receiver recognises repeats.

Signatures follow Standard Webhooks (standardwebhooks.com): the ``webhook-id``,
``webhook-timestamp`` and ``webhook-signature`` headers, ``v1,<base64 HMAC-SHA256>`` over
``<id>.<timestamp>.<body>``, keyed by the bytes behind a ``whsec_<base64>`` secret. During
a rotation's overlap the header carries two signatures, new and previous, space-separated,
so receivers verify with either secret.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import uuid
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from models.errors import ErrorCode, Refusal
from models.fields import ids_as_strings
from models.tables import AuditChainHead, AuditEvent, WebhookDelivery, WebhookSubscription, utcnow
from store import audit
from store.audit import canonical_time
from store.audit_export import Scope, scope_filter

EVENT_ENTITIES = (
    "access_request",
    "shop_grant",
    "member_assignment",
    "invitation",
    "access_removal",
)
ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"
SECRET_PREFIX = "whsec_"
# Standard Webhooks' advice for a secret's key: 24 to 64 random bytes. Ours are 32.
SECRET_BYTES = (24, 64)
MAX_OVERLAP = timedelta(days=30)
PENDING, DELIVERED, FAILED, REPLAY = "pending", "delivered", "failed", "replay"


def event_id(seq: int) -> str:
    return f"evt_{seq}"


def _check_url(url: str) -> str:
    """The URL's form only; R31's check of where it leads needs the resolver and the
    settings, so client/webhooks.py makes it (client/safe_targets.py)."""
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or len(url) > 2000:
        raise Refusal(
            ErrorCode.INVALID_INPUT,
            "--url must be an https:// (or, where allowed, http://) address with a host.",
            field="url",
        )
    return url


def secret_key(secret: str) -> bytes:
    """The HMAC key behind a ``whsec_<base64>`` secret; ValueError if it is not one."""
    if not secret.startswith(SECRET_PREFIX):
        raise ValueError("not a whsec_ secret")
    try:
        return base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    except binascii.Error:
        raise ValueError("not base64 after whsec_") from None


def check_secret(secret: str) -> str:
    """A secret given by ops: ``whsec_`` and 24 to 64 bytes in base64 (Standard Webhooks)."""
    secret = secret.strip()
    try:
        size = len(secret_key(secret))
    except ValueError:
        size = 0
    low, high = SECRET_BYTES
    if not low <= size <= high:
        raise Refusal(
            ErrorCode.INVALID_INPUT,
            f"--secret must be whsec_ followed by {low} to {high} random bytes in base64, as "
            "Standard Webhooks secrets are (or leave it out to get a random one).",
            field="secret",
        )
    return secret


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def check_subscription(
    session: Session, *, scope: Scope, url: str, secret: str | None = None
) -> str:
    """Refuse a bad URL or secret, or an unknown shop or BC; the URL as it will be kept."""
    url = _check_url(url)
    if secret is not None:
        check_secret(secret)
    scope_filter(session, scope)  # refuses an unknown shop or BC
    return url


def add_subscription(
    session: Session,
    *,
    scope: Scope,
    url: str,
    created_by: str,
    secret: str | None = None,
    subscription_id: str | None = None,
) -> WebhookSubscription:
    """A new subscription, receiving the scope's changes made from now on.

    ``subscription_id``: the id a keyed API call names for every attempt (R30); a retry
    whose first attempt wrote the row before failing finds it and answers it, where a
    second subscription would send every event twice."""
    if subscription_id is not None and (done := session.get(WebhookSubscription, subscription_id)):
        return done
    url = check_subscription(session, scope=scope, url=url, secret=secret)
    head = session.get(AuditChainHead, 1)
    sub = WebhookSubscription(
        id=subscription_id or "whk_" + uuid.uuid4().hex[:20],
        shop_code=scope.shop_code,
        bc_id=scope.bc_id,
        url=url,
        secret=secret.strip() if secret else new_secret(),
        start_seq=head.seq if head else 0,
        created_by=created_by,
    )
    session.add(sub)
    session.flush()
    audit.record(
        session,
        actor=created_by,
        entity="webhook_subscription",
        entity_id=sub.id,
        action="added",
        url=url,
        **scope.as_json(),
    )
    return sub


def require_subscription(session: Session, subscription_id: str) -> WebhookSubscription:
    sub = session.get(WebhookSubscription, subscription_id.strip())
    if sub is None:
        raise Refusal(ErrorCode.UNKNOWN_WEBHOOK, None, subscription_id=subscription_id.strip())
    return sub


def remove_subscription(session: Session, subscription_id: str, by: str) -> WebhookSubscription:
    """Stop sending; the dispatcher notices within a second and ends. Idempotent."""
    sub = require_subscription(session, subscription_id)
    if sub.removed_at is None:
        sub.removed_at = utcnow()
        session.add(sub)
        audit.record(
            session, actor=by, entity="webhook_subscription", entity_id=sub.id, action="removed"
        )
    return sub


def subscriptions(session: Session) -> list[WebhookSubscription]:
    return list(
        session.exec(select(WebhookSubscription).order_by(col(WebhookSubscription.created_at)))
    )


def scope_of(sub: WebhookSubscription) -> Scope:
    return Scope(shop_code=sub.shop_code, bc_id=sub.bc_id)


def head_seq(session: Session) -> int:
    head = session.get(AuditChainHead, 1)
    return head.seq if head else 0


def events_after(
    session: Session, sub: WebhookSubscription, after_seq: int, limit: int
) -> list[int]:
    """The seqs of the subscription's next events, in chain order."""
    where = scope_filter(session, scope_of(sub))
    rows = session.execute(
        sa_select(col(AuditEvent.seq))
        .where(
            col(AuditEvent.seq) > max(after_seq, sub.start_seq),
            col(AuditEvent.entity).in_(EVENT_ENTITIES),
            where,
        )
        .order_by(col(AuditEvent.seq))
        .limit(limit)
    ).scalars()
    return [int(s) for s in rows]


def replays(session: Session, subscription_id: str) -> list[int]:
    rows = session.execute(
        sa_select(col(WebhookDelivery.seq))
        .where(
            col(WebhookDelivery.subscription_id) == subscription_id,
            col(WebhookDelivery.status) == REPLAY,
        )
        .order_by(col(WebhookDelivery.seq))
    ).scalars()
    return [int(s) for s in rows]


def event_body(row: AuditEvent, sub: WebhookSubscription) -> dict[str, Any]:
    """What a receiver gets: id, type, time, the entity and the change's details, with
    every id a string (R30: receivers are often JavaScript)."""
    return ids_as_strings(
        {
            "id": event_id(row.seq),
            "type": f"{row.entity}.{row.action}",
            "time": canonical_time(row.at),
            "actor": row.actor,
            "entity": {"type": row.entity, "id": row.entity_id},
            "data": json.loads(row.detail),
            "subscription": {"id": sub.id, **scope_of(sub).as_json()},
            "audit": {"seq": row.seq, "hash": row.hash},
        }
    )


def event_row(session: Session, seq: int) -> AuditEvent:
    row = session.exec(select(AuditEvent).where(col(AuditEvent.seq) == seq)).one()
    return row


def signing_secrets(sub: WebhookSubscription, now: datetime | None = None) -> list[str]:
    """The secrets that sign now: the current one, and the previous one during a
    rotation's overlap."""
    until = sub.previous_secret_until
    if sub.previous_secret and until is not None and (now or utcnow()) < until:
        return [sub.secret, sub.previous_secret]
    return [sub.secret]


def sign(keys: list[str], msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value: ``v1,<base64>`` per secret, space-separated."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return " ".join(
        "v1," + base64.b64encode(hmac.new(secret_key(k), signed, hashlib.sha256).digest()).decode()
        for k in keys
    )


def signed_headers(
    keys: list[str], msg_id: str, body: bytes, timestamp: int
) -> list[tuple[str, str]]:
    """The three Standard Webhooks headers of one attempt."""
    return [
        (ID_HEADER, msg_id),
        (TIMESTAMP_HEADER, str(timestamp)),
        (SIGNATURE_HEADER, sign(keys, msg_id, timestamp, body)),
    ]


def rotate_secret(
    session: Session, subscription_id: str, *, by: str, overlap: timedelta, secret: str | None
) -> WebhookSubscription:
    """A new signing secret; the current one keeps signing beside it for ``overlap``, so
    receivers can switch without missing an event. Only two at a time: rotating again
    during an overlap ends the older one."""
    if not timedelta(0) <= overlap <= MAX_OVERLAP:
        raise Refusal(
            ErrorCode.INVALID_INPUT,
            f"--overlap-hours must be from 0 to {MAX_OVERLAP / timedelta(hours=1):g}.",
            field="overlap_hours",
        )
    new = check_secret(secret) if secret is not None else new_secret()
    sub = require_subscription(session, subscription_id)
    session.refresh(sub, with_for_update=True)
    if sub.removed_at is not None:
        raise Refusal(ErrorCode.WEBHOOK_REMOVED, None, subscription_id=sub.id)
    until = utcnow() + overlap if overlap else None
    sub.previous_secret = sub.secret if until else None
    sub.previous_secret_until = until
    sub.secret = new
    session.add(sub)
    audit.record(
        session,
        actor=by,
        entity="webhook_subscription",
        entity_id=sub.id,
        action="secret_rotated",  # never the secrets themselves
        overlap_until=canonical_time(until) if until else None,
    )
    return sub


def record_attempt(
    session: Session,
    *,
    sub: WebhookSubscription,
    row: AuditEvent,
    status_code: int | None,
    error: str | None,
    at: datetime | None = None,
) -> WebhookDelivery:
    now = at or utcnow()
    entry = session.get(WebhookDelivery, (sub.id, row.seq), with_for_update=True)
    if entry is None:
        entry = WebhookDelivery(
            subscription_id=sub.id,
            seq=row.seq,
            event_id=event_id(row.seq),
            event_type=f"{row.entity}.{row.action}",
            status=PENDING,
        )
    entry.attempts += 1
    entry.last_status_code = status_code
    entry.last_error = error[:500] if error else None
    entry.last_attempt_at = now
    if error is None:
        entry.status, entry.delivered_at = DELIVERED, now
    elif entry.status == REPLAY:
        entry.status = PENDING  # the replay is under way; its retries are the workflow's
    session.add(entry)
    return entry


def give_up(session: Session, subscription_id: str, seq: int, reason: str) -> None:
    entry = session.get(WebhookDelivery, (subscription_id, seq), with_for_update=True)
    if entry is not None and entry.status != DELIVERED:
        entry.status = FAILED
        entry.last_error = reason[:500]
        session.add(entry)


def ask_replay(
    session: Session, subscription_id: str, event: str, by: str = "ops"
) -> WebhookDelivery:
    """Send one logged event again, with the same id (for a receiver that lost it).
    Audited like every change (R21); the audit row also moves the chain's head, which is
    what wakes the subscription's waiting dispatcher (activities/webhooks.py)."""
    sub = require_subscription(session, subscription_id)
    raw = event.strip().removeprefix("evt_")
    entry = (
        session.get(WebhookDelivery, (sub.id, int(raw)), with_for_update=True)
        if raw.isdigit()
        else None
    )
    if entry is None:
        raise Refusal(
            ErrorCode.UNKNOWN_WEBHOOK_EVENT, None, subscription_id=sub.id, event_id=event.strip()
        )
    if sub.removed_at is not None:
        raise Refusal(ErrorCode.WEBHOOK_REMOVED, None, subscription_id=sub.id)
    entry.status = REPLAY
    session.add(entry)
    audit.record(
        session,
        actor=by,
        entity="webhook_subscription",
        entity_id=sub.id,
        action="replay_asked",
        event_id=entry.event_id,
    )
    return entry


def deliveries(session: Session, subscription_id: str, limit: int = 100) -> list[WebhookDelivery]:
    sub = require_subscription(session, subscription_id)
    return list(
        session.exec(
            select(WebhookDelivery)
            .where(col(WebhookDelivery.subscription_id) == sub.id)
            .order_by(col(WebhookDelivery.seq).desc())
            .limit(limit)
        )
    )
