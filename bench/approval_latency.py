"""Approval latency through the link handler, on the real stack.

    .venv/bin/python bench/approval_latency.py [--sellers 20] [--rounds 5]

Starts a Temporal dev server (devtools.devserver, tuned as the quick start runs it), the
worker (`python worker.py`) and the link handler (`python -m linkhandler`, uvicorn) as separate
processes on a fresh SQLite store, then, per round, has ``--sellers`` sellers submit the
approval form of their own pending request (R12 S1) at the same moment. Each sample is
one POST /approve/<token> to the outcome page ("Approved"): the update round trip through
Temporal, the store's decision and grant transactions, and the page render.

Before the bursts, the same approvals one at a time give a baseline from the same run
(the machine is shared: compare ratios, not times across runs). Each round waits for its
requests' e-mails before the burst and for the workflows' end after it; the CPU each
process spends in between is reported per approval. ``--postgres`` puts the store on a
fresh PostgreSQL database instead of SQLite.

Prints p50/p95/p99/max; the last line is a JSON object. Target: p99 <= 300 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
import psutil  # noqa: E402
from temporalio.client import Client  # noqa: E402

from bench.scratch_database import create_database, drop_database  # noqa: E402
from client.access_requests import RequestService, Submitted  # noqa: E402
from client.links import LinkSigner  # noqa: E402
from client.temporal import connect  # noqa: E402
from devtools.devserver import start_dev_command  # noqa: E402
from models.enums import RequestMethod  # noqa: E402
from models.fields import EXACT_INTS  # noqa: E402
from models.messages import RequestState  # noqa: E402
from models.names import Message  # noqa: E402
from models.reference import ReferenceData  # noqa: E402
from models.settings import Settings  # noqa: E402
from store.db import make_engine, write_session  # noqa: E402
from store.migrate import upgrade  # noqa: E402
from store.reference import load_reference  # noqa: E402

TARGET_P99_MS = 300.0
BRAND_BC = 7300000000000000000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, proc: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{what} exited with status {proc.returncode}")
        with socket.socket() as sock:
            sock.settimeout(0.2)
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise SystemExit(f"{what} did not listen on port {port}")


def bench_data(sellers: int, rounds: int) -> dict[str, Any]:
    """One agency per round (R4 allows 20 requests a day per BC), one S1 shop per sample."""
    agencies = [
        {"id": 7310000000000000000 + r, "name": f"Bench Agency {r}", "type": "agency",
         "country": "SG", "timezone": "Asia/Singapore",
         "members": [{"email": f"agent{r}@bench-agency.com", "role": "admin"}]}
        for r in range(rounds)
    ]  # fmt: skip
    shops = [
        {"code": f"BENCH{n:05d}", "name": f"Bench Shop {n}", "location": "SG",
         "linked_bc": BRAND_BC,
         "team": [{"email": f"seller{n}@bench-shop.com", "role": "owner"}]}
        for n in range(sellers * rounds)
    ]  # fmt: skip
    users = [{"email": f"agent{r}@bench-agency.com", "name": f"Agent {r}"} for r in range(rounds)]
    users += [{"email": f"seller{n}@bench-shop.com", "name": f"Seller {n}"}
              for n in range(sellers * rounds)]  # fmt: skip
    brand = {"id": BRAND_BC, "name": "Bench Brands", "type": "direct", "country": "SG",
             "timezone": "Asia/Singapore", "members": []}  # fmt: skip
    return {"users": users, "business_centers": [brand, *agencies], "shops": shops}


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


async def first_emails_sent(client: Client, workflow_id: str) -> None:
    handle = client.get_workflow_handle(workflow_id)
    while not (await handle.query(Message.STATE, result_type=RequestState)).first_email_sent:
        await asyncio.sleep(0.05)


def cpu_seconds(processes: dict[str, psutil.Process]) -> dict[str, float]:
    """CPU time (user + system) each process of the stack has used so far."""
    return {name: sum(proc.cpu_times()[:2]) for name, proc in processes.items()}


@dataclass
class Round:
    """What the rounds share: the clients, and the samples gathered so far."""

    service: RequestService
    client: Client
    http: aiohttp.ClientSession
    links: LinkSigner
    sellers: int
    samples: list[float] = field(default_factory=list)
    baseline: list[float] = field(default_factory=list)
    update_samples: list[float] = field(default_factory=list)


async def pending_forms(run: Round, r: int) -> tuple[list[Submitted], list[tuple[str, str]]]:
    """Round ``r``'s requests, submitted and e-mailed, and each seller's approval form
    (path and CSRF token)."""
    numbers = range(r * run.sellers, (r + 1) * run.sellers)
    submitted = await asyncio.gather(*(
        run.service.submit(method=RequestMethod.REQUEST_ACCESS,
                           bc_id=7310000000000000000 + r,
                           shop_code=f"BENCH{n:05d}", by=f"agent{r}@bench-agency.com")
        for n in numbers
    ))  # fmt: skip
    # Measure approvals only: wait until every request's first e-mails are out.
    await asyncio.gather(*(first_emails_sent(run.client, sub.workflow_id) for sub in submitted))
    forms = []
    for sub, n in zip(submitted, numbers, strict=True):
        path = "/approve/" + run.links.token(sub.request_id, f"seller{n}@bench-shop.com")
        async with run.http.get(path) as got:
            page = await got.text()
        found = re.search(r'name="csrf" value="([^"]+)"', page)
        assert found, "no approval form"
        forms.append((path, found.group(1)))
    return list(submitted), forms


async def approve(run: Round, path: str, csrf: str) -> float:
    """One seller's POST of the approval form; its milliseconds."""
    started = time.perf_counter()
    async with run.http.post(path, data={"csrf": csrf}) as response:
        body = await response.text()
    elapsed = (time.perf_counter() - started) * 1000
    if response.status != 200 or "<h1>Approved</h1>" not in body:
        raise SystemExit(f"approval failed: {response.status}")
    timing = re.search(r"update;dur=([0-9.]+)", response.headers["server-timing"])
    run.update_samples.append(float(timing.group(1)) if timing else 0.0)
    return elapsed


async def burst(
    run: Round,
    r: int,
    rounds: int,
    processes: dict[str, psutil.Process],
    cpu_spent: dict[str, float],
) -> None:
    """Round ``r`` (1..rounds): every seller approves at the same moment."""
    submitted, forms = await pending_forms(run, r)
    cpu_before = cpu_seconds(processes)
    round_samples = await asyncio.gather(*(approve(run, p, c) for p, c in forms))
    run.samples.extend(round_samples)
    round_updates = statistics.median(run.update_samples[-run.sellers :])
    print(
        f"round {r}/{rounds}: {run.sellers} approvals, "
        f"p50 {statistics.median(round_samples):.0f} ms, "
        f"max {max(round_samples):.0f} ms "
        f"(of which the workflow update: p50 {round_updates:.0f} ms)",
        flush=True,
    )
    # ... and until each approved workflow has finished (grant, requester e-mail),
    # so no round pays for the previous one.
    await asyncio.gather(
        *(run.client.get_workflow_handle(sub.workflow_id).result() for sub in submitted)
    )
    for name, spent in cpu_seconds(processes).items():
        cpu_spent[name] = cpu_spent.get(name, 0.0) + spent - cpu_before[name]


async def run_rounds(
    settings: Settings,
    web_url: str,
    temporal: str,
    sellers: int,
    rounds: int,
    processes: dict[str, psutil.Process],
    cpu_spent: dict[str, float],
) -> tuple[list[float], list[float], list[float]]:
    engine = make_engine(settings.database_url)
    client = await connect(target_host=temporal)
    service = RequestService(client, engine, settings.task_queue, timeout=60)
    links = LinkSigner(settings.secret_key.get_secret_value(), web_url)
    # aiohttp (C-accelerated) rather than httpx: the load generator shares the stack's two
    # cores, and httpx cost 3 ms of CPU per approval there (docs/web.md).
    connector = aiohttp.TCPConnector(limit=sellers * 2)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(web_url, connector=connector, timeout=timeout) as http:
        run = Round(service, client, http, links, sellers)
        # Round 0: the same approvals one at a time, a baseline measured in this run
        # (the machine is shared: compare ratios, not absolute times across runs).
        _submitted, forms = await pending_forms(run, 0)
        run.baseline.extend([await approve(run, p, c) for p, c in forms])
        print(f"one at a time: p50 {statistics.median(run.baseline):.0f} ms", flush=True)
        run.update_samples.clear()
        for r in range(1, rounds + 1):
            await burst(run, r, rounds, processes, cpu_spent)
    engine.dispose()
    return run.samples, run.baseline, run.update_samples


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sellers", type=int, default=20, help="concurrent sellers per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--postgres",
        metavar="ADMIN_URL",
        nargs="?",
        const="postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
        help="use a fresh PostgreSQL database (created and dropped) instead of SQLite",
    )
    parser.add_argument(
        "--server-flag",
        action="append",
        default=[],
        metavar="FLAG",
        help="an extra dev server argument to try (repeat)",
    )
    return parser.parse_args()


def stack_env(database_url: str, work: Path, temporal_port: int, web_port: int) -> dict[str, str]:
    """The environment of the worker and link handler processes."""
    env = dict(os.environ)
    env.update(
        DEV_MODE="1",
        DATABASE_URL=database_url,
        TASK_QUEUE=f"bench-{uuid.uuid4().hex[:8]}",
        MAIL_OUTBOX_DIR=str(work / "outbox"),
        TEMPORAL_ADDRESS=f"127.0.0.1:{temporal_port}",
        WEB_HOST="127.0.0.1",
        WEB_PORT=str(web_port),
        LINK_BASE_URL=f"http://127.0.0.1:{web_port}",
    )
    return env


def start_stack(
    args: argparse.Namespace,
    env: dict[str, str],
    work: Path,
    children: list[subprocess.Popen[bytes]],
) -> dict[str, psutil.Process]:
    """The dev server, the loaded store, the worker and the link handler; each process to
    measure by role. Children are appended as they start, so all are stopped however
    this ends."""
    quiet = subprocess.DEVNULL
    temporal_port = int(env["TEMPORAL_ADDRESS"].rsplit(":", 1)[1])
    server = subprocess.Popen(
        start_dev_command(
            port=temporal_port, ui_port=None, db_file=work / "temporal.db", extra=args.server_flag
        ),
        stdout=quiet,
        stderr=quiet,
    )
    children.append(server)
    wait_for_port(temporal_port, server, "the dev server")
    engine = make_engine(env["DATABASE_URL"])
    upgrade(engine)
    with write_session(engine) as session:
        load_reference(
            session,
            ReferenceData.model_validate(
                bench_data(args.sellers, args.rounds + 1), context=EXACT_INTS
            ),
        )
    engine.dispose()
    worker = subprocess.Popen(
        [sys.executable, "worker.py"], cwd=ROOT, env=env, stdout=quiet, stderr=quiet
    )
    children.append(worker)
    web = subprocess.Popen(
        [sys.executable, "-m", "linkhandler"], cwd=ROOT, env=env, stdout=quiet, stderr=quiet
    )
    children.append(web)
    wait_for_port(int(env["WEB_PORT"]), web, "the link handler")
    return {
        "temporal_server": psutil.Process(server.pid),
        "worker": psutil.Process(worker.pid),
        "web": psutil.Process(web.pid),
        "bench_client": psutil.Process(),
    }


def stop_children(children: list[subprocess.Popen[bytes]]) -> None:
    for proc in reversed(children):
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in reversed(children):
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def summary(
    args: argparse.Namespace,
    samples: list[float],
    baseline: list[float],
    updates: list[float],
    cpu_spent: dict[str, float],
) -> dict[str, Any]:
    """The JSON line that ends the output."""
    result: dict[str, Any] = {
        "bench": "approval_latency",
        "concurrency": args.sellers,
        "approvals": len(samples),
        "p50_ms": round(statistics.median(samples), 1),
        "p95_ms": round(percentile(samples, 95), 1),
        "p99_ms": round(percentile(samples, 99), 1),
        "max_ms": round(max(samples), 1),
        "update_p50_ms": round(statistics.median(updates), 1),
        "sequential_p50_ms": round(statistics.median(baseline), 1),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "store": "postgresql" if args.postgres else "sqlite",
        # From the burst to the workflows' end (grant, requester e-mail), per approval.
        "cpu_ms_per_approval": {
            name: round(spent * 1000 / len(samples), 1) for name, spent in cpu_spent.items()
        },
        "target_p99_ms": TARGET_P99_MS,
    }
    result["meets_target"] = result["p99_ms"] <= TARGET_P99_MS
    return result


def main() -> int:
    args = parse_args()
    pg_url = create_database(args.postgres, "bench_approval_") if args.postgres else None
    work = Path(tempfile.mkdtemp(prefix="bench-approval-"))
    temporal_port, web_port = free_port(), free_port()
    env = stack_env(pg_url or f"sqlite:///{work / 'store.db'}", work, temporal_port, web_port)
    settings = Settings(
        dev_mode=True,
        database_url=env["DATABASE_URL"],
        task_queue=env["TASK_QUEUE"],
        mail_outbox_dir=Path(env["MAIL_OUTBOX_DIR"]),
        link_base_url=env["LINK_BASE_URL"],
    )
    children: list[subprocess.Popen[bytes]] = []
    try:
        processes = start_stack(args, env, work, children)
        cpu_spent: dict[str, float] = {}
        samples, baseline, updates = asyncio.run(
            run_rounds(
                settings, env["LINK_BASE_URL"], env["TEMPORAL_ADDRESS"], args.sellers,
                args.rounds, processes, cpu_spent,
            )
        )  # fmt: skip
    finally:
        stop_children(children)
        shutil.rmtree(work, ignore_errors=True)
        if pg_url:
            drop_database(args.postgres, pg_url)
    result = summary(args, samples, baseline, updates, cpu_spent)
    print(
        f"{len(samples)} approvals at {args.sellers} concurrent sellers: "
        f"p50 {result['p50_ms']} ms, p95 {result['p95_ms']} ms, p99 {result['p99_ms']} ms, "
        f"max {result['max_ms']} ms (target p99 <= {TARGET_P99_MS:.0f} ms)"
    )
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
