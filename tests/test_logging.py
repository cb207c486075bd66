"""LOG_FORMAT=json gives one JSON object per line with level, time,
logger and, where they apply, workflow id, run id, request id, activity type and attempt;
no link token, session cookie or typed address reaches any line (a whole scenario: a
refusal, a stranger asking for a personal link, sign-in and an S1 approval, R7, R12, R15)."""

from __future__ import annotations

import io
import json
import logging
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine
from temporalio import activity, workflow
from temporalio.testing import WorkflowEnvironment

from client.links import LinkSigner
from linkhandler.app import create_app
from models.enums import RequestMethod
from models.errors import Refusal
from models.messages import RequestResult
from models.settings import Settings
from runtime.logging_setup import configure_logging, scrub
from runtime.worker_http import serving
from tests.conftest import AGENCY, ANA, OLI, S1_SHOP, S2_SHOP, SAM
from tests.observability_support import observed_stack, submit_and_wait_for_emails
from tests.web.conftest import csrf_in
from web.security import SESSION_COOKIE

STRANGER = "eve.typed@stranger.example"
CONTEXT = ("workflow_id", "run_id", "request_id", "activity_type", "attempt")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture()
def json_logs() -> Iterator[io.StringIO]:
    """The process logs as ``LOG_FORMAT=json`` would, into a buffer; restored after."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    flags = (workflow.logger.workflow_info_on_message, activity.logger.activity_info_on_message)
    buffer = io.StringIO()
    configure_logging("json", stream=buffer)
    try:
        yield buffer
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in saved[0]:
            root.addHandler(handler)
        root.setLevel(saved[1])
        workflow.logger.workflow_info_on_message = flags[0]
        activity.logger.activity_info_on_message = flags[1]


@pytest.fixture()
def web_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"link_base_url": f"http://127.0.0.1:{free_port()}"})


async def test_r7_r15_a_whole_scenario_logs_json_without_tokens_cookies_or_addresses(
    temporal_env: WorkflowEnvironment,
    web_settings: Settings,
    demo: Engine,
    json_logs: io.StringIO,
) -> None:
    settings = web_settings
    signer = LinkSigner(settings.secret_key.get_secret_value(), settings.link_base_url)
    secrets: set[str] = set()
    async with observed_stack(temporal_env, settings, demo) as stack:
        app = create_app(settings, client=stack.client, engine=demo)
        address = settings.link_base_url.removeprefix("http://")
        async with (
            serving(app, address, access_log=True),
            httpx.AsyncClient(base_url=settings.link_base_url) as browser,
        ):
            # R1: a refused request (the activity fails: Temporal logs it).
            with pytest.raises(Refusal):
                await stack.service.submit(
                    method=RequestMethod.REQUEST_ACCESS, bc_id=AGENCY, shop_code=S2_SHOP, by=SAM
                )
            submitted = await submit_and_wait_for_emails(
                stack.service, bc_id=AGENCY, shop_code=S1_SHOP, by=ANA
            )
            copy_token = signer.token(submitted.request_id)
            personal_token = signer.token(submitted.request_id, OLI)
            secrets |= {copy_token, personal_token}
            # R7: whoever holds the copied link types an address (a stranger's here).
            copied = await browser.get(f"/approve/{copy_token}")
            asked = await browser.post(
                f"/approve/{copy_token}/personal-link",
                data={"csrf": csrf_in(copied.text, "personal-link"), "email": STRANGER},
            )
            assert asked.status_code == 200, asked.text
            # R15: the seller signs in from the personal link (a session cookie)...
            mine = await browser.get(f"/approve/{personal_token}")
            signed_in = await browser.post(
                f"/approve/{personal_token}/signin",
                data={"csrf": csrf_in(mine.text, "signin")},
            )
            assert signed_in.status_code == 303
            cookie = browser.cookies.get(SESSION_COOKIE)
            assert cookie
            secrets.add(cookie)
            await browser.get("/partners")
            # ...and approves (R12 S1); the requester is e-mailed (R14).
            page = await browser.get(f"/approve/{personal_token}")
            done = await browser.post(
                f"/approve/{personal_token}", data={"csrf": csrf_in(page.text)}
            )
            assert done.status_code == 200, done.text
            handle = stack.client.get_workflow_handle(
                submitted.workflow_id, result_type=RequestResult
            )
            assert (await handle.result()).status == "approved"

    lines = [line for line in json_logs.getvalue().splitlines() if line.strip()]
    records: list[dict[str, Any]] = [json.loads(line) for line in lines]  # every line parses
    assert records
    for record in records:
        assert {"time", "level", "logger", "message"} <= record.keys(), record
    # The access log saw every page, with the token path redacted.
    access = [r for r in records if r["logger"] == "uvicorn.access"]
    assert any("/approve/[token]" in r["message"] for r in access), access
    # Activity lines say which workflow, run, request, activity and attempt they are.
    refused = [r for r in records if r.get("activity_type") == "store.admit_request"]
    assert refused, [r["message"] for r in records]
    assert all(name in refused[0] for name in CONTEXT), refused[0]
    # Nothing a reader of the logs could use or should not see.
    everything = "\n".join(lines)
    for secret in secrets:
        assert secret not in everything
    for address in (ANA, OLI, SAM, STRANGER, STRANGER.split("@")[0] + "@"):
        assert address not in everything
    assert "@" not in everything


def test_text_format_scrubs_the_same() -> None:
    line = (
        "GET /approve/abc.def-123?x=1 HTTP/1.1 for oli@brand-linked.com, "
        "cookie shop_access_session=eyJhbGci.sig"
    )
    cleaned = scrub(line)
    assert "abc.def-123" not in cleaned and "/approve/[token]" in cleaned
    assert "oli@brand-linked.com" not in cleaned and "[address]" in cleaned
    assert "eyJhbGci" not in cleaned and "shop_access_session=[cookie]" in cleaned


def test_worker_process_with_json_logs_writes_only_json_even_when_it_fails(
    engine: Engine,
) -> None:
    """The worker's own lines, the SDK core's (forwarded to Python logging) and its last
    words when Temporal cannot be reached: all JSON."""
    done = subprocess.run(
        [sys.executable, "worker.py"],
        cwd=Path(__file__).resolve().parent.parent,
        env={
            **os.environ,
            "DEV_MODE": "1",
            "LOG_FORMAT": "json",
            "DATABASE_URL": engine.url.render_as_string(hide_password=False),
            "TEMPORAL_ADDRESS": "127.0.0.1:1",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    records = [json.loads(line) for line in done.stderr.splitlines() if line.strip()]
    last = records[-1]
    assert (last["level"], last["message"]) == ("ERROR", "Worker stopped by an error")
    assert "Connection refused" in last["exc_info"] or "connect" in last["exc_info"]


def test_core_logs_go_through_python_logging_only_for_json() -> None:
    from temporalio.runtime import LoggingConfig

    from runtime.logging_setup import core_logging

    assert core_logging("text") is LoggingConfig.default
    forwarded = core_logging("json").forwarding
    assert forwarded is not None and forwarded.logger.name == "temporalio.core"
