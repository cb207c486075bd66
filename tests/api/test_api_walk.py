"""The API walk, as docs/api.md's "End to end" section writes it: create a
token, request access through the API, receive the webhook, approve through the link
handler, receive the next webhook, export and verify the shop's audit (R26, R27).

Each step is the walk's: the token from ``starter.py api-token create`` (a real
subprocess), calls over HTTP to the link handler's app, a real HTTP receiver on loopback
verifying signatures with the Standard Webhooks library as docs/webhooks.md shows, the
seller's personal approval page, and ``starter.py audit verify`` on the file the API
exported.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Engine

from client.access_requests import RequestService
from models.settings import Settings
from tests.conftest import AGENCY, ANA, OLI, S1_SHOP, wait_until
from tests.test_cli import refused, run
from tests.test_webhooks import signature_ok
from tests.web.conftest import csrf_in, personal_path, submit

pytestmark = pytest.mark.asyncio(loop_scope="session")


@dataclass
class Inbox:
    """What the receiver got: each POST's headers and raw body, as sent."""

    url: str = ""
    posts: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def event(self, kind: str, entity_id: str) -> tuple[dict[str, str], bytes] | None:
        with self.lock:
            for headers, body in self.posts:
                sent = json.loads(body)
                if sent["type"] == kind and sent["entity"]["id"] == entity_id:
                    return headers, body
        return None


@pytest.fixture()
def inbox() -> Iterator[Inbox]:
    """A webhook receiver on loopback that stores everything and answers 204."""
    got = Inbox()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            with got.lock:
                got.posts.append(({k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(204)
            with contextlib.suppress(OSError):
                self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    got.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield got
    server.shutdown()
    server.server_close()


async def received(inbox: Inbox, secret: str, kind: str, request_id: str) -> dict[str, Any]:
    """Wait for the event, check its signature as a receiver must, and return it."""
    found = await wait_until(lambda: inbox.event(kind, request_id), what=f"the {kind} webhook")
    assert found is not None
    headers, body = found
    assert signature_ok(secret, headers, body)
    assert not signature_ok("whsec_" + "b3RoZXItc2VjcmV0LTAxMjM0NTY3ODlhYmNkZWY=", headers, body)
    event: dict[str, Any] = json.loads(body)
    assert headers["webhook-id"] == event["id"]
    return event


async def test_r26_the_api_walk(
    app: FastAPI,
    settings: Settings,
    demo: Engine,
    service: RequestService,
    inbox: Inbox,
    tmp_path: Path,
) -> None:
    env = {"DATABASE_URL": demo.url.render_as_string(hide_password=False), "DEV_MODE": "1"}
    # The quick start has asked for GBLINKED01 already (its S1 demo request).
    quickstart = await submit(service, S1_SHOP)

    # 1. A token that may act.
    made = await run("starter.py", "api-token", "create", "--name", "crm", "--scope", "act",
                     "--json", env=env)  # fmt: skip
    assert made.code == 0, made.err
    auth = {"Authorization": f"Bearer {made.json['token']}"}
    web = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=settings.link_base_url)
    async with web, contextlib.AsyncExitStack() as cleanup:
        api = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url=settings.link_base_url + "/api/v1",
            headers=auth,
        )
        await cleanup.enter_async_context(api)

        # 2. The quick start's own request is pending: cancel it, so the walk can ask.
        pending = await api.get("/requests", params={"bc_id": str(AGENCY)})
        (row,) = [r for r in pending.json()["requests"] if r["status"] == "pending"]
        assert row["request_id"] == quickstart.request_id
        cancelled = await api.post(f"/requests/{row['request_id']}/cancel", json={"as": ANA})
        assert cancelled.json()["status"] == "cancelled", cancelled.text

        # 3. Subscribe the receiver to the shop's changes; the secret is shown once.
        hook = await api.post("/webhooks", json={"shop_code": S1_SHOP, "url": inbox.url})
        assert hook.status_code == 201, hook.text
        secret, hook_id = hook.json()["secret"], hook.json()["id"]
        cleanup.push_async_callback(api.delete, f"/webhooks/{hook_id}")

        # 4. Request access through the API; the receiver gets the signed event.
        asked = await api.post(
            "/requests", json={"bc_id": str(AGENCY), "shop_code": S1_SHOP, "as": ANA}
        )
        assert asked.status_code == 201, asked.text
        request_id = asked.json()["request_id"]
        requested = await received(inbox, secret, "access_request.requested", request_id)
        assert requested["subscription"] == {"id": hook_id, "shop_code": S1_SHOP}
        assert requested["actor"] == ANA

        # 5. The seller approves on the link handler's page (their personal link).
        link = personal_path(settings, request_id, OLI)
        page = await web.get(link)
        assert page.status_code == 200, page.text
        done = await web.post(link, data={"csrf": csrf_in(page.text)})
        assert "<h1>Approved</h1>" in done.text

        # 6. The next webhook: approved, after the request in the chain.
        approved = await received(inbox, secret, "access_request.approved", request_id)
        assert approved["actor"] == OLI
        assert approved["audit"]["seq"] > requested["audit"]["seq"]
        log = await api.get(f"/webhooks/{hook_id}/deliveries")
        assert {e["event_id"] for e in log.json()["deliveries"]} >= {
            requested["id"], approved["id"]
        }  # fmt: skip

        # 7. Export the shop's audit through the API and verify it: API and CLI.
        exported = await api.get("/audit/export", params={"shop_code": S1_SHOP})
        assert exported.status_code == 200
        file = tmp_path / "gblinked01.jsonl"
        file.write_bytes(exported.content)
        hashes = [json.loads(line).get("hash") for line in exported.text.splitlines()]
        assert requested["audit"]["hash"] in hashes and approved["audit"]["hash"] in hashes
        ok = await api.post("/audit/verify", content=file.read_bytes())
        assert ok.status_code == 200 and ok.json()["ok"] is True, ok.text
        cli_ok = await run("starter.py", "audit", "verify", str(file), "--json", env=env)
        assert cli_ok.code == 0, cli_ok.err
        assert cli_ok.json == ok.json()
        assert ok.json()["head"] == exported.headers["audit-export-head"]

        # 8. Alter one line: both name it.
        lines = file.read_text().splitlines()
        number = next(n for n, t in enumerate(lines, 1) if request_id in t and OLI in t)
        lines[number - 1] = lines[number - 1].replace(OLI, "mallory@example.com")
        file.write_text("\n".join(lines) + "\n")
        bad = await api.post("/audit/verify", content=file.read_bytes())
        assert bad.status_code == 422
        assert bad.json()["error"]["code"] == "audit_line_altered"
        assert bad.json()["error"]["details"] == {"line": number}
        cli_bad = await run("starter.py", "audit", "verify", str(file), "--json", env=env)
        assert refused(cli_bad, "audit_line_altered") == bad.json()["error"]["message"]
        assert cli_bad.json["error"]["details"] == {"line": number}
