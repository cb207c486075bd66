"""starter.py and worker.py end to end, as scripts run them: real subprocesses configured
through the environment, against the session's dev server and an in-process worker.

The contract: every command takes --json; success exits 0 with one JSON object; a refusal
exits 1 with {"error": {"code", "message"}}. `load` is idempotent, `migrate` brings a
database to head, `requests` shows the BC's list (R8) and the shop's history (R15), and
the worker refuses to start on a schema that is behind.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from alembic import command as alembic
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, text

from models.settings import Settings
from store.db import make_engine
from store.migrate import alembic_config, current_revision, head_revision
from tests.conftest import AGENCY, ANA, DEMO, OLI, S1_SHOP, SAM, outbox_messages
from tests.starter_process import run_starter

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Run:
    code: int
    out: str
    err: str

    @property
    def json(self) -> Any:
        lines = self.out.strip().splitlines()
        assert len(lines) == 1, f"expected one JSON line, got: {self.out!r} / {self.err!r}"
        return json.loads(lines[0])


async def run(script: str, *args: str, env: dict[str, str]) -> Run:
    """Run a project script without blocking the event loop (the worker shares it).

    ``starter.py`` runs as a process forked from one that imported it already
    (tests/starter_process.py): the same contract at a fraction of the CPU."""
    if script == "starter.py":
        done = await asyncio.to_thread(run_starter, list(args), {**os.environ, **env})
        return Run(done.code, done.out, done.err)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, script, *args, cwd=ROOT, env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return Run(proc.returncode, out.decode(), err.decode())


def refused(result: Run, code: str) -> str:
    """Assert the refusal contract; returns the message."""
    assert result.code == 1, (result.out, result.err)
    body = result.json
    assert set(body) == {"error"} and body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return str(body["error"]["message"])


def dump(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    with engine.connect() as conn:
        return {
            t: [tuple(r) for r in conn.execute(text(f'SELECT * FROM "{t}" ORDER BY 1'))]
            for t in inspect(conn).get_table_names()
        }


# --- data commands (no Temporal needed) ------------------------------------------------------


async def test_migrate_then_load_is_idempotent(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    env = {"DATABASE_URL": url, "DEV_MODE": "1"}
    first = await run("starter.py", "migrate", "--json", env=env)
    assert first.code == 0, first.err
    assert first.json == {"revision": head_revision(url)}

    loaded = await run("starter.py", "load", str(DEMO), "--json", env=env)
    assert loaded.code == 0, loaded.err
    assert loaded.json == {"loaded": {"users": 8, "business_centers": 5, "shops": 4}}
    engine = make_engine(url)
    try:
        before = dump(engine)
        assert len(before["shop"]) == 4 and len(before["app_user"]) == 8
        bad = tmp_path / "bad.json"
        bad.write_text(json.dumps({"business_centers": [{
            "id": 1, "name": "X", "type": "agency", "country": "SG", "timezone": "Mars/Base",
        }]}))  # fmt: skip
        second, invalid = await asyncio.gather(
            run("starter.py", "load", str(DEMO), "--json", env=env),
            run("starter.py", "load", str(bad), "--json", env=env),
        )
        assert second.code == 0, second.err
        assert dump(engine) == before  # nothing changed, audit log included
        assert "Mars/Base" in refused(invalid, "invalid_input")
    finally:
        engine.dispose()


async def test_worker_refuses_to_start_on_a_schema_that_is_behind(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = make_engine(url)
    revisions = list(ScriptDirectory.from_config(alembic_config(url)).walk_revisions())
    if len(revisions) > 1:  # at the first revision; else an empty database is behind too
        config = alembic_config(url)
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            alembic.upgrade(config, revisions[-1].revision)
    behind = current_revision(engine)
    engine.dispose()
    result = await run(
        "worker.py",
        env={"DATABASE_URL": url, "DEV_MODE": "1", "TEMPORAL_ADDRESS": "127.0.0.1:1"},
    )
    assert result.code != 0
    assert f"at revision {behind or 'none'}" in result.err
    assert "starter.py migrate" in result.err
    assert "polling" not in result.err


async def test_a_store_made_before_1_0_is_refused_and_left_as_it_was(tmp_path: Path) -> None:
    """1.0.0 squashed the pre-release migrations: a store stamped with one of their
    revisions is refused by `migrate` and by the worker, with what to do, and unchanged."""
    url = f"sqlite:///{tmp_path / 'pre-1.0.db'}"
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)"))
            conn.execute(text("INSERT INTO alembic_version VALUES ('0009_invitation_until')"))
        before = dump(engine)
        env = {"DATABASE_URL": url, "DEV_MODE": "1"}
        migrated = await run("starter.py", "migrate", "--json", env=env)
        message = refused(migrated, "store_unavailable")
        assert "0009_invitation_until" in message and "before 1.0.0" in message
        assert "--reset" in message and "starter.py migrate" in message
        worker = await run("worker.py", env={**env, "TEMPORAL_ADDRESS": "127.0.0.1:1"})
        assert worker.code != 0 and "before 1.0.0" in worker.err, worker.err
        assert dump(engine) == before
    finally:
        engine.dispose()


# --- request commands against Temporal -------------------------------------------------------


@pytest.fixture()
def cli_env(settings: Settings, temporal_env: Any) -> dict[str, str]:
    return {
        "DATABASE_URL": settings.database_url,
        "TASK_QUEUE": settings.task_queue,
        "MAIL_OUTBOX_DIR": str(settings.mail_outbox_dir),
        "DEV_MODE": "1",
        "TEMPORAL_ADDRESS": temporal_env.client.service_client.config.target_host,
        "TEMPORAL_NAMESPACE": temporal_env.client.namespace,
    }


async def test_r8_r15_request_walked_through_the_cli(
    demo: Engine, worker: Any, cli_env: dict[str, str], settings: Settings
) -> None:
    submitted = await run(
        "starter.py", "request-access", "--bc", str(AGENCY), "--shop-code", S1_SHOP.lower(),
        "--as", ANA, "--json", env=cli_env,
    )  # fmt: skip
    assert submitted.code == 0, submitted.err
    sub = submitted.json
    assert set(sub) >= {"request_id", "status", "approval_url"}
    assert sub["status"] == "pending" and "/approve/" in sub["approval_url"]
    request_id = sub["request_id"]

    status, listing, copied, standard = await asyncio.gather(
        run("starter.py", "status", request_id, "--json", env=cli_env),
        run("starter.py", "requests", "--bc", str(AGENCY), "--json", env=cli_env),
        run("starter.py", "resend", request_id, "--as", ANA, "--copy", "--json", env=cli_env),
        run("starter.py", "cancel", request_id, "--as", SAM, "--json", env=cli_env),
    )
    view = status.json
    assert status.code == 0
    assert {k: view[k] for k in ("request_id", "status", "method", "bc_id", "shop_code")} == {
        "request_id": request_id, "status": "pending", "method": "request_access",
        "bc_id": str(AGENCY), "shop_code": S1_SHOP,  # R30: ids as strings
    }  # fmt: skip
    assert view["created_at"] and view["decided_at"] is None and view["superseded_by"] is None
    rows = listing.json["requests"]
    assert [(r["request_id"], r["status_label"]) for r in rows] == [
        (request_id, "Pending approval")
    ]
    assert copied.code == 0 and copied.json["approval_url"] == sub["approval_url"]
    assert copied.json["channel"] == "copy_link"
    assert "co-admin" in refused(standard, "not_bc_admin")

    approved = await run("starter.py", "approve", request_id, "--as", OLI, "--json", env=cli_env)
    assert approved.code == 0, approved.err
    assert approved.json["status"] == "approved" and approved.json["scenario"] == "S1"
    assert (approved.json["relationship"], approved.json["permission"]) == (
        "partner", "ad_promotion",
    )  # fmt: skip

    history, human = await asyncio.gather(
        run("starter.py", "requests", "--shop-code", S1_SHOP, "--json", env=cli_env),
        run("starter.py", "requests", env=cli_env),  # a refusal, for people: on stderr
    )
    (row,) = history.json["requests"]
    assert row["request_id"] == request_id and row["status"] == "approved"
    assert row["status_label"] == "Approved" and row["decided_by"] == OLI
    assert row["bc_id"] == str(AGENCY) and row["method"] == "request_access"
    assert human.code == 1 and human.out == ""
    assert "invalid_input" in human.err and "--shop-code" in human.err
    subjects = [m["Subject"] for m in outbox_messages(settings)]
    assert sum("asks for access" in s for s in subjects) == 1  # --copy sent nothing
