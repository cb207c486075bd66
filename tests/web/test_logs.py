"""Tokens never appear in logs: the access log of the real server shows /approve/[token]."""

from __future__ import annotations

import logging

import httpx

from models.settings import Settings
from service.requests import RequestService
from tests.conftest import OLI, S1_SHOP
from tests.web.conftest import LiveServer, personal_path, submit
from web.logs import RedactTokens, redact


def test_redact_hides_tokens_in_paths_and_query_strings() -> None:
    assert redact('"GET /approve/abc.DEF-_1/signin?x=1 HTTP/1.1" 200') == (
        '"GET /approve/[token]/signin?x=1 HTTP/1.1" 200'
    )
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, "", 0, "%s %s", ("GET", "/approve/t.k"), None
    )
    RedactTokens().filter(record)
    assert record.getMessage() == "GET /approve/[token]"


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


async def test_the_live_servers_access_log_never_shows_a_token(
    live_server: LiveServer, service: RequestService, settings: Settings
) -> None:
    sub = await submit(service, S1_SHOP)
    path = personal_path(settings, sub.request_id, OLI)
    token = path.removeprefix("/approve/")
    collect = _Collect()
    access = logging.getLogger("uvicorn.access")
    access.addHandler(collect)
    try:
        async with httpx.AsyncClient(base_url=live_server.url) as web:
            assert (await web.get(path)).status_code == 200
            assert (await web.post(path + "/signin", data={})).status_code == 403
            assert (await web.get("/approve/" + token + "x")).status_code == 400
    finally:
        access.removeHandler(collect)
    assert any("/approve/[token]" in line for line in collect.lines), collect.lines
    assert not any(token in line for line in collect.lines)
