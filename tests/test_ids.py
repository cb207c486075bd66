"""R30 at the edges that are not the API: a webhook body and the CLI's --json write ids as
strings of digits, and the shared types read and write them as docs/decisions.md
"Ids are strings in JSON" says. (The API: tests/api/test_api_ids.py.)"""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError
from sqlalchemy import Engine
from sqlmodel import col, select

from cli.context import Context
from models.fields import EXACT_INTS, JSON_SAFE_MAX, DbId, Id, ids_as_strings
from models.tables import AuditEvent, WebhookSubscription
from store import audit, webhooks
from store.audit_export import Scope
from store.db import read_session, write_session
from tests.conftest import AGENCY


class Sent(BaseModel):
    bc_id: DbId


class Written(BaseModel):
    bc_id: Id
    grant_ids: list[Id] = []


def test_r30_an_id_is_written_as_a_string_and_read_from_either() -> None:
    written = Written(bc_id=AGENCY, grant_ids=[7, 8])
    assert json.loads(written.model_dump_json()) == {
        "bc_id": "7100000000000000001",
        "grant_ids": ["7", "8"],
    }
    assert written.model_dump() == {"bc_id": AGENCY, "grant_ids": [7, 8]}  # Python: ints
    # Temporal histories recorded before ids became strings hold numbers: still read.
    assert Written.model_validate_json('{"bc_id": 7100000000000000001}').bc_id == AGENCY
    # Nor does it check a range: a Temporal payload must never fail to decode in a worker
    # (ids are checked where they come in, as DbId below).
    assert Written.model_validate_json('{"bc_id": "0"}').bc_id == 0
    with pytest.raises(ValidationError):
        Written.model_validate_json('{"bc_id": "seven"}')


def test_r30_a_client_number_beyond_2_53_is_refused_unless_the_caller_says_exact() -> None:
    assert Sent.model_validate_json('{"bc_id": "7100000000000000001"}').bc_id == AGENCY
    assert Sent.model_validate_json(f'{{"bc_id": {JSON_SAFE_MAX}}}').bc_id == JSON_SAFE_MAX
    with pytest.raises(ValidationError, match="beyond 2\\^53"):
        Sent.model_validate_json('{"bc_id": 7100000000000000001}')
    with pytest.raises(ValidationError, match="beyond 2\\^53"):
        Sent.model_validate({"bc_id": AGENCY})
    # Code whose ints never were JSON (tests, benchmarks) says so.
    assert Sent.model_validate({"bc_id": AGENCY}, context=EXACT_INTS).bc_id == AGENCY


def test_r30_ids_as_strings_changes_ids_only() -> None:
    found = ids_as_strings(
        {
            "id": 3,
            "bc_id": AGENCY,
            "partner_bc_id": None,
            "grant_ids": [1, 2],
            "seq": 12,
            "lines": 4,
            "flag": True,
            "nested": [{"shop_id": 5, "name": "x"}],
            "request_id": "req_0123",
        }
    )
    assert found == {
        "id": "3",
        "bc_id": "7100000000000000001",
        "partner_bc_id": None,
        "grant_ids": ["1", "2"],
        "seq": 12,
        "lines": 4,
        "flag": True,
        "nested": [{"shop_id": "5", "name": "x"}],
        "request_id": "req_0123",
    }


def test_r30_a_webhook_body_writes_every_id_as_a_string(demo: Engine) -> None:
    with write_session(demo) as session:
        sub = webhooks.add_subscription(
            session,
            scope=Scope(bc_id=AGENCY),
            url="http://127.0.0.1:9/hooks",
            created_by="ops",
        )
    with write_session(demo) as session:
        audit.record(
            session,
            actor="ana@agency-one.com",
            entity="shop_grant",
            entity_id=41,
            action="granted",
            bc_id=AGENCY,
            shop_id=2,
            granted_by_bc_id=7100000000000000003,
        )
    with read_session(demo) as session:
        row = session.exec(select(AuditEvent).order_by(col(AuditEvent.seq).desc())).first()
        assert row is not None
        stored = session.get(WebhookSubscription, sub.id)
        assert stored is not None
        body = webhooks.event_body(row, stored)
    assert body["entity"] == {"type": "shop_grant", "id": "41"}
    assert body["data"]["bc_id"] == "7100000000000000001"
    assert body["data"]["shop_id"] == "2"
    assert body["data"]["granted_by_bc_id"] == "7100000000000000003"
    assert body["subscription"]["bc_id"] == "7100000000000000001"
    assert isinstance(body["audit"]["seq"], int)  # a position in the chain, not an id


def test_r30_cli_json_writes_ids_as_strings_and_the_human_line_is_unchanged(
    capsys: pytest.CaptureFixture[str],
) -> None:
    payload: dict[str, Any] = {"partner_bc_id": AGENCY, "grant_ids": [7], "seq": 3}
    Context(as_json=True).emit(payload, "human")
    assert json.loads(capsys.readouterr().out) == {
        "partner_bc_id": "7100000000000000001",
        "grant_ids": ["7"],
        "seq": 3,
    }
    Context(as_json=False).emit(payload, f"BC {AGENCY}'s access ends.")
    assert capsys.readouterr().out == "BC 7100000000000000001's access ends.\n"
