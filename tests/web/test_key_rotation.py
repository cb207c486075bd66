"""Secret rotation: SECRET_KEY signs, SECRET_KEYS_OLD only verifies, so a
new key does not void the links already mailed; a key dropped from the list opens nothing."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr, ValidationError
from sqlalchemy import Engine
from temporalio.client import Client

from client.access_requests import RequestService
from client.invitation_links import InvitationLinks
from client.links import LinkSigner
from linkhandler.app import create_app
from models.settings import Settings
from tests.conftest import OLI, S1_SHOP
from tests.web.conftest import csrf_in, snapshot, submit
from web.security import SESSION_COOKIE

OLD = "the-key-mailed-links-were-signed-with"
NEW = "the-key-that-signs-from-today-onwards"


def rotated(settings: Settings, *, key: str, old: str = "") -> Settings:
    return settings.model_copy(
        update={"secret_key": SecretStr(key), "secret_keys_old": SecretStr(old)}
    )


def test_settings_list_keys_oldest_first_and_refuse_weak_old_keys() -> None:
    def settings(key: str, old: str = "") -> Settings:
        return Settings(secret_key=SecretStr(key), secret_keys_old=SecretStr(old))

    assert settings(NEW, f" {OLD} , older-key-of-enough-length ").secret_keys == [
        "older-key-of-enough-length",
        OLD,
        NEW,
    ]
    assert settings(NEW).secret_keys == [NEW]
    assert settings(NEW, NEW).secret_keys == [NEW]  # listed twice: signs, once
    for weak in ("short", "dev-only-secret-change-me"):
        with pytest.raises(ValidationError, match="SECRET_KEYS_OLD"):
            settings(NEW, weak)


def test_the_newest_key_signs_and_every_listed_key_verifies() -> None:
    before = LinkSigner(OLD, "http://x")
    after = LinkSigner([OLD, NEW], "http://x")
    mailed = before.token("req_x", OLI)
    assert after.verify(mailed) is not None
    assert after.token("req_x", OLI) == LinkSigner(NEW, "http://x").token("req_x", OLI)
    assert LinkSigner(NEW, "http://x").verify(mailed) is None  # the old key dropped
    invitation = InvitationLinks(OLD, "http://x").token("inv_x", OLI)
    assert InvitationLinks([OLD, NEW], "http://x").verify(invitation) is not None
    assert InvitationLinks(NEW, "http://x").verify(invitation) is None


async def test_a_link_mailed_before_rotation_still_opens_and_a_dropped_key_is_refused(
    service: RequestService, settings: Settings, demo: Engine, client: Client, worker: Any
) -> None:
    sub = await submit(service, S1_SHOP)
    path = "/approve/" + LinkSigner(OLD, settings.link_base_url).token(sub.request_id, OLI)

    def app(config: Settings) -> FastAPI:
        return create_app(config, client=client, engine=demo)

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app(rotated(settings, key=OLD))),
        base_url=settings.link_base_url,
    ) as before_rotation:
        page = await before_rotation.get(path)
        assert page.status_code == 200 and 'data-scenario="S1"' in page.text
        signin = await before_rotation.post(
            path + "/signin", data={"csrf": csrf_in(page.text, "signin")}
        )
        assert signin.status_code == 303
        cookie = before_rotation.cookies[SESSION_COOKIE]

    # Rotated: the link, the open page's form token and the session all still work.
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app(rotated(settings, key=NEW, old=OLD))),
        base_url=settings.link_base_url,
    ) as after_rotation:
        reopened = await after_rotation.get(path)
        assert reopened.status_code == 200 and 'data-scenario="S1"' in reopened.text
        after_rotation.cookies.set(SESSION_COOKIE, cookie)
        assert (await after_rotation.get("/partners")).status_code == 200
        approved = await after_rotation.post(path, data={"csrf": csrf_in(page.text)})
        assert approved.status_code == 200 and "<h1>Approved</h1>" in approved.text
    await service.client.get_workflow_handle(sub.workflow_id).result()  # its e-mails sent

    # The old key retired: the same link is a forged one, and nothing moves.
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app(rotated(settings, key=NEW))),
        base_url=settings.link_base_url,
    ) as retired:
        before = snapshot(demo)
        refused = await retired.get(path)
        assert refused.status_code == 400 and "This link is not valid" in refused.text
        posted = await retired.post(path, data={"csrf": csrf_in(page.text)})
        assert posted.status_code == 400 and "This link is not valid" in posted.text
        retired.cookies.set(SESSION_COOKIE, cookie)
        assert (await retired.get("/partners")).status_code == 401
        assert snapshot(demo) == before


def test_the_environment_names_the_old_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRET_KEY", NEW)
    monkeypatch.setenv("SECRET_KEYS_OLD", OLD)
    assert Settings().secret_keys == [OLD, NEW]
