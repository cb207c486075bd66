"""Links that cannot be abused (R7, R13): forged, altered and wrong-request tokens, CSRF,
GET changing nothing, and the copied link's personal-link request without enumeration."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import httpx
from sqlalchemy import Engine

from client.access_requests import RequestService
from models.enums import RequestStatus
from models.messages import RequestState
from models.names import Message
from models.settings import Settings
from tests.conftest import (
    ANA,
    KIM,
    NIA,
    OLI,
    RAJ,
    S1_SHOP,
    S2_SHOP,
    S3_SHOP,
    outbox_messages,
    wait_until,
)
from tests.web.conftest import copy_path, csrf_in, personal_path, snapshot, submit
from web.security import FormTokens


def altered(token: str, email: str) -> str:
    """The same signature over a payload naming someone else: what a tamperer would try."""
    payload, signature = token.rsplit(".", 1)
    data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    data["e"] = email
    forged = base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")
    return f"{forged}.{signature}"


async def test_r13_forged_and_altered_tokens_get_a_clear_page_and_change_nothing(
    http: httpx.AsyncClient, service: RequestService, settings: Settings, demo: Engine
) -> None:
    sub = await submit(service, S1_SHOP)
    genuine = personal_path(settings, sub.request_id, OLI)
    csrf = csrf_in((await http.get(genuine)).text)
    before = snapshot(demo)
    token = genuine.removeprefix("/approve/")
    for path in (
        "/approve/not-a-token",
        "/approve/" + token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB"),
        "/approve/" + altered(token, "mallory@example.com"),
    ):
        shown = await http.get(path)
        assert shown.status_code == 400, path
        assert "This link is not valid" in shown.text and "Nothing was changed" in shown.text
        posted = await http.post(path, data={"csrf": csrf})
        assert posted.status_code == 400
    assert snapshot(demo) == before


async def test_r13_a_genuine_token_for_an_unknown_request_says_so(
    http: httpx.AsyncClient, settings: Settings
) -> None:
    shown = await http.get(personal_path(settings, "req_doesnotexist0000000", OLI))
    assert shown.status_code == 404 and "This request does not exist" in shown.text


async def test_r13_a_form_from_another_request_is_refused_and_changes_nothing(
    http: httpx.AsyncClient, service: RequestService, settings: Settings, demo: Engine
) -> None:
    s1 = await submit(service, S1_SHOP)
    s3 = await submit(service, S3_SHOP)
    s3_csrf = csrf_in((await http.get(personal_path(settings, s3.request_id, RAJ))).text)
    before = snapshot(demo)
    refused = await http.post(personal_path(settings, s1.request_id, OLI), data={"csrf": s3_csrf})
    assert refused.status_code == 403 and "This form could not be checked" in refused.text
    assert snapshot(demo) == before


async def test_csrf_missing_or_bad_is_refused_and_changes_nothing(
    http: httpx.AsyncClient, service: RequestService, settings: Settings, demo: Engine
) -> None:
    sub = await submit(service, S1_SHOP)
    link = personal_path(settings, sub.request_id, OLI)
    before = snapshot(demo)
    other_secret = FormTokens("another-secret-of-enough-length").issue(
        "approve", request_id=sub.request_id, email=OLI
    )
    wrong_purpose = FormTokens(settings.secret_key.get_secret_value()).issue(
        "signin", request_id=sub.request_id, email=OLI
    )
    for data in ({}, {"csrf": ""}, {"csrf": "garbage"}, {"csrf": other_secret},
                 {"csrf": wrong_purpose}):  # fmt: skip
        refused = await http.post(link, data=data)
        assert refused.status_code == 403, data
        assert "This form could not be checked" in refused.text
    assert snapshot(demo) == before
    assert service.status(sub.request_id).status is RequestStatus.PENDING


async def test_get_never_changes_anything(
    http: httpx.AsyncClient, service: RequestService, settings: Settings, demo: Engine
) -> None:
    """Mail scanners open links: every GET leaves the store and the workflow as they were."""
    requests = [
        (await submit(service, S1_SHOP), OLI),
        (await submit(service, S2_SHOP), NIA),
        (await submit(service, S3_SHOP), RAJ),
    ]
    before = snapshot(demo)
    for sub, seller in requests:
        for path in (personal_path(settings, sub.request_id, seller),
                     copy_path(settings, sub.request_id)):  # fmt: skip
            for _ in range(2):
                assert (await http.get(path)).status_code == 200
    assert (await http.get("/partners")).status_code == 401
    assert snapshot(demo) == before
    for sub, _ in requests:
        handle = service.client.get_workflow_handle(sub.workflow_id)
        state = await handle.query(Message.STATE, result_type=RequestState)
        assert state.status is RequestStatus.PENDING and state.personal_links == []


async def test_the_copied_link_shows_the_request_but_cannot_approve(
    http: httpx.AsyncClient, service: RequestService, settings: Settings, demo: Engine
) -> None:
    sub = await submit(service, S1_SHOP)
    path = sub.approval_url.removeprefix(settings.link_base_url)
    shown = await http.get(path)
    assert shown.status_code == 200
    assert "Agency One" in shown.text and '<label for="email">' in shown.text
    before = snapshot(demo)
    forged = FormTokens(settings.secret_key.get_secret_value()).issue(
        "approve", request_id=sub.request_id
    )
    refused = await http.post(path, data={"csrf": forged})
    assert refused.status_code == 403 and "Use your personal link" in refused.text
    assert snapshot(demo) == before


async def _mail_to(settings: Settings, address: str, *, wait: float) -> list:
    found: list = []
    for _ in range(int(wait / 0.1)):
        found = [m for m in outbox_messages(settings) if m["To"] == address
                 and "Your link to review" in m["Subject"]]  # fmt: skip
        if found:
            break
        await asyncio.sleep(0.1)
    return found


async def _personal_links_sent(service: RequestService, workflow_id: str) -> None:
    """Wait until the workflow's queue of personal links to mail is empty."""
    handle = service.client.get_workflow_handle(workflow_id)

    async def queue_empty() -> bool:
        state = await handle.query(Message.STATE, result_type=RequestState)
        return not state.personal_links

    await wait_until(queue_empty, what="every personal link asked for mailed")


async def test_r7_personal_link_same_answer_for_anyone_only_the_team_gets_mail(
    http: httpx.AsyncClient, service: RequestService, settings: Settings, demo: Engine
) -> None:
    sub = await submit(service, S1_SHOP)
    path = copy_path(settings, sub.request_id)
    answers = {}
    for address in (OLI, "stranger@example.com", KIM):  # KIM: real user, other shop's team
        page = await http.get(path)
        answer = await http.post(
            path + "/personal-link",
            data={"csrf": csrf_in(page.text, "personal-link"), "email": address.upper()},
        )
        assert answer.status_code == 200
        answers[address] = answer.text.replace(address, "ADDRESS")
    assert answers[OLI] == answers["stranger@example.com"] == answers[KIM]
    assert "Check your e-mail" in answers[OLI]

    mails = await _mail_to(settings, OLI, wait=10)
    assert len(mails) == 1
    body = mails[0].get_body(preferencelist=("plain",)).get_content()
    link = next(line for line in body.splitlines() if "/approve/" in line).strip()
    assert link.removeprefix(settings.link_base_url) == personal_path(settings, sub.request_id, OLI)
    opened = await http.get(link.removeprefix(settings.link_base_url))
    assert 'data-scenario="S1"' in opened.text  # the personal link can approve
    # Every ask was answered (the updates completed) and only a team member's is queued:
    # once the queue is empty, nothing more will be mailed.
    await _personal_links_sent(service, sub.workflow_id)
    recipients = {m["To"] for m in outbox_messages(settings) if "Your link" in m["Subject"]}
    assert recipients == {OLI}
    # Whatever someone typed stays out of the durable history: the ask carries only the
    # team member it matched (anyone may type anyone's address).
    history = await service.client.get_workflow_handle(sub.workflow_id).fetch_history()
    recorded = history.to_json().encode() + b"".join(
        p.data for e in history.events for p in _payloads(e)
    )
    assert ANA.encode() in recorded  # the scan sees payloads: the requester is in them
    for typed in ("stranger@example.com", KIM, OLI):
        assert typed.encode() not in recorded and typed.upper().encode() not in recorded


def _payloads(event: Any) -> list[Any]:
    """Every payload in a history event (update inputs, activity inputs and results)."""
    found: list[Any] = []

    def walk(message: Any) -> None:
        for field, value in message.ListFields():
            if field.message_type is None:
                continue
            if hasattr(value, "ListFields"):
                items = [value]
            elif callable(getattr(value, "values", None)):  # a map field
                items = list(value.values())
            else:
                items = list(value)
            for item in items:
                if not hasattr(item, "ListFields"):
                    continue
                if item.DESCRIPTOR.full_name == "temporal.api.common.v1.Payload":
                    found.append(item)
                else:
                    walk(item)

    walk(event)
    return found


async def test_r7_asking_twice_for_a_personal_link_sends_one_mail(
    http: httpx.AsyncClient, service: RequestService, settings: Settings
) -> None:
    sub = await submit(service, S1_SHOP)
    path = copy_path(settings, sub.request_id)
    form = {"csrf": csrf_in((await http.get(path)).text, "personal-link"), "email": OLI}
    await asyncio.gather(*(http.post(path + "/personal-link", data=form) for _ in range(3)))
    assert len(await _mail_to(settings, OLI, wait=10)) == 1
    await _personal_links_sent(service, sub.workflow_id)
    assert len(await _mail_to(settings, OLI, wait=0.1)) == 1


async def test_personal_link_request_needs_a_valid_form_and_address(
    http: httpx.AsyncClient, service: RequestService, settings: Settings, demo: Engine
) -> None:
    sub = await submit(service, S1_SHOP)
    path = copy_path(settings, sub.request_id)
    csrf = csrf_in((await http.get(path)).text, "personal-link")
    bad_csrf = await http.post(path + "/personal-link", data={"email": OLI})
    assert bad_csrf.status_code == 403
    not_an_address = await http.post(
        path + "/personal-link", data={"csrf": csrf, "email": "not an address"}
    )
    assert not_an_address.status_code == 422 and 'role="alert"' in not_an_address.text
    handle = service.client.get_workflow_handle(sub.workflow_id)
    state = await handle.query(Message.STATE, result_type=RequestState)
    assert state.personal_links == []


async def test_r13_a_decided_request_sends_no_personal_link_and_says_how_it_ended(
    http: httpx.AsyncClient, service: RequestService, settings: Settings, demo: Engine
) -> None:
    sub = await submit(service, S1_SHOP)
    path = copy_path(settings, sub.request_id)
    csrf = csrf_in((await http.get(path)).text, "personal-link")
    link = personal_path(settings, sub.request_id, OLI)
    await http.post(link, data={"csrf": csrf_in((await http.get(link)).text)})
    await service.client.get_workflow_handle(sub.workflow_id).result()
    before = snapshot(demo)
    answer = await http.post(path + "/personal-link", data={"csrf": csrf, "email": OLI})
    assert answer.status_code == 409 and "This request was already approved" in answer.text
    assert snapshot(demo) == before
