"""Load through the front door: the users bench/front_door.py sets Locust on.

Run by bench/front_door.py (headless, bounded in users and time, loopback only), which
writes the run's data to the JSON file BENCH_FRONT_DOOR_DATA names: the link handlers'
base URLs, each seller's e-mailed personal links, the API clients' tokens and the
requests they may create. Three kinds of user, each a fixed count:

- **Seller** (R7, R10, R12 S1 and S3): opens the next personal link mailed to them,
  reads the page, and approves (S3: with the BC the page offers); idle once every link
  is used. Odd sellers' shops start unlinked: their first approval is S3 and links the
  BC picked, so the rest are S1 (the route's name says which);
- **ApiClient** (R26): with its token, lists its BC's requests (three times in four) or
  requests access to a shop (an Idempotency-Key each), while its budget lasts (R4);
- **Floor**: a trivial route (``/healthz``) on the same link-handler processes, so every
  figure has a floor measured in the same run.

Requests are named by route, not URL, so the statistics are per route.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import uuid
from pathlib import Path
from typing import Any

from locust import HttpUser, between, task

DATA: dict[str, Any] = json.loads(Path(os.environ["BENCH_FRONT_DOOR_DATA"]).read_text())
BASES: list[str] = DATA["bases"]

_sellers = itertools.count()
_clients = itertools.count()
_floors = itertools.count()

CSRF = re.compile(r'name="csrf" value="([^"]+)"')
# S3's list of the seller's BCs: the first option with a value.
BC_OPTION = re.compile(r'<option value="(\d+)"')


def base_for(index: int) -> str:
    """Round robin over the link handlers: a load balancer's stand-in."""
    return BASES[index % len(BASES)]


class Seller(HttpUser):
    fixed_count = int(os.environ.get("BENCH_SELLERS", "50"))
    wait_time = between(1, 3)  # reading the e-mail, then the page
    host = BASES[0]

    def on_start(self) -> None:
        self.index = next(_sellers)
        self.client.base_url = base_for(self.index)
        sellers = DATA["sellers"]
        self.links: list[dict[str, str]] = list(sellers[self.index % len(sellers)]["links"])

    @task
    def approve_next(self) -> None:
        if not self.links:
            return  # every request mailed to this seller is decided
        link = self.links.pop(0)
        with self.client.get(
            link["path"], name="GET /approve/{token}", catch_response=True
        ) as page:
            found = CSRF.search(page.text or "")
            if page.status_code != 200 or not found:
                page.failure(f"no approval form ({page.status_code})")
                return
            form = {"csrf": found.group(1)}
            # S3 until the shop's first approval links the BC picked; S1 from then on.
            option = BC_OPTION.search(page.text)
            scenario = "S3" if option else "S1"
            if option:
                form["bc_id"] = option.group(1)
        with self.client.post(
            link["path"], data=form, name=f"POST /approve/{{token}} ({scenario})",
            catch_response=True,
        ) as done:  # fmt: skip
            if done.status_code != 200 or "<h1>Approved</h1>" not in (done.text or ""):
                done.failure(f"not approved ({done.status_code})")


class ApiClient(HttpUser):
    fixed_count = int(os.environ.get("BENCH_API_CLIENTS", "10"))
    wait_time = between(1, 2)
    host = BASES[0]

    def on_start(self) -> None:
        self.index = next(_clients)
        self.client.base_url = base_for(self.index)
        client = DATA["api_clients"][self.index % len(DATA["api_clients"])]
        self.client.headers["Authorization"] = f"Bearer {client['token']}"
        self.bc_id: str = client["bc_id"]
        self.creatable: list[dict[str, str]] = list(client["creatable"])

    @task(3)
    def list_requests(self) -> None:
        self.client.get(f"/api/v1/requests?bc_id={self.bc_id}", name="GET /api/v1/requests?bc_id")

    @task(1)
    def create_request(self) -> None:
        if not self.creatable:
            return self.list_requests()  # R4's budget for today is spent
        new = self.creatable.pop(0)
        self.client.post(
            "/api/v1/requests",
            json={"bc_id": new["bc_id"], "shop_code": new["shop_code"], "as": new["as"]},
            headers={"Idempotency-Key": uuid.uuid4().hex},
            name="POST /api/v1/requests",
        )


class Floor(HttpUser):
    fixed_count = int(os.environ.get("BENCH_FLOORS", "2"))
    wait_time = between(0.2, 0.5)
    host = BASES[0]

    def on_start(self) -> None:
        self.client.base_url = base_for(next(_floors))

    @task
    def healthz(self) -> None:
        self.client.get("/healthz", name="GET /healthz (floor)")
