"""Tokens never appear in logs: every bearer token, in a path or a query,
is redacted on every handler the link handler's logging writes to."""

from __future__ import annotations

import asyncio
import io
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
from sqlalchemy import Engine

from client.access_requests import RequestService
from client.partners import PartnerService
from linkhandler.app import create_app
from models.enums import MemberRole
from models.settings import Settings
from runtime.log_redaction import (
    DEFAULT_PREFIXES,
    RedactTokens,
    redact,
    route_paths,
    token_prefixes,
)
from tests.conftest import AGENCY, ANA, OLI, S1_SHOP, outbox_messages
from tests.partners_support import NEW_MEMBER
from tests.web.conftest import LiveServer, copy_path, csrf_in, personal_path, submit


def test_redact_hides_tokens_in_paths_and_query_strings() -> None:
    assert redact('"GET /approve/abc.DEF-_1/signin?x=1 HTTP/1.1" 200') == (
        '"GET /approve/[token]/signin?x=1 HTTP/1.1" 200'
    )
    assert redact("POST /invitations/abc/accept?token=s3cr3t&next=/x") == (
        "POST /invitations/[token]/accept?token=[token]&next=/x"
    )
    assert redact("GET /elsewhere?CSRF=abc;session=def") == (
        "GET /elsewhere?CSRF=[token];session=[token]"
    )
    signed = "eyJyIjoicmVxX2FiYyJ9.5eRX8PC1bxvpaHj2whrJNaoRKuA"
    assert redact(f"GET /somewhere/{signed}/x") == "GET /somewhere/[token]/x"
    plain = "activities.mailer 127.0.0.1:5000 POST /signout HTTP/1.1 200"
    assert redact(plain) == plain
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, "", 0, "%s %s", ("GET", "/approve/t.k"), None
    )
    RedactTokens().filter(record)
    assert record.getMessage() == "GET /approve/[token]"


def test_every_route_taking_a_token_is_redacted(settings: Settings, demo: Engine) -> None:
    """A new route with a ``{token}`` parameter is redacted without anyone remembering to:
    the filter reads the app's routes; and the known ones are covered even without it."""
    app = create_app(settings, engine=demo)
    prefixes = token_prefixes(app.routes)
    assert set(prefixes) >= set(DEFAULT_PREFIXES)
    for path in route_paths(app.routes):
        if "{token}" not in path:
            continue
        sample = re.sub(r"\{[^}]*\}", "x", path.replace("{token}", "SECRETTOKEN"))
        assert "SECRETTOKEN" not in RedactTokens().redact(f"GET {sample}"), path
    app.router.add_api_route("/new/{shop}/open/{token}", lambda: None)
    sample = "GET /new/GB1/open/SECRETTOKEN?x=1"
    assert RedactTokens(token_prefixes(app.routes)).redact(sample) == (
        "GET /new/GB1/open/[token]?x=1"
    )


@contextmanager
def written_lines() -> Iterator[io.StringIO]:
    """Everything the configured handlers write (uvicorn's, the root logger's), captured
    where they write it: after their filters, as it would reach the terminal."""
    loggers = [logging.getLogger(n) for n in ("", "uvicorn", "uvicorn.error", "uvicorn.access")]
    handlers = {
        h
        for lg in loggers
        for h in lg.handlers
        # pytest's own capture handlers are not the server's output.
        if isinstance(h, logging.StreamHandler) and not type(h).__module__.startswith("_pytest")
    }
    assert handlers, "the live server configured no handlers"
    buffer = io.StringIO()
    streams = {h: h.setStream(buffer) for h in handlers}
    try:
        yield buffer
    finally:
        for handler, stream in streams.items():
            if stream is not None:
                handler.setStream(stream)


async def _mailed_link(settings: Settings, to: str, marker: str) -> str:
    for _ in range(200):
        for message in outbox_messages(settings):
            body = message.get_body(preferencelist=("plain",)).get_content()
            if message["To"] == to and marker in body:
                return next(line.strip() for line in body.splitlines() if marker in line)
        await asyncio.sleep(0.05)
    raise AssertionError(f"no e-mail to {to} with {marker}")


async def test_a_whole_scenario_writes_no_token_to_any_log(
    live_server: LiveServer, service: RequestService, settings: Settings, demo: Engine
) -> None:
    """Approve, ask for a personal link, sign in and out, accept an invitation, tamper and
    put tokens in queries: no token issued, and no session cookie, in any line written."""
    sub = await submit(service, S1_SHOP)
    copy = copy_path(settings, sub.request_id)
    personal = personal_path(settings, sub.request_id, OLI)
    partners = PartnerService(service.client, demo, settings.task_queue, timeout=20)
    await partners.invite_members(
        bc_id=AGENCY, emails=[NEW_MEMBER], role=MemberRole.STANDARD, by=ANA, ad_accounts=[]
    )
    invitation = await _mailed_link(settings, NEW_MEMBER, "/invitations/")
    invitation = invitation.removeprefix(settings.link_base_url)
    secrets: set[str] = {
        copy.removeprefix("/approve/"),
        personal.removeprefix("/approve/"),
        invitation.removeprefix("/invitations/"),
    }
    with written_lines() as written:
        async with httpx.AsyncClient(base_url=live_server.url) as web:
            shown = (await web.get(copy)).text
            asked = await web.post(
                copy + "/personal-link",
                data={"csrf": csrf_in(shown, "personal-link"), "email": OLI},
            )
            assert asked.status_code == 200
            mailed = await _mailed_link(settings, OLI, "/approve/")
            secrets.add(mailed.rsplit("/", 1)[1])
            page = (await web.get(personal)).text
            secrets.update(re.findall(r'name="csrf" value="([^"]+)"', page))
            signed_in = await web.post(personal + "/signin", data={"csrf": csrf_in(page, "signin")})
            assert signed_in.status_code == 303
            secrets.add(web.cookies["shop_access_session"])
            listing = (await web.get("/partners")).text
            secrets.update(re.findall(r'name="csrf" value="([^"]+)"', listing))
            out = await web.post("/signout", data={"csrf": csrf_in(listing, "signout")})
            assert out.status_code == 200
            approved = await web.post(personal, data={"csrf": csrf_in(page)})
            assert approved.status_code == 200
            offer = (await web.get(invitation)).text
            accepted = await web.post(
                invitation + "/accept", data={"csrf": csrf_in(offer, "accept")}
            )
            assert accepted.status_code == 200
            assert (await web.get(personal + "x")).status_code == 400
            assert (await web.get(f"/nowhere?token={personal[9:]}&csrf=abc")).status_code == 404
            assert (await web.get(f"/nowhere/{invitation[13:]}")).status_code == 404
        # An app or library logger quoting a link goes through the same filter.
        logging.getLogger("web.test").warning("could not open %s%s", live_server.url, personal)
        await asyncio.sleep(0)  # nothing to wait on: the handlers write synchronously
    lines = written.getvalue().splitlines()
    assert any("/approve/[token]" in line for line in lines), lines
    assert any("/invitations/[token]/accept" in line for line in lines), lines
    assert any("could not open" in line for line in lines), lines
    for secret in secrets:
        assert len(secret) > 20
        leaked = [line for line in lines if secret in line]
        assert leaked == [], secret
