"""How cost grows with the work, each figure at two sizes at least.

    .venv/bin/python bench/growth.py audit   [--sizes 100000 1000000] [--store postgresql]
    .venv/bin/python bench/growth.py pending [--sizes 10000 50000]   [--store postgresql]
    .venv/bin/python bench/growth.py webhooks [--sizes 1 100]        [--store postgresql]
    .venv/bin/python bench/growth.py bulk     [--sizes 1000 10000]   [--store postgresql]

- **audit**: an audit chain of N rows in one shop's scope (R27). Per size, a fresh store
  (the chain written with store/audit.py's own ``record_many``, in batches), then in a
  process of its own each: the shop's export (client/audit.py ``export_text``), the
  export verified as a file alone and against the store (``verify_export``), and the
  whole chain checked (``check_store``). Time and the process's peak RSS of each.
- **pending**: N requests left pending on the real worker (bench/pending_rss.py's load),
  then, once the worker is quiet (``settle_s``: how long it kept working after the last
  e-mail, runs taking their activity's result and replaying first where the cache had
  evicted them), the worker's RSS, the p99 of approving a sample of them
  (RequestService.approve, the update's round trip) and the seller's history of one shop
  holding a share of them (the API's and page's read, ``client.reads.request_list`` by
  shop code), timed.

- **webhooks**: N subscriptions on one shop (R26), each to its own path of a receiver
  on 127.0.0.1 (R31: the worker allows 127.0.0.0/8 only), then ``--lifecycles`` requests
  for that shop submitted and approved one after another; the delivery lag (received
  minus the event's ``time``) of every delivery, p50/p99, the worker's CPU for the whole
  run (the lifecycles' share is the same at every size) and its peak RSS.

- **bulk**: one bulk request (R24) of N shop codes, through BulkService.start (the
  workflow; the CLI and API refuse more than client/bulk.py's MAX_CODES, 1,000, at the
  entry, so larger sizes show what the workflow would carry), followed until today's R4
  quota is used and it waits for the reset; then its history's events and bytes (the
  current run's, after any continue-as-new), the progress query's bytes and the
  worker's peak RSS.

Each figure is compared across the sizes and called ``linear or better`` (time growing
no faster than the work: log-log slope at most 1.15), ``flat`` (memory: slope at most
0.15), or named by the slope it grows with. Prints progress lines, then one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import resource
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import (
    DEFAULT_POSTGRES_ADMIN_URL,
    client_for,
    dev_server,
    log,
    percentile,
    postgres_store,
    prepare_store,
    quiet,
    sampling,
    start_worker,
    stop_process,
    workdir,
    worker_env,
)

ROOT = Path(__file__).resolve().parent.parent
SHOP = "BENCH00000"
BATCH = 5000
MB = 2**20


# --- verdicts -------------------------------------------------------------------------


def slope(sizes: Sequence[int], values: Sequence[float]) -> float | None:
    """Log-log slope from the smallest to the largest size (1.0: linear)."""
    if len(sizes) < 2 or values[0] <= 0 or values[-1] <= 0:
        return None
    return math.log(values[-1] / values[0]) / math.log(sizes[-1] / sizes[0])


def verdict(sizes: Sequence[int], values: Sequence[float], *, memory: bool = False) -> str:
    grows = slope(sizes, values)
    if grows is None:
        return "not measured"
    if memory:
        return "flat" if grows <= 0.15 else f"grows with the work (slope {grows:.2f})"
    if grows <= 1.15:
        return "linear or better" + (f" (slope {grows:.2f})" if grows > 0.15 else " (flat)")
    return f"faster than linear (slope {grows:.2f}): name the term that grows"


def figures(sizes: Sequence[int], runs: list[dict[str, Any]], key: str, memory: bool) -> Any:
    values = [float(run[key]) for run in runs]
    return {"by_size": dict(zip(map(str, sizes), values, strict=True)),
            "verdict": verdict(sizes, values, memory=memory)}  # fmt: skip


# --- audit -----------------------------------------------------------------------------


def fill_chain(url: str, rows: int) -> None:
    """``rows`` changes in the shop's scope, through the chain's own writer."""
    from store.audit import Change, record_many
    from store.db import make_engine, write_session

    engine = make_engine(url)
    written = 0
    while written < rows:
        size = min(BATCH, rows - written)
        with write_session(engine) as session:
            record_many(
                session,
                [
                    Change("bench", "shop", SHOP, "renamed", detail={"name": f"Shop {written + n}"})
                    for n in range(size)
                ],
            )
        written += size
        if written % (BATCH * 20) == 0:
            log(f"{written} audit rows written")
    engine.dispose()


def measure_audit(url: str, step: str, work: Path) -> dict[str, Any]:
    """One step, in this (fresh) process: its time and this process's peak RSS."""
    from client.audit import check_store, export_text, pick_scope, verify_export
    from store.db import make_engine

    engine = make_engine(url)
    file = work / "export.jsonl"
    before_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # imports, connection
    started = time.perf_counter()
    if step == "export":
        made = export_text(engine, pick_scope(SHOP, None))
        with file.open("w", encoding="utf-8") as out:  # as `audit export -o` writes it
            out.writelines(made.body)
        lines = made.lines
    elif step == "verify_file":
        lines = verify_export(file, None).lines  # as `audit verify` reads it
    elif step == "verify_store":
        lines = verify_export(file, engine).lines
    else:
        lines = check_store(engine).seq
    seconds = time.perf_counter() - started
    engine.dispose()
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "seconds": round(seconds, 3),
        "peak_rss_mb": round(peak_kb / 1024, 1),
        "above_start_mb": round((peak_kb - before_kb) / 1024, 1),
        "lines": lines,
    }


AUDIT_STEPS = ("export", "verify_file", "verify_store", "check_store")


def audit_size(args: argparse.Namespace, rows: int) -> dict[str, Any]:
    admin = args.postgres_admin_url if args.store == "postgresql" else None
    with workdir(keep=args.keep) as directory, postgres_store(admin, "bench_growth_") as pg:
        engine, url, _ = prepare_store(directory, 1, pg)  # one shop: BENCH00000
        engine.dispose()
        log(f"audit: writing {rows} rows ({args.store})")
        started = time.perf_counter()
        fill_chain(url, rows)
        result: dict[str, Any] = {"rows": rows, "write_s": round(time.perf_counter() - started, 1)}
        for step in AUDIT_STEPS:
            done = subprocess.run(
                [sys.executable, __file__, "_measure-audit", url, step, str(directory)],
                cwd=ROOT, capture_output=True, text=True, check=False,
            )  # fmt: skip
            if done.returncode != 0:
                raise RuntimeError(f"{step} at {rows} rows failed:\n{done.stderr[-2000:]}")
            result[step] = json.loads(done.stdout.strip().splitlines()[-1])
            log(f"audit {rows}: {step} {result[step]}")
    return result


def audit_growth(args: argparse.Namespace) -> dict[str, Any]:
    runs = [audit_size(args, rows) for rows in args.sizes]
    growth = {
        step: {
            "seconds": figures(args.sizes, [r[step] for r in runs], "seconds", memory=False),
            "peak_rss_mb": figures(args.sizes, [r[step] for r in runs], "peak_rss_mb", True),
        }
        for step in AUDIT_STEPS
    }
    return {"bench": "growth", "what": "audit", "store": args.store, "sizes": args.sizes,
            "runs": runs, "growth": growth}  # fmt: skip


# --- pending requests -----------------------------------------------------------------


async def pending_size(args: argparse.Namespace, n: int) -> dict[str, Any]:
    from bench.pending_rss import count_emails
    from client.access_requests import RequestService
    from client.reads import request_list
    from models.enums import RequestMethod

    admin = args.postgres_admin_url if args.store == "postgresql" else None
    with workdir(keep=args.keep) as directory, postgres_store(admin, "bench_growth_") as pg:
        engine, url, pairs = prepare_store(directory, n, pg)
        outbox = directory / "outbox"
        outbox.mkdir()
        async with dev_server(directory, tuned=True) as server:
            client = await client_for(server)
            queue = f"bench-growth-{uuid.uuid4().hex[:8]}"
            worker = start_worker("worker", ["worker.py"], worker_env(server, url, queue, outbox),
                                  directory)  # fmt: skip
            try:
                service = RequestService(client, engine, queue, timeout=300)
                gate = asyncio.Semaphore(args.concurrency)
                submitted: list[tuple[int, str]] = []  # pair index, request id

                async def submit(i: int) -> None:
                    async with gate:
                        sub = await service.submit(
                            method=RequestMethod.REQUEST_ACCESS, bc_id=pairs[i].bc_id,
                            shop_code=pairs[i].shop_code, by=pairs[i].admin,
                        )  # fmt: skip
                        submitted.append((i, sub.request_id))

                async with sampling([worker]):
                    log(f"pending: submitting {n}")
                    await asyncio.gather(*(submit(i) for i in range(n)))
                    while count_emails(outbox) < n:
                        await asyncio.sleep(0.5)
                    settle_s = await quiet(worker)
                    rss_pending = worker.sample()
                    # The seller's history of one shop (R15), holding n / 20 requests.
                    started = time.perf_counter()
                    history = await asyncio.to_thread(
                        request_list, engine, bc_id=None, shop_code=pairs[0].shop_code
                    )
                    history_s = time.perf_counter() - started
                    latencies = await time_approvals(service, pairs, submitted[: args.approvals])
            finally:
                stop_process(worker.proc)
            engine.dispose()
    return {
        "pending": n,
        "worker_rss_mb": round(rss_pending / MB, 1),
        "worker_peak_rss_mb": round(worker.peak_rss / MB, 1),
        "settle_s": round(settle_s, 1),
        **approval_times(latencies),
        "history_rows": len(history.requests),
        "history_ms": round(history_s * 1000, 1),
    }


async def time_approvals(service: Any, pairs: Any, sample: list[tuple[int, str]]) -> list[float]:
    """Approve ``sample`` one at a time (S1): each update's round trip, in seconds."""
    from models.messages import ApproveRequest

    latencies: list[float] = []
    for i, request_id in sample:
        began = time.perf_counter()
        await service.approve(request_id, ApproveRequest(by=pairs[i].owner))
        latencies.append(time.perf_counter() - began)
    return latencies


def approval_times(latencies: list[float]) -> dict[str, float]:
    """p99 with p50 and the slowest beside it, which say whether every approval got slower
    or one did: over 100 approvals the p99 is the slowest, and one slow approval at one
    size and not the other read as growth on its own."""
    return {
        "approval_p99_ms": round(percentile(latencies, 99) * 1000, 1),
        "approval_p50_ms": round(percentile(latencies, 50) * 1000, 1),
        "approval_max_ms": round(max(latencies) * 1000, 1),
    }


async def pending_growth(args: argparse.Namespace) -> dict[str, Any]:
    runs = []
    for n in args.sizes:
        runs.append(await pending_size(args, n))
        log(f"pending {n}: {json.dumps(runs[-1])}")  # kept if a larger size is cut short
    growth = {
        key: figures(args.sizes, runs, key, memory=key.endswith("rss_mb"))
        for key in ("worker_rss_mb", "approval_p99_ms", "history_ms")
    }
    return {"bench": "growth", "what": "pending", "store": args.store, "sizes": args.sizes,
            "runs": runs, "growth": growth}  # fmt: skip


# --- webhook subscriptions on one shop ----------------------------------------------


async def subscribe_loopback(
    engine: Any, client: Any, queue: str, url: str, subscriptions: int
) -> None:
    """``subscriptions`` subscriptions to SHOP's changes, each to its own path on the
    loopback receiver (allowed as an operator would: WEBHOOK_ALLOWED_NETWORKS, R31)."""
    from client.audit import pick_scope
    from client.safe_targets import TargetPolicy
    from client.webhooks import add_subscription
    from models.networks import parse_networks

    policy = TargetPolicy(allowed_networks=parse_networks("127.0.0.0/8"), dev_mode=False)

    async def connected() -> Any:
        return client

    for n in range(subscriptions):
        await add_subscription(
            engine, connected, queue, scope=pick_scope(SHOP, None),
            url=f"{url}/{n}", secret=None, by="bench", targets=policy,
        )  # fmt: skip


async def drained(receiver: Any, quiet_s: float) -> None:
    """Until every subscription has had every event, or the deliveries stop for
    ``quiet_s``."""
    seen, quiet = -1, time.monotonic()
    while time.monotonic() - quiet < quiet_s:
        if len(receiver.received) != seen:
            seen, quiet = len(receiver.received), time.monotonic()
        await asyncio.sleep(0.2)


async def webhooks_size(args: argparse.Namespace, subscriptions: int) -> dict[str, Any]:
    from bench.front_door import start_receiver, webhook_lag
    from bench.harness import outbox_file, wait_for_file
    from bench.store_queries import user_ids
    from client.access_requests import RequestService
    from models.enums import RequestMethod
    from models.messages import ApproveRequest

    admin = args.postgres_admin_url if args.store == "postgresql" else None
    # Request i is BC i // 10 and shop i mod 20 (harness): every 20th is shop 0's.
    lifecycles = args.lifecycles
    with workdir(keep=args.keep) as directory, postgres_store(admin, "bench_growth_") as pg:
        engine, url, pairs = prepare_store(directory, 20 * lifecycles, pg)
        ours = [p for p in pairs if p.shop_code == SHOP][:lifecycles]
        outbox = directory / "outbox"
        outbox.mkdir()
        receiver = start_receiver()
        async with dev_server(directory, tuned=True) as server:
            client = await client_for(server)
            queue = f"bench-growth-{uuid.uuid4().hex[:8]}"
            env = {**worker_env(server, url, queue, outbox),
                   "WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8"}  # fmt: skip
            worker = start_worker("worker", ["worker.py"], env, directory)
            try:
                await subscribe_loopback(engine, client, queue, receiver.url, subscriptions)
                log(f"webhooks: {subscriptions} subscriptions; {lifecycles} lifecycles")
                service = RequestService(client, engine, queue, timeout=300)
                owners = user_ids(engine)
                started = time.time()
                cpu_before = worker.cpu_seconds()
                async with sampling([worker]):
                    for pair in ours:
                        sub = await service.submit(
                            method=RequestMethod.REQUEST_ACCESS, bc_id=pair.bc_id,
                            shop_code=pair.shop_code, by=pair.admin,
                        )  # fmt: skip
                        key = f"access_request:{sub.request_id}:send:1:to:{owners[pair.owner]}"
                        await wait_for_file(outbox_file(outbox, key))
                        await service.approve(sub.request_id, ApproveRequest(by=pair.owner))
                    await drained(receiver, args.drain)
                worker_cpu = worker.cpu_seconds() - cpu_before
            finally:
                stop_process(worker.proc)
                receiver.server.shutdown()
            engine.dispose()
    lag = webhook_lag([receiver], started)
    return {
        "subscriptions": subscriptions,
        "lifecycles": lifecycles,
        "deliveries": lag["events"],
        "deliveries_per_subscription": round(lag["events"] / subscriptions, 1),
        "lag_p50_ms": lag["lag_ms"]["p50"],
        "lag_p99_ms": lag["lag_ms"]["p99"],
        # The lifecycles' own work is the same at every size; what grows is delivering.
        "worker_cpu_s": round(worker_cpu, 2),
        "worker_peak_rss_mb": round(worker.peak_rss / MB, 1),
    }


async def webhooks_growth(args: argparse.Namespace) -> dict[str, Any]:
    runs = [await webhooks_size(args, n) for n in args.sizes]
    growth = {
        key: figures(args.sizes, runs, key, memory=key.endswith("rss_mb"))
        for key in ("lag_p99_ms", "worker_cpu_s", "worker_peak_rss_mb")
    }
    return {"bench": "growth", "what": "webhooks", "store": args.store, "sizes": args.sizes,
            "runs": runs, "growth": growth}  # fmt: skip


# --- bulk requests --------------------------------------------------------------------


async def bulk_size(args: argparse.Namespace, codes: int) -> dict[str, Any]:
    from client.bulk import MAX_CODES, BulkService
    from models.enums import RequestMethod
    from models.names import bulk_workflow_id

    admin = args.postgres_admin_url if args.store == "postgresql" else None
    with workdir(keep=args.keep) as directory, postgres_store(admin, "bench_growth_") as pg:
        engine, url, pairs = prepare_store(directory, 1, pg, shops=max(codes, 20))
        outbox = directory / "outbox"
        outbox.mkdir()
        async with dev_server(directory, tuned=True) as server:
            client = await client_for(server)
            queue = f"bench-growth-{uuid.uuid4().hex[:8]}"
            worker = start_worker("worker", ["worker.py"], worker_env(server, url, queue, outbox),
                                  directory)  # fmt: skip
            try:
                bulk = BulkService(client, engine, queue, timeout=300)
                async with sampling([worker]):
                    log(f"bulk: {codes} shop codes")
                    started = time.perf_counter()
                    bulk_id = await bulk.start(
                        method=RequestMethod.REQUEST_ACCESS, bc_id=pairs[0].bc_id,
                        shop_codes=[f"BENCH{s:05d}" for s in range(codes)], by=pairs[0].admin,
                    )  # fmt: skip
                    while True:  # until today's quota is spent (R4) or every code answered
                        progress = await bulk.progress(bulk_id)
                        if progress.waiting_until is not None or progress.done == progress.total:
                            break
                        await asyncio.sleep(0.5)
                    first_day_s = time.perf_counter() - started
                handle = client.get_workflow_handle(bulk_workflow_id(bulk_id))
                history = await handle.fetch_history()
            finally:
                stop_process(worker.proc)
            engine.dispose()
    return {
        "codes": codes,
        "above_entry_limit": codes > MAX_CODES,
        "admitted_today": progress.admitted,
        "first_day_s": round(first_day_s, 1),
        "history_events": len(history.events),
        "history_kb": round(sum(e.ByteSize() for e in history.events) / 1024, 1),
        "progress_kb": round(len(progress.model_dump_json()) / 1024, 1),
        "worker_peak_rss_mb": round(worker.peak_rss / MB, 1),
    }


async def bulk_growth(args: argparse.Namespace) -> dict[str, Any]:
    runs = [await bulk_size(args, n) for n in args.sizes]
    growth = {
        key: figures(args.sizes, runs, key, memory=key != "first_day_s")
        for key in ("history_events", "history_kb", "progress_kb", "worker_peak_rss_mb")
    }
    return {"bench": "growth", "what": "bulk", "store": args.store, "sizes": args.sizes,
            "runs": runs, "growth": growth}  # fmt: skip


# --- the command ----------------------------------------------------------------------

DEFAULT_SIZES = {
    "audit": [100_000, 1_000_000],
    "pending": [10_000, 50_000],
    "webhooks": [1, 100],
    "bulk": [1_000, 10_000],
}
RUNS: dict[str, Callable[[argparse.Namespace], Any]] = {
    "audit": audit_growth,
    "pending": lambda args: asyncio.run(pending_growth(args)),
    "webhooks": lambda args: asyncio.run(webhooks_growth(args)),
    "bulk": lambda args: asyncio.run(bulk_growth(args)),
}


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("what", choices=sorted(RUNS), help="which growth to measure")
    parser.add_argument("--sizes", type=int, nargs="+", help="two sizes at least, ascending")
    parser.add_argument("--store", choices=("sqlite", "postgresql"), default="postgresql")
    parser.add_argument("--postgres-admin-url", default=DEFAULT_POSTGRES_ADMIN_URL)
    parser.add_argument("--concurrency", type=int, default=50, help="pending: submissions")
    parser.add_argument("--approvals", type=int, default=100, help="pending: approvals timed")
    parser.add_argument(
        "--lifecycles", type=int, default=20, help="webhooks: requests approved on the shop"
    )
    parser.add_argument(
        "--drain", type=float, default=5.0, help="webhooks: seconds without a new delivery"
    )
    parser.add_argument("--keep", action="store_true", help="keep the work directories")
    args = parser.parse_args(argv)
    args.sizes = args.sizes or DEFAULT_SIZES[args.what]
    if len(args.sizes) < 2 or sorted(args.sizes) != args.sizes or args.sizes[0] < 1:
        parser.error("--sizes: two sizes at least, ascending, each at least 1")
    return args


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_measure-audit":
        url, step, work = sys.argv[2:5]
        print(json.dumps(measure_audit(url, step, Path(work))), flush=True)
        return
    args = parse_args()
    print(json.dumps(RUNS[args.what](args)), flush=True)


if __name__ == "__main__":
    main()
