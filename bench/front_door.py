"""Load through the front door: Locust against the production shape on PostgreSQL.

    .venv/bin/python bench/front_door.py [--sellers 50] [--api-clients 10] [--receivers 2]
                                         [--run-time 120] [--workers 2] [--web 2]

Starts a private dev server (bench/harness.py) and a scratch PostgreSQL database, loads
generated reference data (agencies; one shop per seller, S1 and S3 alternating), then
``scripts/production``'s supervisor (``python -m devtools.production``: migrate, the
workers and the link handlers, each answering /readyz) with DEV_MODE off, a random
SECRET_KEY and webhooks allowed to loopback receivers only. Before the load:

- ``--receivers`` webhook receivers (HTTP servers in this process, on 127.0.0.1), each
  subscribed through the API to one shop sellers approve on;
- every seller's pending requests, submitted and e-mailed (the outbox): the personal
  link read from each e-mail is what its seller opens (R7, R10);
- one API token per API client, each acting for its own agency BCs.

Then Locust, headless, for ``--run-time`` seconds with exactly the users above plus the
floor's (bench/locustfile.py). Reports p50/p95/p99 per route, the errors (target: none),
the floor route's figures from the same run and processes, and the webhook delivery lag
(received here minus the event's ``time``) of the events that happened during the load.
Everything is on loopback and stopped at the end, by pid. The last line is JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import email
import email.policy
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import (
    DEFAULT_POSTGRES_ADMIN_URL,
    REQUESTS_PER_BC,
    DevServer,
    Pair,
    client_for,
    dev_server,
    log,
    outbox_file,
    percentile,
    postgres_store,
    prepare_store,
    reference_data,
    stop_process,
    tail,
    wait_for_file,
    workdir,
)
from bench.store_queries import user_ids
from client.access_requests import RequestService
from models.enums import RequestMethod
from store.api_tokens import Scope, create_token
from store.db import write_session
from store.reference import load_reference

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
FLOOR_ROUTE = "GET /healthz (floor)"


def free_ports(count: int) -> int:
    """The first of ``count`` consecutive free loopback ports (scripts/production numbers
    its processes' ports from a base)."""
    for _ in range(200):
        with socket.socket() as probe:
            probe.bind((HOST, 0))
            base = int(probe.getsockname()[1])
        if base + count > 65535:
            continue
        sockets: list[socket.socket] = []
        try:
            for port in range(base, base + count):
                sock = socket.socket()
                sockets.append(sock)
                sock.bind((HOST, port))
            return base
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()
    raise RuntimeError(f"no {count} consecutive free ports on {HOST}")


# --- webhook receivers ---------------------------------------------------------------


@dataclass
class Receiver:
    """One receiver: when each event arrived, and the ``time`` the event carries."""

    server: ThreadingHTTPServer
    # (arrived, the event's time, "path|event id")
    received: list[tuple[float, float, str]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.server.server_address[1]}/hooks"


def start_receiver() -> Receiver:
    receiver = Receiver(ThreadingHTTPServer((HOST, 0), BaseHTTPRequestHandler))
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            arrived = time.time()
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            event = json.loads(body)
            happened = datetime.fromisoformat(event["time"]).timestamp()
            with lock:
                # One server may stand for many receivers, one path each.
                receiver.received.append((arrived, happened, f"{self.path}|{event['id']}"))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    receiver.server.RequestHandlerClass = Handler
    threading.Thread(target=receiver.server.serve_forever, daemon=True).start()
    return receiver


# --- the production shape ---------------------------------------------------------------


@dataclass
class Production:
    proc: subprocess.Popen[bytes]
    bases: list[str]
    env: dict[str, str]
    log_path: Path


@contextmanager
def production(
    server: DevServer, database_url: str, directory: Path, args: argparse.Namespace
) -> Iterator[Production]:
    # One run of free ports for all three ranges, so they cannot overlap.
    web_port = free_ports(args.web + 2 * args.workers)
    health_port = web_port + args.web
    metrics_port = health_port + args.workers
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "TEMPORAL_ADDRESS": server.address,
        "TEMPORAL_NAMESPACE": "default",
        "DATABASE_URL": database_url,
        "SECRET_KEY": secrets.token_urlsafe(32),
        "DEV_MODE": "0",
        "MAIL_OUTBOX_DIR": str(directory / "outbox"),
        "TASK_QUEUE": f"bench-front-{secrets.token_hex(4)}",
        "LINK_BASE_URL": f"http://{HOST}:{web_port}",
        # Only the receivers of this run, on loopback (R31).
        "WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",
        # The load is the point: no token's calls are throttled (docs/api.md).
        "API_CALLS_PER_MINUTE": "100000",
    }
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # as the lifecycle bench's workers (harness)
    env.pop("SMTP_URL", None)
    log_path = directory / "production.log"
    argv = [
        sys.executable, "-m", "devtools.production",
        "--workers", str(args.workers), "--web", str(args.web),
        "--web-port", str(web_port), "--health-port", str(health_port),
        "--metrics-port", str(metrics_port),
    ]  # fmt: skip
    with log_path.open("wb") as out:
        proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    shape = Production(
        proc, [f"http://{HOST}:{web_port + i}" for i in range(args.web)], env, log_path
    )
    try:
        deadline = time.monotonic() + 180
        while b"is ready" not in log_path.read_bytes():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"scripts/production did not start: {tail(log_path)}")
            time.sleep(0.3)
        yield shape
    finally:
        # SIGTERM to the supervisor: it stops its children gracefully (devtools/production.py).
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            stop_process(proc)


# --- the data the users need ---------------------------------------------------------


async def submit_links(
    service: RequestService, engine: Any, pairs: list[Pair], outbox: Path, concurrency: int
) -> list[str]:
    """Submit each pair's request and wait for the owner's e-mail in the outbox (R7); the
    personal link each e-mail carries, as a path."""
    gate = asyncio.Semaphore(concurrency)
    owners = user_ids(engine)

    async def one(pair: Pair) -> str:
        async with gate:
            sub = await service.submit(
                method=RequestMethod.REQUEST_ACCESS,
                bc_id=pair.bc_id,
                shop_code=pair.shop_code,
                by=pair.admin,
            )
            key = f"access_request:{sub.request_id}:send:1:to:{owners[pair.owner]}"
            mail = outbox_file(outbox, key)
            await wait_for_file(mail, timeout=300)
            return mailed_link(mail)

    return list(await asyncio.gather(*(one(pair) for pair in pairs)))


APPROVE_LINK = re.compile(r"https?://[^\s/]+(/approve/[A-Za-z0-9._-]+)")


def mailed_link(mail: Path) -> str:
    """The approval link in an e-mail's text part, as a path (the sellers spread over
    the link handlers, as a load balancer would)."""
    message = email.message_from_bytes(mail.read_bytes(), policy=email.policy.default)
    body = message.get_body(preferencelist=("plain",))
    found = APPROVE_LINK.search(body.get_content() if body else "")
    if not found:
        raise RuntimeError(f"no approval link in {mail.name}")
    return found.group(1)


def subscribe(bases: list[str], token: str, shop_code: str, url: str) -> None:
    """Subscribe ``url`` to the shop's changes through the API (docs/webhooks.md)."""
    call = urllib.request.Request(
        f"{bases[0]}/api/v1/webhooks",
        data=json.dumps({"shop_code": shop_code, "url": url}).encode(),
        headers={
            "Authorization": f"Bearer {token}",
            "Idempotency-Key": secrets.token_hex(8),
            "Content-Type": "application/json",
        },
        method="POST",
    )
    try:
        with urllib.request.urlopen(call, timeout=30) as answer:
            status = int(answer.status)
    except urllib.error.HTTPError as err:
        raise RuntimeError(f"subscribing {url}: {err.code} {err.read()[:500]!r}") from err
    if status != 201:
        raise RuntimeError(f"subscribing {url}: {status}")


# --- Locust and its figures ----------------------------------------------------------


def run_locust(args: argparse.Namespace, data_file: Path, directory: Path, base: str) -> Path:
    users = args.sellers + args.api_clients + args.floors
    prefix = directory / "locust"
    argv = [
        sys.executable, "-m", "locust", "-f", str(ROOT / "bench" / "locustfile.py"),
        "--headless", "--users", str(users), "--spawn-rate", str(users),
        "--run-time", f"{args.run_time}s", "--stop-timeout", "30",
        "--host", base, "--csv", str(prefix), "--only-summary", "--loglevel", "WARNING",
    ]  # fmt: skip
    env = {
        **os.environ,
        "BENCH_FRONT_DOOR_DATA": str(data_file),
        "BENCH_SELLERS": str(args.sellers),
        "BENCH_API_CLIENTS": str(args.api_clients),
        "BENCH_FLOORS": str(args.floors),
    }
    log(f"locust: {users} users for {args.run_time} s")
    done = subprocess.run(argv, cwd=directory, env=env, capture_output=True, text=True)
    (directory / "locust.log").write_text(done.stdout + done.stderr)
    if not Path(f"{prefix}_stats.csv").exists():
        raise RuntimeError(f"locust wrote no statistics:\n{done.stderr[-2000:]}")
    return prefix


def route_figures(prefix: Path) -> dict[str, dict[str, Any]]:
    """Per route from Locust's statistics CSV: count, failures, p50/p95/p99 (ms)."""
    routes: dict[str, dict[str, Any]] = {}
    with open(f"{prefix}_stats.csv", newline="") as stats:
        for row in csv.DictReader(stats):
            if row["Name"] == "Aggregated":
                continue
            routes[row["Name"]] = {
                "requests": int(row["Request Count"]),
                "failures": int(row["Failure Count"]),
                "p50_ms": float(row["50%"] or 0),
                "p95_ms": float(row["95%"] or 0),
                "p99_ms": float(row["99%"] or 0),
                "max_ms": round(float(row["Max Response Time"] or 0), 1),
            }
    return routes


def failure_messages(prefix: Path) -> list[str]:
    path = Path(f"{prefix}_failures.csv")
    if not path.exists():
        return []
    with path.open(newline="") as failures:
        return [
            f"{row['Name']}: {row['Error']} x{row['Occurrences']}"
            for row in csv.DictReader(failures)
        ]


def webhook_lag(receivers: list[Receiver], since: float) -> dict[str, Any]:
    """Delivery lag of the events that happened during the load (at least once: a
    redelivered event counts at its first arrival)."""
    first: dict[str, tuple[float, float]] = {}
    for receiver in receivers:
        for arrived, happened, event_id in receiver.received:
            key = f"{receiver.url}|{event_id}"
            if key not in first or arrived < first[key][0]:
                first[key] = (arrived, happened)
    lags = [arrived - happened for arrived, happened in first.values() if happened >= since]
    return {
        "events": len(lags),
        "lag_ms": {
            "p50": round(percentile(lags, 50) * 1000, 1),
            "p95": round(percentile(lags, 95) * 1000, 1),
            "p99": round(percentile(lags, 99) * 1000, 1),
            "max": round(max(lags, default=0.0) * 1000, 1),
        },
    }


# --- the run ------------------------------------------------------------------------


async def prepare_users(
    args: argparse.Namespace,
    server: DevServer,
    shape: Production,
    engine: Any,
    pairs: list[Pair],
    receivers: list[Receiver],
) -> dict[str, Any]:
    """Tokens, subscriptions and the sellers' mailed links: the locustfile's data."""
    with write_session(engine) as session:
        tokens = [
            create_token(session, name=f"bench client {i}", scopes={Scope.ACT})[1]
            for i in range(max(args.api_clients, 1))
        ]
    for r, receiver in enumerate(receivers):
        # Receiver r follows seller r's shop (S1 and S3 alternate), so it sees the load.
        await asyncio.to_thread(
            subscribe, shape.bases, tokens[0], f"BENCH{r % args.sellers:05d}", receiver.url
        )
    linked = args.sellers * args.links
    link_pairs, api_pairs = pairs[:linked], pairs[linked:]
    client = await client_for(server)
    service = RequestService(client, engine, shape.env["TASK_QUEUE"], timeout=300)
    log(f"submitting {len(link_pairs)} requests for the sellers and waiting for their e-mails")
    paths = await submit_links(service, engine, link_pairs, Path(shape.env["MAIL_OUTBOX_DIR"]), 20)
    sellers: list[dict[str, Any]] = [{"links": []} for _ in range(args.sellers)]
    for pair, path in zip(link_pairs, paths, strict=True):
        # The personal link of the e-mail the shop's owner received (R7).
        sellers[int(pair.shop_code.removeprefix("BENCH"))]["links"].append({"path": path})
    per_client = -(-len(api_pairs) // max(args.api_clients, 1))
    api_clients = [
        {
            "token": tokens[i],
            "bc_id": str(api_pairs[i * per_client].bc_id) if api_pairs else "0",
            "creatable": [
                {"bc_id": str(p.bc_id), "shop_code": p.shop_code, "as": p.admin}
                for p in api_pairs[i * per_client : (i + 1) * per_client]
            ],
        }
        for i in range(args.api_clients)
    ]
    return {"bases": shape.bases, "sellers": sellers, "api_clients": api_clients}


def split_pairs(args: argparse.Namespace) -> tuple[Any, list[Pair]]:
    """Reference data and the pairs to request: first ``--links`` per seller (shops
    ``BENCH00000`` up, one per seller), then ``--creatable`` per API client in BCs no
    request used before the run. Request i is BC i // 10 and shop i mod shops (harness):
    each pair once (R6), 10 a day per BC (R4); at least 10 shops, sellers' or not."""
    shops = max(args.sellers, REQUESTS_PER_BC)
    linked = args.sellers * args.links
    api_total = args.api_clients * args.creatable
    spread = -(-linked * shops // args.sellers) + REQUESTS_PER_BC
    data, pairs = reference_data(spread + REQUESTS_PER_BC + api_total, shops=shops, s3=True)
    chosen: list[Pair] = []
    last = 0
    for i, pair in enumerate(pairs):
        if len(chosen) == linked:
            break
        if int(pair.shop_code.removeprefix("BENCH")) < args.sellers:
            chosen.append(pair)
            last = i
    first_api = (last // REQUESTS_PER_BC + 1) * REQUESTS_PER_BC
    return data, chosen + pairs[first_api : first_api + api_total]


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    data, pairs = split_pairs(args)
    with (
        workdir(keep=args.keep) as directory,
        postgres_store(args.postgres_admin_url, "bench_front_") as database_url,
    ):
        assert database_url is not None
        log(f"work directory {directory}; store {database_url}")
        engine, url, _ = prepare_store(directory, 0, database_url)
        with write_session(engine) as session:
            load_reference(session, data, actor="bench")
        (directory / "outbox").mkdir()
        async with dev_server(directory, tuned=True) as server:
            log(f"dev server on {server.address}")
            with production(server, url, directory, args) as shape:
                log(f"production shape up: {', '.join(shape.bases)}")
                receivers = [start_receiver() for _ in range(args.receivers)]
                try:
                    users = await prepare_users(args, server, shape, engine, pairs, receivers)
                    data_file = directory / "front_door.json"
                    data_file.write_text(json.dumps(users))
                    started = time.time()
                    prefix = await asyncio.to_thread(
                        run_locust, args, data_file, directory, shape.bases[0]
                    )
                    # Deliveries of the last approvals may still be on their way.
                    await asyncio.sleep(args.drain)
                finally:
                    for receiver in receivers:
                        receiver.server.shutdown()
        engine.dispose()
        routes = route_figures(prefix)
        failures = failure_messages(prefix)
    return summary(args, routes, failures, webhook_lag(receivers, started))


def summary(
    args: argparse.Namespace,
    routes: dict[str, dict[str, Any]],
    failures: list[str],
    webhooks: dict[str, Any],
) -> dict[str, Any]:
    floor = routes.pop(FLOOR_ROUTE, None)
    errors = sum(r["failures"] for r in routes.values()) + (floor or {}).get("failures", 0)
    return {
        "bench": "front_door",
        "store": "postgresql",
        "workers": args.workers,
        "link_handlers": args.web,
        "users": {
            "sellers": args.sellers,
            "api_clients": args.api_clients,
            "floor": args.floors,
            "webhook_receivers": args.receivers,
        },
        "run_time_s": args.run_time,
        "routes": routes,
        "floor": floor,
        "errors": errors,
        "error_messages": failures[:20],
        "errors_target": 0,
        "errors_met": errors == 0,
        "webhooks": webhooks,
        "load_average_1m": round(os.getloadavg()[0], 2),
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sellers", type=int, default=50, help="sellers (one shop each)")
    parser.add_argument("--links", type=int, default=10, help="requests mailed to each seller")
    parser.add_argument("--api-clients", type=int, default=10, help="API clients (one token each)")
    parser.add_argument(
        "--creatable", type=int, default=20, help="requests each API client may create (R4)"
    )
    parser.add_argument("--receivers", type=int, default=2, help="webhook receivers")
    parser.add_argument("--floors", type=int, default=2, help="users on the floor route")
    parser.add_argument("--run-time", type=int, default=120, help="seconds of load")
    parser.add_argument("--drain", type=float, default=5.0, help="seconds for last deliveries")
    parser.add_argument("--workers", type=int, default=2, help="worker processes")
    parser.add_argument("--web", type=int, default=2, help="link-handler processes")
    parser.add_argument(
        "--postgres-admin-url",
        default=DEFAULT_POSTGRES_ADMIN_URL,
        help="where the scratch database is created (and dropped)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args(argv)
    for name in ("sellers", "links", "run_time", "workers", "web", "floors"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    for name in ("api_clients", "creatable", "receivers"):
        if getattr(args, name) < 0:
            parser.error(f"--{name.replace('_', '-')} must not be negative")
    if args.receivers > args.sellers:
        parser.error("--receivers: at most one per seller's shop")
    return args


def main() -> None:
    args = parse_args()
    result = asyncio.run(bench(args))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
