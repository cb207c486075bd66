"""``starter.py doctor``: is this set-up able to run?

Checks, in order, each a pass/fail line with a hint (runtime/health.py):
configuration (the settings object and Temporal's environment configuration), the store,
its schema, PostgreSQL's max_connections against the processes to run (a warning when
short, docs/operations.md Sizing), Temporal's frontend, the namespace, its search
attributes, and SMTP when SMTP_URL is set. A broken part does not hide the others: when
the settings are invalid, the store and SMTP are still checked with the raw DATABASE_URL
and SMTP_URL. Doctor only reads: it never migrates, registers or sends, and it does not
create a SQLite file.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from client.temporal import connect_options
from models.errors import ErrorCode
from models.settings import Settings
from runtime.health import (
    DEFAULT_TIMEOUT,
    Check,
    Readiness,
    check_connections,
    check_namespace,
    check_schema,
    check_search_attributes,
    check_smtp,
    check_store,
    check_temporal,
)
from store.db import make_engine

DEFAULT_DATABASE_URL = str(Settings.model_fields["database_url"].default)
# scripts/production's default shape: two workers and two link handlers.
DEFAULT_PROCESSES = 4


def _config_errors(err: ValidationError) -> str:
    return "; ".join(
        (f"{'.'.join(str(p) for p in e['loc']).upper()}: " if e["loc"] else "") + e["msg"]
        for e in err.errors()
    )


def check_configuration(environ: Mapping[str, str]) -> tuple[Check, Settings | None]:
    """The settings object validates and Temporal's environment configuration loads."""
    problems: list[str] = []
    settings: Settings | None = None
    try:
        settings = Settings()
    except ValidationError as err:
        problems.append(_config_errors(err))
    try:
        options = connect_options()
    except Exception as err:  # a missing profile, an unreadable TOML file...
        problems.append(f"Temporal configuration: {err}")
        options = {}
    if problems:
        return (
            Check(
                name="configuration",
                ok=False,
                detail="; ".join(problems),
                hint="fix the variables named (docs/operations.md, Configuration)",
            ),
            settings,
        )
    where = options.get("target_host")
    namespace = options.get("namespace", "default")
    return (
        Check(
            name="configuration",
            ok=True,
            detail=f"settings valid; Temporal at {where}, namespace {namespace!r}"
            + (
                f", profile {environ['TEMPORAL_PROFILE']!r}"
                if "TEMPORAL_PROFILE" in environ
                else ""
            ),
        ),
        settings,
    )


def _missing_sqlite_file(url: str) -> Path | None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return None
    if parsed.database == ":memory:":
        return None
    path = Path(parsed.database)
    return None if path.exists() else path


def _engine(url: str, timeout: float) -> Engine:
    if make_url(url).get_backend_name() == "postgresql":
        return make_engine(url, connect_args={"connect_timeout": max(1, round(timeout))})
    return make_engine(url)


def store_checks(url: str, timeout: float, processes: int = DEFAULT_PROCESSES) -> list[Check]:
    """The store, its schema and its connection limit, without creating anything."""
    try:
        missing = _missing_sqlite_file(url)
    except Exception as err:
        return [
            Check(
                name="store",
                ok=False,
                detail=f"DATABASE_URL is not a database URL ({type(err).__name__})",
                hint="postgresql+psycopg://user:pass@host/db or sqlite:///path/to/file.db",
            )
        ]
    if missing is not None:
        return [
            Check(
                name="store",
                ok=False,
                detail=f"no SQLite database at {missing}",
                hint="check DATABASE_URL, or create it with `python starter.py migrate`",
            )
        ]
    try:
        engine = _engine(url, timeout)
    except Exception as err:
        return [
            Check(
                name="store",
                ok=False,
                detail=f"cannot use DATABASE_URL ({type(err).__name__}: {err})",
                hint="postgresql+psycopg://user:pass@host/db or sqlite:///path/to/file.db",
            )
        ]
    try:
        store = check_store(engine)
        if not store.ok:
            return [store]
        return [store, check_schema(engine), check_connections(engine, processes)]
    finally:
        engine.dispose()


def _short(err: BaseException) -> str:
    # The SDK's connect error carries the Rust transport's whole debug chain.
    text = str(err)
    for known in ("Connection refused", "dns error", "timed out", "certificate", "Unauthenticated"):
        if known.lower() in text.lower():
            return known.lower()
    return text.splitlines()[0][:200] if text else type(err).__name__


async def temporal_checks(timeout: float) -> list[Check]:
    """Temporal's frontend, the namespace and its search attributes."""
    from temporalio.client import Client

    try:
        options = connect_options()
    except Exception:  # already reported by the configuration check
        return []
    target = options.get("target_host")
    try:
        async with asyncio.timeout(timeout):
            client = await Client.connect(**options)
    except Exception as err:
        why = f"no answer in {timeout:g} s" if isinstance(err, TimeoutError) else _short(err)
        return [
            Check(
                name="temporal",
                ok=False,
                detail=f"cannot connect to {target} ({why})",
                hint="check TEMPORAL_ADDRESS (and TEMPORAL_API_KEY / TEMPORAL_TLS_* for "
                "Temporal Cloud) and that the Temporal server is running",
            )
        ]
    temporal = await check_temporal(client, timeout)
    if not temporal.ok:
        return [temporal]
    namespace = await check_namespace(client, timeout)
    if not namespace.ok:
        return [temporal, namespace]
    return [temporal, namespace, await check_search_attributes(client, timeout)]


async def run_doctor(
    timeout: float = DEFAULT_TIMEOUT,
    environ: Mapping[str, str] | None = None,
    processes: int = DEFAULT_PROCESSES,
) -> Readiness:
    """Every check, in order; ``ready`` only if all passed (warnings pass). ``processes``:
    how many worker and link-handler processes will share the store."""
    environ = os.environ if environ is None else environ
    configuration, settings = check_configuration(environ)
    database_url = (
        settings.database_url
        if settings
        else environ.get("DATABASE_URL", environ.get("database_url", DEFAULT_DATABASE_URL))
    )
    smtp_url = settings.smtp_url if settings else environ.get("SMTP_URL") or None
    store, temporal = await asyncio.gather(
        asyncio.to_thread(store_checks, database_url, timeout, processes),
        temporal_checks(timeout),
    )
    smtp = await asyncio.to_thread(check_smtp, smtp_url, timeout)
    return Readiness.of([configuration, *store, *temporal, smtp])


def report_json(report: Readiness) -> dict[str, Any]:
    """``doctor --json``: the checks, and the CLI's error object when any failed."""
    body: dict[str, Any] = {"ok": report.ready, "checks": [c.model_dump() for c in report.checks]}
    if not report.ready:
        names = ", ".join(c.name for c in report.failed)
        body["error"] = {
            "code": str(ErrorCode.CHECKS_FAILED),
            "message": f"{len(report.failed)} of {len(report.checks)} checks failed: {names}",
        }
    return body


def report_text(report: Readiness) -> str:
    """``doctor``: one PASS/WARN/FAIL line per check, a hint under each failure or
    warning."""
    width = max(len(c.name) for c in report.checks)
    lines: list[str] = []
    for check in report.checks:
        verdict = "FAIL" if not check.ok else "WARN" if check.warning else "PASS"
        lines.append(f"{verdict}  {check.name:<{width}}  {check.detail}")
        if (not check.ok or check.warning) and check.hint:
            lines.append(f"      {'':<{width}}  hint: {check.hint}")
    warnings = [c.name for c in report.checks if c.warning]
    if report.ready and warnings:
        lines.append(f"All checks passed, with {len(warnings)} warning(s): {', '.join(warnings)}.")
    elif report.ready:
        lines.append("All checks passed.")
    else:
        lines.append(f"{len(report.failed)} of {len(report.checks)} checks failed.")
    return "\n".join(lines)
