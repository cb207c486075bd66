"""R28: the language link in every e-mail is signed for its recipient, so a language picked
there is saved on them and the next e-mail follows it, with no sign-in; a forged or altered
link is refused and saves nothing (client/language_links.py)."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import Engine
from sqlmodel import select

from client.access_requests import RequestService
from models.settings import Settings
from models.tables import User
from store.db import read_session
from tests.conftest import ANA, KIM, S4_SHOP, outbox_messages, wait_until
from tests.web.conftest import links, submit
from web.locale import LANGUAGE_COOKIE


def _language(engine: Engine, email: str) -> str | None:
    with read_session(engine) as session:
        return session.exec(select(User).where(User.email == email)).one().preferred_language


def _switch_link(settings: Settings, to: str) -> str:
    """The language link of the last e-mail to ``to``, as its reader would click it."""
    for message in reversed(outbox_messages(settings)):
        if message["To"] == to:
            body = message.get_body(preferencelist=("plain",)).get_content()
            return next(w for w in body.split() if "/language/" in w)
    raise AssertionError(f"no e-mail to {to}")


async def test_r28_the_emails_language_link_saves_the_choice_on_its_recipient(
    http: httpx.AsyncClient, service: RequestService, settings: Settings, demo: Engine
) -> None:
    sub = await submit(service, S4_SHOP)  # Kim's approval request, in Thai (her market)
    link = _switch_link(settings, KIM)
    path = link.removeprefix(settings.link_base_url)
    shown = await http.get(path)
    assert shown.status_code == 200 and f'name="next" value="{path}"' in shown.text

    chosen = await http.post("/language", data={"language": "vi", "next": path})
    assert chosen.status_code == 303 and chosen.headers["location"] == path
    assert _language(demo, KIM) == "vi"  # saved on Kim: no session, no personal page

    # The next e-mail to Kim follows her choice.
    before = {m["X-Shop-Access-Key"] for m in outbox_messages(settings)}
    await service.resend(sub.request_id, by=ANA, copy_link=False)

    async def resent() -> list[Any]:
        return [
            m for m in outbox_messages(settings)
            if m["To"] == KIM and m["X-Shop-Access-Key"] not in before
        ]  # fmt: skip

    (again,) = await wait_until(resent, what="the resent e-mail to Kim")
    assert again["Content-Language"] == "vi"


async def test_r28_a_forged_language_link_is_refused_and_saves_nothing(
    http: httpx.AsyncClient, settings: Settings, demo: Engine
) -> None:
    genuine = links(settings).language_link(KIM).removeprefix(settings.link_base_url)
    forged = genuine[:-4] + ("AAAA" if not genuine.endswith("AAAA") else "BBBB")
    refused = await http.get(forged)
    assert refused.status_code == 400
    assert "This link is not valid" in refused.text
    # A choice posted back to the forged page is the visitor's cookie only.
    answer = await http.post("/language", data={"language": "vi", "next": forged})
    assert answer.status_code == 303
    assert f"{LANGUAGE_COOKIE}=vi" in answer.headers["set-cookie"]
    assert _language(demo, KIM) is None
