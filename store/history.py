"""Each request's story, transition by transition, from the audit log (R15, R21).

The audit log already records every change with its time and actor (store/audit.py), so
the history is read from it rather than kept twice: the seller's page, the BC's list and
``requests --json`` all show these same rows. Unknown actions (added by later features)
still get a readable label, so a new transition never disappears from the story.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from sqlmodel import Session, col, select

from models.tables import AuditEvent
from models.views import RequestView, TransitionView
from models.wording import N_

# Actors the service itself writes for changes no person made (R11's expiry, a timer).
SYSTEM_ACTORS = frozenset({"system", "schedule", "timer"})

# audit_event.detail keys that say access ended on its own date (R23), whichever
# spelling the end-date feature records.
END_DATE_KEYS = ("until", "end_date", "ends_at", "access_until")


def label(action: str, actor: str, detail: dict[str, Any]) -> str:
    """One audited action on a request in English, for the ops CLI and API (R28: they stay
    English). Pages word a transition themselves from its action and data (``superseded_by``,
    ``reason``), so the two labels that carry data never reach a catalogue half-English."""
    if action == "requested":
        return N_("requested")
    if action == "resent":
        return N_("resent by e-mail")
    if action == "link_copied":
        return N_("link copied to send")
    if action == "approved":
        return N_("approved")
    if action == "expired":
        winner = detail.get("superseded_by")
        return f"expired: {winner} was approved first" if winner else N_("expired")
    if action == "cancelled":
        return N_("cancelled")
    if action == "declined":
        reason = detail.get("reason")
        return f"declined: {reason}" if reason else N_("declined")
    if action in ("revoked", "access_ended", "ended"):
        if detail.get("reason") in ("end_date", "until") or any(k in detail for k in END_DATE_KEYS):
            return N_("access ended by its end date")
        if actor in SYSTEM_ACTORS:
            return N_("access ended automatically")
        return N_("access removed")  # by the seller: the actor, shown beside it, says who
    if action == "reminded":
        return N_("reminder sent")
    return action.replace("_", " ")


def transitions(session: Session, request_ids: Iterable[str]) -> dict[str, list[TransitionView]]:
    """Every audited change of each request, oldest first (ties in the order written)."""
    ids = sorted(set(request_ids))
    found: dict[str, list[TransitionView]] = {i: [] for i in ids}
    if not ids:
        return found
    rows = session.exec(
        select(AuditEvent)
        .where(AuditEvent.entity == "access_request", col(AuditEvent.entity_id).in_(ids))
        .order_by(col(AuditEvent.at), col(AuditEvent.id))
    ).all()
    for row in rows:
        try:
            detail = json.loads(row.detail or "{}")
        except ValueError:  # an old or hand-written row: still part of the story
            detail = {}
        if not isinstance(detail, dict):
            detail = {}
        actor = "system" if row.actor in SYSTEM_ACTORS else row.actor
        found[row.entity_id].append(
            TransitionView(
                action=row.action,
                label=label(row.action, row.actor, detail),
                at=row.at,
                actor=actor,
                superseded_by=detail.get("superseded_by"),
                reason=detail.get("reason") if row.action == "declined" else None,
            )
        )
    return found


def with_transitions(session: Session, views: list[RequestView]) -> list[RequestView]:
    """``views`` with their ``transitions`` filled, in one query for all of them."""
    found = transitions(session, (v.request_id for v in views))
    return [v.model_copy(update={"transitions": found[v.request_id]}) for v in views]
