"""The worker's memory with many requests left pending (R9: they wait for ever).

    .venv/bin/python bench/pending_rss.py [--n 5000] [--concurrency 50]

Starts its own dev server (tuned, headless, fresh SQLite file), a fresh SQLite store with
generated reference data, and the real worker (``python worker.py``); submits N requests
through RequestService, waits until every first e-mail is in the outbox (R7), then keeps
sampling a few seconds while they sit pending. Target: the worker's peak RSS at most
300 MB at N = 5,000. Prints progress lines, then one JSON object as the last line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import (
    Pair,
    WorkerProcess,
    client_for,
    dev_server,
    log,
    prepare_store,
    sampling,
    start_worker,
    stop_process,
    workdir,
    worker_env,
)
from client.access_requests import RequestService
from models.enums import RequestMethod

TARGET_RSS_MB = 300
MB = 2**20


def count_emails(outbox: Path) -> int:
    return sum(1 for entry in outbox.iterdir() if entry.name.endswith(".eml"))


@dataclass
class Load:
    """What submitting the requests and waiting for their e-mails gave."""

    submitted: int = 0
    failures: list[BaseException] = field(default_factory=list)
    submit_seconds: float = 0.0
    emails: int = 0


async def submit_all(
    service: RequestService, pairs: list[Pair], args: argparse.Namespace, worker: WorkerProcess
) -> Load:
    """``args.n`` requests, ``args.concurrency`` in flight at a time."""
    gate = asyncio.Semaphore(args.concurrency)
    load = Load()

    async def submit(index: int) -> None:
        pair = pairs[index]
        async with gate:
            try:
                await service.submit(
                    method=RequestMethod.REQUEST_ACCESS,
                    bc_id=pair.bc_id,
                    shop_code=pair.shop_code,
                    by=pair.admin,
                )
            except Exception as err:
                load.failures.append(err)
                return
        load.submitted += 1
        if load.submitted % 1000 == 0:
            log(f"{load.submitted} submitted, worker RSS {worker.sample() / MB:.0f} MB")

    started = time.perf_counter()
    await asyncio.gather(*(submit(i) for i in range(args.n)))
    load.submit_seconds = time.perf_counter() - started
    return load


async def load_and_hold(
    service: RequestService,
    pairs: list[Pair],
    args: argparse.Namespace,
    worker: WorkerProcess,
    outbox: Path,
) -> Load:
    """Submit, wait for the e-mails, hold: the worker's memory sampled throughout."""
    async with sampling([worker]):
        load = await submit_all(service, pairs, args, worker)
        log(f"{load.submitted} pending after {load.submit_seconds:.1f}s; waiting for e-mails")
        deadline = time.monotonic() + 300
        while count_emails(outbox) < load.submitted and time.monotonic() < deadline:
            await asyncio.sleep(0.5)
        load.emails = count_emails(outbox)
        log(f"{load.emails} e-mails in the outbox; holding {args.hold:.0f}s")
        await asyncio.sleep(args.hold)
    return load


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    with workdir(keep=args.keep) as directory:
        log(f"work directory {directory}")
        engine, url, pairs = prepare_store(directory, args.n)
        outbox = directory / "outbox"
        outbox.mkdir()
        async with dev_server(directory, tuned=not args.untuned) as server:
            log(f"dev server on {server.address}, flags: {' '.join(server.flags) or 'none'}")
            client = await client_for(server)
            queue = f"bench-pending-{uuid.uuid4().hex[:8]}"
            env = worker_env(server, url, queue, outbox)
            env.update(dict(item.split("=", 1) for item in args.worker_env))
            worker = start_worker("worker", ["worker.py"], env, directory)
            try:
                service = RequestService(client, engine, queue, timeout=300)
                load = await load_and_hold(service, pairs, args, worker, outbox)
                final_rss = worker.sample()
                log(f"worker RSS now {final_rss / MB:.0f} MB, peak {worker.peak_rss / MB:.0f} MB")
                if load.failures:
                    log(f"{len(load.failures)} submissions failed; first: {load.failures[0]!r}")
            finally:
                stop_process(worker.proc)
            engine.dispose()
    peak_mb = worker.peak_rss / MB
    return {
        "n": args.n,
        "concurrency": args.concurrency,
        "pending": load.submitted,
        "failures": len(load.failures),
        "emails_in_outbox": load.emails,
        "submits_per_s": (
            round(load.submitted / load.submit_seconds, 1) if load.submit_seconds else 0.0
        ),
        "worker_peak_rss_mb": round(peak_mb, 1),
        "worker_final_rss_mb": round(final_rss / MB, 1),
        "worker_env": args.worker_env,
        "devserver_flags": server.flags,
        "targets": {"rss_mb_at_most": TARGET_RSS_MB, "rss_met": peak_mb <= TARGET_RSS_MB},
    }


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--n", type=int, default=5000, help="requests left pending")
    parser.add_argument("--concurrency", type=int, default=50, help="submissions in flight")
    parser.add_argument("--hold", type=float, default=5.0, help="seconds to sample after")
    parser.add_argument(
        "--worker-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra environment for the worker (repeat), e.g. a cache size setting",
    )
    parser.add_argument("--untuned", action="store_true", help="dev server on its defaults")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    return parser.parse_args(argv)


def main() -> None:
    result = asyncio.run(bench(parse_args()))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
