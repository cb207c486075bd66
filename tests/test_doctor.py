"""``starter.py doctor``: every check passes on a good set-up (a migrated
store, the dev server with its search attributes, a loopback SMTP server), and each kind
of broken part fails its own line with a hint while the others still run: configuration,
store, schema, Temporal, namespace, search attributes, SMTP. PostgreSQL's max_connections
short of the sizing guide's 30 per process is a warning. Doctor changes nothing."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from google.protobuf.duration_pb2 import Duration
from sqlalchemy import Engine, inspect, text
from temporalio.api.workflowservice.v1 import RegisterNamespaceRequest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from runtime.doctor import report_json, report_text, run_doctor
from runtime.health import Readiness
from store.db import make_engine
from tests.test_cli import dump, run


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Accept:
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        return "250 OK"


@pytest.fixture()
def smtp_url() -> Iterator[str]:
    controller = Controller(Accept(), hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield f"smtp://127.0.0.1:{controller.port}"
    finally:
        controller.stop()


@pytest.fixture()
def good_env(
    engine: Engine, temporal_env: WorkflowEnvironment, smtp_url: str, monkeypatch: Any
) -> dict[str, str]:
    """A complete, working configuration in this process's environment."""
    env = {
        "DATABASE_URL": engine.url.render_as_string(hide_password=False),
        "TEMPORAL_ADDRESS": temporal_env.client.service_client.config.target_host,
        "TEMPORAL_NAMESPACE": temporal_env.client.namespace,
        "SMTP_URL": smtp_url,
        "SECRET_KEY": "a-long-random-production-secret",
        "DEV_MODE": "0",
    }
    for name in list(os.environ):
        if name.startswith("TEMPORAL_"):
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


def lines(report: Readiness) -> dict[str, bool]:
    return {c.name: c.ok for c in report.checks}


def only_failure(report: Readiness) -> Any:
    assert not report.ready
    assert len(report.failed) == 1, report_text(report)
    return report.failed[0]


ALL_PASS = {
    "configuration": True,
    "store": True,
    "schema": True,
    "connections": True,
    "temporal": True,
    "namespace": True,
    "search_attributes": True,
    "smtp": True,
}


async def test_doctor_passes_on_a_good_setup(good_env: dict[str, str]) -> None:
    report = await run_doctor(timeout=5)
    assert lines(report) == ALL_PASS, report_text(report)
    text = report_text(report)
    assert text.splitlines()[0].startswith("PASS  configuration")
    assert text.endswith("All checks passed.")
    assert report_json(report)["ok"] is True and "error" not in report_json(report)


@pytest.mark.parametrize(
    ("variable", "value", "named"),
    [
        ("SECRET_KEY", None, "SECRET_KEY is the built-in development secret"),
        ("WEB_THREADS", "many", "WEB_THREADS: Input should be a valid integer"),
        ("WORKER_HEALTH_ADDRESS", "9000", "WORKER_HEALTH_ADDRESS must be host:port"),
        ("TEMPORAL_PROFILE", "nowhere", "Temporal configuration"),
    ],
)
async def test_a_configuration_error_is_named_and_the_rest_still_checked(
    good_env: dict[str, str], monkeypatch: Any, variable: str, value: str | None, named: str
) -> None:
    if value is None:  # unset: the built-in development secret, and DEV_MODE is off
        monkeypatch.delenv(variable)
    else:
        monkeypatch.setenv(variable, value)
    report = await run_doctor(timeout=5)
    check = only_failure(report)
    assert check.name == "configuration"
    assert named in check.detail
    if variable == "TEMPORAL_PROFILE":  # no way to reach Temporal without its configuration
        assert lines(report) == {
            "configuration": False, "store": True, "schema": True, "connections": True,
            "smtp": True,
        }  # fmt: skip
        return
    assert "docs/operations.md" in check.hint
    assert lines(report) == {**ALL_PASS, "configuration": False}


async def test_a_missing_sqlite_file_fails_the_store_and_is_not_created(
    good_env: dict[str, str], monkeypatch: Any, tmp_path: Path
) -> None:
    missing = tmp_path / "typo" / "shop.db"
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{missing}")
    check = only_failure(await run_doctor(timeout=5))
    assert (check.name, check.detail) == ("store", f"no SQLite database at {missing}")
    assert "starter.py migrate" in check.hint
    assert not missing.exists() and not missing.parent.exists()


async def test_an_unreachable_database_server_fails_the_store(
    good_env: dict[str, str], monkeypatch: Any
) -> None:
    monkeypatch.setenv(
        "DATABASE_URL", f"postgresql+psycopg://shop:hunter22@127.0.0.1:{free_port()}/shop"
    )
    report = await run_doctor(timeout=3)
    check = only_failure(report)
    assert check.name == "store" and "cannot query postgresql" in check.detail
    assert "hunter22" not in report_text(report)
    assert "DATABASE_URL" in check.hint
    assert "schema" not in lines(report)  # not read without a store


async def test_a_schema_behind_fails_the_schema(
    good_env: dict[str, str], monkeypatch: Any, tmp_path: Path
) -> None:
    empty = tmp_path / "empty.db"
    empty.touch()
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{empty}")
    check = only_failure(await run_doctor(timeout=5))
    assert check.name == "schema" and "revision none" in check.detail
    assert "starter.py migrate" in check.hint
    engine = make_engine(f"sqlite:///{empty}")
    with engine.connect() as conn:
        assert inspect(conn).get_table_names() == []  # doctor never migrates
    engine.dispose()


async def test_an_unreachable_temporal_fails_temporal(
    good_env: dict[str, str], monkeypatch: Any
) -> None:
    monkeypatch.setenv("TEMPORAL_ADDRESS", f"127.0.0.1:{free_port()}")
    report = await run_doctor(timeout=3)
    check = only_failure(report)
    assert check.name == "temporal" and "cannot connect to 127.0.0.1" in check.detail
    assert "TEMPORAL_ADDRESS" in check.hint
    assert "namespace" not in lines(report)


async def test_an_unknown_namespace_fails_the_namespace(
    good_env: dict[str, str], monkeypatch: Any
) -> None:
    monkeypatch.setenv("TEMPORAL_NAMESPACE", "no-such-namespace")
    check = only_failure(await run_doctor(timeout=5))
    assert check.name == "namespace" and "'no-such-namespace'" in check.detail
    assert "TEMPORAL_NAMESPACE" in check.hint


async def test_a_namespace_without_the_search_attributes_fails_them(
    good_env: dict[str, str], client: Client, monkeypatch: Any
) -> None:
    """A namespace made without our search attributes (as a new Temporal Cloud namespace
    is): doctor names each missing one and says how to create it."""
    namespace = "bare-namespace"
    try:
        await client.workflow_service.register_namespace(
            RegisterNamespaceRequest(
                namespace=namespace,
                workflow_execution_retention_period=Duration(seconds=86400),
            )
        )
    except Exception as err:  # registered by an earlier run of this session
        assert "already" in str(err).lower(), err
    monkeypatch.setenv("TEMPORAL_NAMESPACE", namespace)
    check = only_failure(await run_doctor(timeout=5))
    assert check.name == "search_attributes"
    for name in ("BusinessCenterId", "ShopCode", "RequestMethod", "RequestStatus"):
        assert name in check.detail
    assert "search-attribute create" in check.hint


async def test_an_smtp_server_that_is_down_fails_smtp(
    good_env: dict[str, str], monkeypatch: Any
) -> None:
    monkeypatch.setenv("SMTP_URL", f"smtp://127.0.0.1:{free_port()}")
    check = only_failure(await run_doctor(timeout=3))
    assert check.name == "smtp" and "did not accept a session" in check.detail
    assert "SMTP_URL" in check.hint


async def test_without_smtp_the_outbox_is_reported_and_passes(
    good_env: dict[str, str], monkeypatch: Any
) -> None:
    monkeypatch.delenv("SMTP_URL")
    report = await run_doctor(timeout=5)
    assert report.ready, report_text(report)
    assert "MAIL_OUTBOX_DIR" in report.checks[-1].detail


# --- the command ---------------------------------------------------------------------------


async def test_the_command_exits_0_when_all_pass_and_1_naming_what_failed(
    good_env: dict[str, str], engine: Engine, tmp_path: Path
) -> None:
    before = dump(engine)
    good = await run("starter.py", "doctor", "--json", env=good_env)
    assert good.code == 0, (good.out, good.err)
    assert good.json["ok"] is True
    assert [c["name"] for c in good.json["checks"]] == list(ALL_PASS)

    broken = {**good_env, "SMTP_URL": f"smtp://127.0.0.1:{free_port()}"}
    bad, human = await asyncio.gather(
        run("starter.py", "doctor", "--json", "--timeout", "3", env=broken),
        run("starter.py", "doctor", "--timeout", "3", env=broken),
    )
    assert bad.code == 1, (bad.out, bad.err)
    assert bad.json["ok"] is False
    assert bad.json["error"] == {"code": "checks_failed", "message": "1 of 8 checks failed: smtp"}
    assert human.code == 1
    assert "FAIL  smtp" in human.out and "hint: check SMTP_URL" in human.out
    assert human.out.strip().endswith("1 of 8 checks failed.")
    assert dump(engine) == before  # doctor only reads


# --- PostgreSQL's connection limit (docs/operations.md, Sizing) ---------------------------


def server_max_connections(engine: Engine) -> int:
    """The test server's setting, read (never changed) to pick process counts around it."""
    with engine.connect() as conn:
        return int(conn.execute(text("SHOW max_connections")).scalar_one())


@pytest.mark.postgres
async def test_max_connections_short_of_30_per_process_is_a_warning_that_passes(
    good_env: dict[str, str], postgres_engine: Engine, monkeypatch: Any
) -> None:
    url = postgres_engine.url.render_as_string(hide_password=False)
    monkeypatch.setenv("DATABASE_URL", url)
    allowed = server_max_connections(postgres_engine)
    before = dump(postgres_engine)
    short = allowed // 30 + 1  # the fewest processes whose 30 connections each exceed it

    report = await run_doctor(timeout=5, processes=short)
    assert report.ready, report_text(report)
    check = next(c for c in report.checks if c.name == "connections")
    assert check.ok and check.warning
    assert check.detail == (
        f"max_connections is {allowed}; {short} processes at 30 each need {30 * short}"
    )
    assert f"raise PostgreSQL's max_connections to at least {30 * short}" in check.hint
    human = report_text(report)
    assert "WARN  connections" in human and "PgBouncer" in human
    assert human.endswith("All checks passed, with 1 warning(s): connections.")

    enough = await run_doctor(timeout=5, processes=max(1, allowed // 30))
    check = next(c for c in enough.checks if c.name == "connections")
    assert check.ok and not check.warning, check
    assert "WARN" not in report_text(enough)

    # The command: a warning exits 0, and --json says which line warned.
    command = await run(
        "starter.py", "doctor", "--json", "--processes", str(short),
        env={**good_env, "DATABASE_URL": url},
    )  # fmt: skip
    assert command.code == 0, (command.out, command.err)
    warned = [c["name"] for c in command.json["checks"] if c["warning"]]
    assert command.json["ok"] is True and warned == ["connections"]
    assert dump(postgres_engine) == before  # doctor only reads


@pytest.mark.parametrize("processes", ["0", "-3", "two"])
async def test_a_bad_process_count_is_refused_and_nothing_is_checked(
    good_env: dict[str, str], engine: Engine, processes: str
) -> None:
    before = dump(engine)
    bad = await run("starter.py", "doctor", "--json", "--processes", processes, env=good_env)
    assert bad.code == 1, (bad.out, bad.err)
    assert set(bad.json) == {"error"} and bad.json["error"]["code"] == "invalid_input"
    assert "Invalid value for '--processes'" in bad.json["error"]["message"]
    assert dump(engine) == before
