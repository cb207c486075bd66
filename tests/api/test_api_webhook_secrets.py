"""R30 over the ops API: subscriptions get Standard Webhooks secrets, and
``POST /webhooks/{id}/rotate-secret`` shows a new one once while the previous one keeps
signing for the overlap. Each refusal checks status, code, message and that nothing moved
(the secrets and the audit trail).
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import Engine
from sqlmodel import col, func, select

from models.tables import AuditEvent, WebhookSubscription
from store import webhooks
from store.db import read_session
from tests.api.conftest import error_of
from tests.api.test_api_records import reader
from tests.conftest import AGENCY

__all__ = ["reader"]  # the read-token client fixture (tests/api/test_api_records.py)

pytestmark = pytest.mark.asyncio(loop_scope="session")


def state(engine: Engine, sub_id: str) -> tuple[Any, ...]:
    with read_session(engine) as session:
        sub = session.get(WebhookSubscription, sub_id)
        assert sub is not None
        audited = session.exec(select(func.count()).select_from(AuditEvent)).one()
        return sub.secret, sub.previous_secret, sub.previous_secret_until, audited


async def test_r30_a_rotated_secret_is_shown_once_and_the_old_one_signs_for_the_overlap(
    api: httpx.AsyncClient, reader: httpx.AsyncClient, demo: Engine
) -> None:
    added = await api.post("/webhooks", json={"bc_id": str(AGENCY), "url": "http://127.0.0.1:9/h"})
    assert added.status_code == 201, added.text
    sub_id, first = added.json()["id"], added.json()["secret"]
    assert len(webhooks.secret_key(first)) == 32  # whsec_ and 32 random bytes
    try:
        rotated = await api.post(f"/webhooks/{sub_id}/rotate-secret", json={"overlap_hours": 2})
        assert rotated.status_code == 200, rotated.text
        new = rotated.json()["secret"]
        assert new != first and rotated.json()["previous_secret_until"]
        with read_session(demo) as session:
            sub = webhooks.require_subscription(session, sub_id)
            assert webhooks.signing_secrets(sub) == [new, first]
            actions = session.exec(
                select(AuditEvent.action, AuditEvent.actor, AuditEvent.detail).where(
                    col(AuditEvent.entity_id) == sub_id
                )
            ).all()
        assert ("secret_rotated", "api:ops robot") in [(a, b) for a, b, _ in actions]
        assert not any(first in d or new in d for _, _, d in actions)  # never a secret
        assert "secret" not in (await api.get(f"/webhooks/{sub_id}")).json()

        before = state(demo, sub_id)
        refusals = [
            ({"overlap_hours": -1}, "--overlap-hours"),
            ({"overlap_hours": 721}, "0 to 720"),
            ({"secret": "not-a-standard-secret-0123456789"}, "whsec_"),
            ({"secret": "whsec_" + "QUFBQQ=="}, "24 to 64"),
            ({"overlap": 1}, "overlap"),
        ]
        for body, words in refusals:
            answer = await api.post(f"/webhooks/{sub_id}/rotate-secret", json=body)
            assert error_of(answer) == (400, "invalid_input"), body
            assert words in answer.json()["error"]["message"], answer.text
        unknown = await api.post("/webhooks/whk_nope/rotate-secret", json={})
        assert error_of(unknown) == (404, "unknown_webhook")
        as_reader = await reader.post(f"/webhooks/{sub_id}/rotate-secret", json={})
        assert error_of(as_reader) == (403, "scope_required")
        assert state(demo, sub_id) == before

        # No overlap: the previous secret stops signing at once.
        at_once = await api.post(f"/webhooks/{sub_id}/rotate-secret", json={"overlap_hours": 0})
        assert at_once.json()["previous_secret_until"] is None
        with read_session(demo) as session:
            sub = webhooks.require_subscription(session, sub_id)
            assert webhooks.signing_secrets(sub) == [at_once.json()["secret"]]
    finally:
        await api.delete(f"/webhooks/{sub_id}")
    before = state(demo, sub_id)
    late = await api.post(f"/webhooks/{sub_id}/rotate-secret", json={})
    assert error_of(late) == (409, "webhook_removed")
    assert state(demo, sub_id) == before
