"""Only the exact token issued is genuine (R13).

itsdangerous decodes base64 leniently: the last character's padding bits (``o`` → ``p``,
``q``, ``r``), ``=``/``==`` appended and non-ASCII characters all verified as genuine.
Every other byte string must be refused exactly like a forged one, for every kind of
token: approval links (personal and copy), invitation links, form tokens, session cookies.
"""

from __future__ import annotations

import string

import httpx
import pytest
from sqlalchemy import Engine

from client.access_requests import RequestService
from client.invitation_links import InvitationLinks
from client.links import LinkSigner
from client.tokens import is_canonical
from models.settings import Settings
from tests.conftest import OLI, S1_SHOP
from tests.web.conftest import copy_path, csrf_in, personal_path, snapshot, submit
from web.security import FormRejected, FormTokens, SessionCookies

ALPHABET = string.ascii_letters + string.digits + "-_"
SECRET = "a-secret-of-enough-length-for-tests"
LAST = 4
"""How many final characters get every single-character substitution."""


def variants(token: str) -> list[str]:
    """Every single-character substitution of the last LAST characters, ``=``/``==``
    appended, and a non-ASCII character added (which itsdangerous used to drop)."""
    found = set()
    for index in range(len(token) - LAST, len(token)):
        for char in ALPHABET:
            if char != token[index]:
                found.add(token[:index] + char + token[index + 1 :])
    found.update({token + "=", token + "==", token + "é", "é" + token, token + "."})
    found.discard(token)
    return sorted(found)


def test_variants_include_the_ones_that_used_to_pass() -> None:
    """The test's own premise: among the variants of a real token are strings itsdangerous
    alone accepts (so the refusals below prove the canonical check, not chance)."""
    from itsdangerous import BadSignature, URLSafeSerializer

    raw = URLSafeSerializer(SECRET, salt="shop-access.approval-link.v1")
    token = LinkSigner(SECRET, "http://x").token("req_x", OLI)
    lenient = []
    for variant in variants(token):
        try:
            raw.loads(variant)
            lenient.append(variant)
        except BadSignature:
            pass
    assert token + "=" in lenient and token + "==" in lenient
    assert len(lenient) >= 4, lenient  # padding bits too


def test_r13_approval_and_invitation_links_accept_only_the_exact_token() -> None:
    links = LinkSigner(SECRET, "http://x")
    invitations = InvitationLinks(SECRET, "http://x")
    for token, verify in (
        (links.token("req_x", OLI), links.verify),
        (links.token("req_x"), links.verify),
        (invitations.token("inv_x", OLI), invitations.verify),
        (invitations.token("inv_x"), invitations.verify),
    ):
        assert verify(token) is not None and is_canonical(token)
        accepted = [v for v in variants(token) if verify(v) is not None]
        assert accepted == []


def test_r13_form_tokens_and_session_cookies_accept_only_the_exact_token() -> None:
    forms = FormTokens(SECRET)
    form = forms.issue("approve", request_id="req_x", email=OLI)
    assert forms.check(form, "approve", request_id="req_x", email=OLI).nonce
    for variant in variants(form):
        with pytest.raises(FormRejected) as refused:
            forms.check(variant, "approve", request_id="req_x", email=OLI)
        assert refused.value.reason == "forged"
    cookies = SessionCookies(SECRET)
    cookie = cookies.dump("session-id")
    assert cookies.load(cookie) == "session-id"
    assert [v for v in variants(cookie) if cookies.load(v) is not None] == []


def test_over_long_and_oddly_shaped_strings_are_not_tokens() -> None:
    token = LinkSigner(SECRET, "http://x").token("req_x", OLI)
    for odd in ("", ".", "..", token + "." + token, "a" * 5000, token.replace(".", "..")):
        assert LinkSigner(SECRET, "http://x").verify(odd) is None


async def test_r13_every_altered_link_gets_the_forged_link_page_and_changes_nothing(
    http: httpx.AsyncClient, service: RequestService, settings: Settings, demo: Engine
) -> None:
    sub = await submit(service, S1_SHOP)
    forged = await http.get("/approve/not-a-token")
    assert forged.status_code == 400 and "This link is not valid" in forged.text
    for genuine in (
        personal_path(settings, sub.request_id, OLI),
        copy_path(settings, sub.request_id),
    ):
        shown = await http.get(genuine)
        assert shown.status_code == 200
        kind = "approve" if "/approve/" in genuine and 'data-scenario="S1"' in shown.text else None
        csrf = csrf_in(shown.text, kind or "personal-link")
        before = snapshot(demo)
        token = genuine.removeprefix("/approve/")
        for variant in variants(token):
            path = "/approve/" + variant
            opened = await http.get(path)
            assert (opened.status_code, opened.text) == (400, forged.text), variant
            posted = await http.post(path, data={"csrf": csrf})
            assert (posted.status_code, posted.text) == (400, forged.text), variant
        asked = await http.post(
            "/approve/" + token + "=/personal-link", data={"csrf": csrf, "email": OLI}
        )
        assert (asked.status_code, asked.text) == (400, forged.text)
        assert snapshot(demo) == before
