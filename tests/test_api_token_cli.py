"""``starter.py api-token create|list|revoke`` (R26, docs/api.md): the secret
is shown once and never again, a revoked token opens nothing, and bad input follows the
CLI's error contract (tests/test_cli_errors.py) and changes nothing."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import select

from models.tables import ApiToken
from store.api_tokens import check_call, secret_hash
from store.db import read_session
from tests.test_cli_errors import invoke, row_counts

WINDOW_LIMIT = 100
MINUTE = timedelta(minutes=1)


def url_of(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def create(engine: Engine, *args: str) -> dict[str, object]:
    out = invoke(["api-token", "create", "--json", *args], url_of(engine))
    assert out.exit_code == 0, out.stdout + out.stderr
    body: dict[str, object] = json.loads(out.stdout)
    return body


def test_create_shows_the_token_once_and_list_never(demo: Engine) -> None:
    made = create(demo, "--name", "agency CRM", "--scope", "act")
    secret = str(made["token"])
    assert secret.startswith("sa_") and len(secret) > 40
    assert made["scopes"] == ["act", "read"]  # act implies read
    with read_session(demo) as session:
        stored = session.exec(select(ApiToken).where(ApiToken.id == made["id"])).one()
    assert stored.secret_hash == secret_hash(secret) and secret not in stored.secret_hash

    human = invoke(["api-token", "list"], url_of(demo))
    listed = invoke(["api-token", "list", "--json"], url_of(demo))
    assert human.exit_code == listed.exit_code == 0
    tokens = json.loads(listed.stdout)["tokens"]
    assert [t["id"] for t in tokens] == [made["id"]]
    assert "token" not in tokens[0] and "secret_hash" not in tokens[0]
    for output in (human.stdout, listed.stdout):
        assert secret not in output and stored.secret_hash not in output
    assert "agency CRM" in human.stdout and "never" in human.stdout


def test_revoked_token_is_refused(demo: Engine) -> None:
    made = create(demo, "--name", "old robot")
    secret = str(made["token"])
    assert check_call(demo, secret, limit=WINDOW_LIMIT, window=MINUTE) is not None
    out = invoke(["api-token", "revoke", str(made["id"]), "--json"], url_of(demo))
    assert out.exit_code == 0, out.stderr
    assert json.loads(out.stdout)["revoked_at"] is not None
    assert check_call(demo, secret, limit=WINDOW_LIMIT, window=MINUTE) is None
    listed = invoke(["api-token", "list"], url_of(demo))
    assert "(revoked)" in listed.stdout


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (["create", "--name", ""], "invalid_input", "name"),
        (["create", "--name", "x\ny"], "invalid_input", "name"),
        (["create", "--name", "robot", "--scope", "admin"], "invalid_input", "admin"),
        (["create"], "usage_error", "--name"),
        (["revoke", "tok_0000000000000000"], "invalid_input", "tok_0000000000000000"),
        (["revoke"], "usage_error", "TOKEN_ID"),
    ],
)
def test_bad_input_is_refused_and_changes_nothing(
    demo: Engine, args: list[str], code: str, words: str
) -> None:
    create(demo, "--name", "kept")
    before = row_counts(url_of(demo))
    with read_session(demo) as session:
        tokens_before = [t.model_dump() for t in session.exec(select(ApiToken)).all()]
    out = invoke(["api-token", *args, "--json"], url_of(demo))
    message = out.error(code, exit_code=out.exit_code)
    assert out.exit_code != 0
    assert words in message, message
    assert row_counts(url_of(demo)) == before
    with read_session(demo) as session:
        assert [t.model_dump() for t in session.exec(select(ApiToken)).all()] == tokens_before
