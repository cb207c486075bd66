"""Sessions live on the server (R15): sign-out ends the session itself, so
a copy of the cookie replayed afterwards opens nothing; an expired or unknown session is
refused even under a validly signed cookie."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy import Engine
from sqlmodel import select

from client.access_requests import RequestService
from models.settings import Settings
from models.tables import WebSession, utcnow
from store import sessions
from store.db import read_session, write_session
from tests.conftest import OLI, S1_SHOP
from tests.web.conftest import csrf_in, personal_path, snapshot, submit
from web.security import SESSION_COOKIE, SessionCookies

REFUSED = "Sign in with your personal link"


async def signed_in_cookie(
    http: httpx.AsyncClient, service: RequestService, settings: Settings
) -> str:
    sub = await submit(service, S1_SHOP)
    link = personal_path(settings, sub.request_id, OLI)
    done = await http.post(
        link + "/signin", data={"csrf": csrf_in((await http.get(link)).text, "signin")}
    )
    assert done.status_code == 303
    cookie = http.cookies.get(SESSION_COOKIE)
    assert cookie
    return cookie


async def test_r15_a_cookie_replayed_after_sign_out_opens_nothing(
    http: httpx.AsyncClient, service: RequestService, settings: Settings, demo: Engine
) -> None:
    cookie = await signed_in_cookie(http, service, settings)
    page = await http.get("/partners")
    assert page.status_code == 200
    out = await http.post("/signout", data={"csrf": csrf_in(page.text, "signout")})
    assert out.status_code == 200 and "Signed out" in out.text
    with read_session(demo) as session:
        (row,) = session.exec(select(WebSession)).all()
    assert row.email == OLI and row.ended_at is not None
    assert cookie not in row.id_hash  # the store keeps a hash, not the id

    http.cookies.clear()
    http.cookies.set(SESSION_COOKIE, cookie)  # the copy an attacker kept
    before = snapshot(demo)
    replayed = await http.get("/partners")
    assert replayed.status_code == 401 and REFUSED in replayed.text
    again = await http.post("/signout", data={"csrf": csrf_in(page.text, "signout")})
    assert again.status_code == 401 and REFUSED in again.text
    home = await http.get("/")
    assert home.status_code == 200 and OLI not in home.text
    assert snapshot(demo) == before


async def test_r15_an_expired_session_is_refused_under_a_genuine_cookie(
    http: httpx.AsyncClient, service: RequestService, settings: Settings, demo: Engine
) -> None:
    await signed_in_cookie(http, service, settings)
    assert (await http.get("/partners")).status_code == 200
    with write_session(demo) as session:
        row = session.exec(select(WebSession)).one()
        row.expires_at = utcnow() - timedelta(seconds=1)
        session.add(row)
    refused = await http.get("/partners")
    assert refused.status_code == 401 and REFUSED in refused.text


async def test_r15_a_signed_cookie_naming_no_session_is_refused(
    http: httpx.AsyncClient, settings: Settings, demo: Engine
) -> None:
    cookies = SessionCookies(settings.secret_keys)
    for value in (cookies.dump("made-up-session-id"), cookies.dump("")):
        http.cookies.set(SESSION_COOKIE, value)
        refused = await http.get("/partners")
        assert refused.status_code == 401 and REFUSED in refused.text
    # The cookie of the old format (a signed e-mail, no session) no longer signs anyone in.
    from itsdangerous import URLSafeTimedSerializer

    old = URLSafeTimedSerializer(settings.secret_keys, salt="shop-access.session.v1")
    http.cookies.set(SESSION_COOKIE, str(old.dumps({"e": OLI})))
    assert (await http.get("/partners")).status_code == 401


def test_store_sessions_end_once_and_expire(demo: Engine) -> None:
    opened = sessions.start(demo, email="Oli@Brand-Linked.com", lifetime=timedelta(hours=8))
    assert sessions.email_of(demo, opened) == OLI
    assert sessions.email_of(demo, opened, now=utcnow() + timedelta(hours=8, seconds=1)) is None
    assert sessions.email_of(demo, "not-" + opened) is None
    assert sessions.end(demo, opened) is True
    assert sessions.end(demo, opened) is False
    assert sessions.email_of(demo, opened) is None
