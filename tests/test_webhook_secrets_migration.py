"""Migration 0010_webhook_secrets (R30), on SQLite and PostgreSQL: every secret stored
before Standard Webhooks becomes ``whsec_`` + base64 of its old text, so the HMAC key
bytes stay what they were and a receiver can compute its new secret from the old one; a
downgrade gives the old text back.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import standardwebhooks
from alembic import command as alembic
from sqlalchemy import Engine, text

from store import webhooks
from store.db import make_engine
from store.migrate import alembic_config
from tests.conftest import PG_ADMIN_URL

OLD_SECRETS = {
    "whk_chosen": "test-secret-0123456789abcdef",  # chosen by ops, 16-200 characters
    "whk_made": "whsec_" + "q0-_Zx" * 7,  # made by the old code: urlsafe, not base64
    "whk_long": "L" * 200,  # the old limit: 274 characters once encoded
}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
        yield engine
        engine.dispose()
        return
    admin: Engine = request.getfixturevalue("postgres_admin")
    name = f"shop_access_mig_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}")
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _migrate(engine: Engine, revision: str, down: bool = False) -> None:
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        (alembic.downgrade if down else alembic.upgrade)(config, revision)


def _secrets(engine: Engine) -> dict[str, str]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT id, secret FROM webhook_subscription")).all()
    return {str(i): str(s) for i, s in rows}


def test_r30_old_secrets_keep_their_key_as_whsec_secrets(empty_store: Engine) -> None:
    _migrate(empty_store, "0009_invitation_until")
    with empty_store.begin() as conn:
        for sub_id, secret in OLD_SECRETS.items():
            conn.execute(
                text(
                    "INSERT INTO webhook_subscription (id, shop_code, url, secret, start_seq, "
                    "created_by, created_at) VALUES (:id, 'GBLINKED01', 'https://crm.example/h',"
                    " :secret, 0, 'ops', :at)"
                ),
                {"id": sub_id, "secret": secret, "at": datetime(2026, 12, 1, tzinfo=UTC)},
            )
    _migrate(empty_store, "head")
    migrated = _secrets(empty_store)
    body, msg_id, ts = b'{"id": "evt_7"}', "evt_7", 1_765_000_000
    for sub_id, old in OLD_SECRETS.items():
        new = migrated[sub_id]
        assert new == "whsec_" + base64.b64encode(old.encode()).decode()  # the documented recipe
        assert webhooks.secret_key(new) == old.encode()  # the key bytes did not change
        by_old_key = hmac.new(old.encode(), f"{msg_id}.{ts}.".encode() + body, hashlib.sha256)
        signed = webhooks.sign([new], msg_id, ts, body)
        assert signed == "v1," + base64.b64encode(by_old_key.digest()).decode()
        when = datetime.fromtimestamp(ts, UTC)
        assert standardwebhooks.Webhook(new).sign(msg_id, when, body) == signed

    _migrate(empty_store, "0009_invitation_until", down=True)
    assert _secrets(empty_store) == OLD_SECRETS
