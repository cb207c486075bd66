"""What every benchmark needs: a private dev server, a migrated SQLite store with generated
reference data, worker processes, their peak RSS and CPU, and percentiles.

Everything runs on free ports and under one temporary directory, and every process started
here is stopped here (by its own pid), so runs never collide with each other or with tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
from sqlalchemy import Engine
from temporalio.client import Client

from bench.scratch_database import create_database, drop_database
from client.temporal import connect
from devtools.devserver import start_dev_command, tuning_args
from models.fields import EXACT_INTS
from models.reference import ReferenceData
from store.db import make_engine, write_session
from store.migrate import upgrade
from store.reference import load_reference

ROOT = Path(__file__).resolve().parent.parent

# Generated identities: BC ids and shop codes that cannot clash with the demo data.
REQUESTER_BC_BASE = 7300000000000000000
SELLER_BC_BASE = 7400000000000000000
REQUESTS_PER_BC = 10  # R4 allows 20 per BC per day; stay well below it


def log(message: str) -> None:
    """A progress line (stdout, flushed: the last line is the JSON summary)."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


@contextlib.contextmanager
def workdir(keep: bool = False) -> Iterator[Path]:
    if keep:
        yield Path(tempfile.mkdtemp(prefix="shop-access-bench-"))
        return
    with tempfile.TemporaryDirectory(prefix="shop-access-bench-") as name:
        yield Path(name)


# --- processes -------------------------------------------------------------------------


def stop_process(proc: subprocess.Popen[bytes], grace: float = 15.0) -> None:
    """SIGTERM, then SIGKILL after ``grace`` seconds; children (if any) by their own pids."""
    if proc.poll() is not None:
        return
    try:
        children = psutil.Process(proc.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        children = []
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)
    for child in children:
        with contextlib.suppress(psutil.NoSuchProcess):
            child.kill()


def tail(path: Path, lines: int = 20) -> str:
    if not path.exists():
        return ""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


@dataclass
class DevServer:
    address: str
    flags: list[str]
    proc: subprocess.Popen[bytes]
    log_path: Path


@contextlib.asynccontextmanager
async def dev_server(
    directory: Path,
    *,
    tuned: bool,
    extra: Sequence[str] = (),
    env: dict[str, str] | None = None,
) -> AsyncIterator[DevServer]:
    """``temporal server start-dev`` on a fresh SQLite file, headless, on a free port."""
    port = free_port()
    cmd = start_dev_command(
        port=port, ui_port=None, db_file=directory / "temporal.db", tuned=tuned, extra=extra
    )
    log_path = directory / "devserver.log"
    with log_path.open("wb") as out:
        proc = subprocess.Popen(
            cmd,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=directory,
            env={**os.environ, **(env or {})},
        )
    flags = [*(tuning_args() if tuned else []), *extra]
    server = DevServer(f"127.0.0.1:{port}", flags, proc, log_path)
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"dev server exited: {tail(log_path)}")
            try:
                client = await connect(target_host=server.address)
                await client.count_workflows()  # visibility answers too
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.2)
        yield server
    finally:
        stop_process(proc)


@dataclass
class WorkerProcess:
    """A worker in its own process, with its resource use sampled while it runs."""

    name: str
    proc: subprocess.Popen[bytes]
    log_path: Path
    peak_rss: int = 0
    samples: list[int] = field(default_factory=list)

    @property
    def ps(self) -> psutil.Process:
        return psutil.Process(self.proc.pid)

    def sample(self) -> int:
        if self.proc.poll() is not None:
            raise RuntimeError(f"worker {self.name} exited: {tail(self.log_path)}")
        rss = int(self.ps.memory_info().rss)
        self.peak_rss = max(self.peak_rss, rss)
        self.samples.append(rss)
        return rss

    def cpu_seconds(self) -> float:
        times = self.ps.cpu_times()
        return float(times.user + times.system)


async def quiet(worker: WorkerProcess, share: float = 0.05, window: float = 1.0,
                timeout: float = 1800) -> float:  # fmt: skip
    """Wait until ``worker`` uses under ``share`` of a core over ``window`` seconds; return
    how long that took. Work counted as done elsewhere (e-mails in the outbox, rows in the
    store) can still leave the worker busy: each run must take the activity's result,
    replaying first if the workflow cache had evicted it, and a timing started then
    measures that backlog, not the operation."""
    began = time.monotonic()
    used = worker.cpu_seconds()
    while True:
        await asyncio.sleep(window)
        now = worker.cpu_seconds()
        if now - used < share * window:
            return time.monotonic() - began - window
        if time.monotonic() - began > timeout:
            raise RuntimeError(f"worker {worker.name} still busy after {timeout:.0f} s")
        used = now


def worker_base_env() -> dict[str, str]:
    """This environment, less PYTHONDONTWRITEBYTECODE (set on this machine).

    The workflow sandbox re-imports the workflow module for every new workflow run; with
    no bytecode cache it recompiles the source each time, which cost 9 % of the worker's
    CPU here. A deployed worker (installed package, or a checkout that may write
    __pycache__) has bytecode, so the benchmark lets the workers write it too.
    """
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def start_worker(name: str, argv: list[str], env: dict[str, str], directory: Path) -> WorkerProcess:
    log_path = directory / f"{name}.log"
    with log_path.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, *argv],
            cwd=ROOT,
            env={**worker_base_env(), "PYTHONPATH": str(ROOT), **env},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return WorkerProcess(name, proc, log_path)


@contextlib.asynccontextmanager
async def sampling(workers: Sequence[WorkerProcess], every: float = 0.25) -> AsyncIterator[None]:
    """Sample the workers' RSS in the background (peak RSS is what the targets speak of)."""

    async def loop() -> None:
        while True:
            for worker in workers:
                worker.sample()
            await asyncio.sleep(every)

    task = asyncio.create_task(loop())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        for worker in workers:
            worker.sample()


def server_cpu_seconds(server: DevServer) -> float:
    times = psutil.Process(server.proc.pid).cpu_times()
    return float(times.user + times.system)


# --- the store and its reference data --------------------------------------------------


@dataclass(frozen=True)
class Pair:
    """One (requesting BC, shop) pair, used by exactly one request (R6)."""

    bc_id: int
    admin: str
    shop_code: str
    owner: str


def _requesting_bcs(count: int) -> tuple[list[dict[str, str]], list[dict[str, Any]]]:
    """``count`` agencies (SG: eligible under R2), each with one admin: users and BCs."""
    users: list[dict[str, str]] = []
    business_centers: list[dict[str, Any]] = []
    for b in range(count):
        admin = f"admin{b}@partner{b}.example"
        users.append({"email": admin, "name": f"Partner {b} admin"})
        business_centers.append(
            {
                "id": REQUESTER_BC_BASE + b,
                "name": f"Partner agency {b}",
                "type": "agency",
                "country": "SG",
                "timezone": "Asia/Singapore",
                "members": [{"email": admin, "role": "admin"}],
                "ad_accounts": [{"id": REQUESTER_BC_BASE + b, "name": f"Partner {b} ads"}],
            }
        )
    return users, business_centers


def _seller_shops(
    count: int, s3: bool = False
) -> tuple[list[dict[str, str]], list[dict[str, Any]], list[dict[str, Any]]]:
    """``count`` shops (GB: R3), each with an owner and a linked seller BC (S1): users,
    BCs and shops. With ``s3``, every odd shop has no linked BC and its owner administers
    the seller BC (registered, unlinked): R12's S3."""
    users: list[dict[str, str]] = []
    business_centers: list[dict[str, Any]] = []
    shop_rows: list[dict[str, Any]] = []
    for s in range(count):
        owner = f"owner{s}@seller{s}.example"
        users.append({"email": owner, "name": f"Seller {s} owner"})
        business_centers.append(
            {
                "id": SELLER_BC_BASE + s,
                "name": f"Seller {s} BC",
                "type": "direct",
                "country": "GB",
                "timezone": "Europe/London",
                "members": [{"email": owner, "role": "admin"}],
            }
        )
        shop_rows.append(
            {
                "code": f"BENCH{s:05d}",
                "name": f"Bench shop {s}",
                "location": "GB",
                "linked_bc": None if s3 and s % 2 else SELLER_BC_BASE + s,
                "team": [{"email": owner, "role": "owner"}],
            }
        )
    return users, business_centers, shop_rows


def reference_data(
    requests: int, shops: int = 20, s3: bool = False
) -> tuple[ReferenceData, list[Pair]]:
    """Requesting BCs (agency, SG: eligible under R2) with one admin each, and shops (GB:
    R3) with an owner and a linked seller BC, so each approval is S1's one click.

    Request ``i`` uses BC ``i // REQUESTS_PER_BC`` and shop ``i % shops``: every pair is
    distinct, no BC exceeds R4's daily limit, and no shop is held by the BC beforehand.
    """
    if shops < REQUESTS_PER_BC:
        raise ValueError("need at least as many shops as requests per BC")
    bcs = -(-requests // REQUESTS_PER_BC)
    admins, business_centers = _requesting_bcs(bcs)
    owners, seller_bcs, shop_rows = _seller_shops(shops, s3)
    users = [*admins, *owners]
    business_centers += seller_bcs
    data = ReferenceData.model_validate(
        {"users": users, "business_centers": business_centers, "shops": shop_rows},
        context=EXACT_INTS,
    )
    pairs = [
        Pair(
            bc_id=REQUESTER_BC_BASE + i // REQUESTS_PER_BC,
            admin=f"admin{i // REQUESTS_PER_BC}@partner{i // REQUESTS_PER_BC}.example",
            shop_code=f"BENCH{i % shops:05d}",
            owner=f"owner{i % shops}@seller{i % shops}.example",
        )
        for i in range(requests)
    ]
    return data, pairs


def prepare_store(
    directory: Path, requests: int, database_url: str | None = None, shops: int = 20
) -> tuple[Engine, str, list[Pair]]:
    """A fresh, migrated store holding reference data for ``requests`` requests over
    ``shops`` shops: a SQLite file in ``directory``, or the empty database at
    ``database_url`` (see postgres_store)."""
    url = database_url or f"sqlite:///{directory / 'store.db'}"
    engine = make_engine(url)
    upgrade(engine)
    data, pairs = reference_data(requests, shops)
    with write_session(engine) as session:
        load_reference(session, data, actor="bench")
    return engine, url, pairs


DEFAULT_POSTGRES_ADMIN_URL = os.environ.get(
    "TEST_POSTGRES_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


@contextlib.contextmanager
def postgres_store(admin_url: str | None, prefix: str = "bench_") -> Iterator[str | None]:
    """A scratch PostgreSQL database for one run (its URL), dropped when the run ends,
    connections and all; None (the SQLite file) when ``admin_url`` is None."""
    if admin_url is None:
        yield None
        return
    url = create_database(admin_url, prefix)
    try:
        yield url
    finally:
        drop_database(admin_url, url)


def worker_env(
    server: DevServer, database_url: str, task_queue: str, outbox: Path
) -> dict[str, str]:
    """The environment the real worker reads (models.settings.Settings, envconfig)."""
    return {
        "TEMPORAL_ADDRESS": server.address,
        "TEMPORAL_NAMESPACE": "default",
        "DATABASE_URL": database_url,
        "TASK_QUEUE": task_queue,
        "MAIL_OUTBOX_DIR": str(outbox),
        "DEV_MODE": "1",
    }


async def client_for(server: DevServer) -> Client:
    return await connect(target_host=server.address)


async def wait_for_file(path: Path, timeout: float = 120.0) -> None:
    """Until ``path`` exists: the simulated seller waits for the e-mail to arrive (R7).

    Looks at the file system only, so waiting costs the server and workers nothing.
    """
    deadline = time.monotonic() + timeout
    delay = 0.005
    while not path.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path.name} did not arrive within {timeout:.0f}s")
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.05)


def outbox_file(outbox: Path, key: str) -> Path:
    """Where activities.delivery.OutboxTransport writes the message with business key
    ``key`` (the same naming; if that changes, the benchmark times out saying so)."""
    return outbox / (hashlib.sha256(key.encode()).hexdigest()[:24] + ".eml")
