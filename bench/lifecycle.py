"""N full access-request lifecycles through the real worker, against a bare baseline.

    .venv/bin/python bench/lifecycle.py --n 300 --concurrency 50 [--untuned]
    .venv/bin/python bench/lifecycle.py --store postgresql --workers 2   # production shape

Starts its own dev server (fresh SQLite file, headless, free port, tuned as the quick start
runs it unless --untuned), migrates a fresh SQLite store with generated reference data,
and runs two worker processes: the real one (``python worker.py``) and the bare baseline
(bench/bare_worker.py: same shape, no-op activities). Each lifecycle is what a user sees:

    submit (RequestService) -> first e-mail sent (R7) -> approve (S1, R12) -> granted
    (R14, the update's answer) -> requester notified -> workflow result

Ours and bare run in alternating rounds in the same run, so their ratio is fair even on a
shared, noisy machine. Prints progress lines, then one JSON object as the last line.

``--store postgresql`` puts the store on a scratch PostgreSQL database (created on the
server at ``--postgres-admin-url``, dropped at the end) and ``--workers N`` runs N worker
processes per side on one task queue each: the production shape (docs/operations.md,
Sizing). Besides rates, CPU and latency, the summary gives per lifecycle the Temporal
Cloud actions read from a sample of histories (bench/temporal_actions.py) and the time
ours' workers waited on the audit chain head's lock, timed inside the transactions
(bench/timed_worker.py).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from temporalio.client import Client, WithStartWorkflowOperation
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
)

from bench.bare_workflow import BARE_WORKFLOW_TYPE, sent_marker
from bench.harness import (
    DEFAULT_POSTGRES_ADMIN_URL,
    DevServer,
    Pair,
    WorkerProcess,
    client_for,
    dev_server,
    log,
    outbox_file,
    percentile,
    postgres_store,
    prepare_store,
    sampling,
    server_cpu_seconds,
    start_worker,
    stop_process,
    wait_for_file,
    workdir,
    worker_env,
)
from bench.store_queries import user_ids
from bench.temporal_actions import per_lifecycle
from bench.timed_worker import FLUSH_EVERY, read_timings
from client.access_requests import RequestService
from models.enums import RequestMethod, RequestStatus
from models.messages import (
    AdmissionOutcome,
    ApprovalOutcome,
    ApproveRequest,
    RequestInput,
    RequestResult,
    WaitAdmission,
)
from models.names import Message
from models.search_attributes import (
    BC_ID,
    REQUEST_METHOD,
    REQUEST_STATUS,
    SHOP_CODE,
)

TARGET_RATIO = 0.7
TARGET_EVENTS = 40
HISTORY_SAMPLE = 20


@dataclass
class Kind:
    """One side of the comparison: its worker, how to run one lifecycle, what it measured."""

    name: str
    workers: list[WorkerProcess]
    lifecycle: Callable[[Pair, int], Awaitable[tuple[str, float]]]
    seconds: float = 0.0
    done: int = 0
    failures: int = 0
    latencies: list[float] = field(default_factory=list)
    workflow_ids: list[str] = field(default_factory=list)
    worker_cpu: float = 0.0
    server_cpu: float = 0.0
    client_cpu: float = 0.0  # this process: RequestService (ours) or the bare client calls
    # The audit head's takes in the measured phases (ours only: bench/timed_worker.py).
    timing_files: list[Path] = field(default_factory=list)
    audit_takes: int = 0
    audit_wait: float = 0.0
    audit_hold: float = 0.0
    audit_transaction: float = 0.0
    audit_rolled_back: int = 0
    audit_waits: list[float] = field(default_factory=list)

    def rate(self) -> float:
        return self.done / self.seconds if self.seconds else 0.0

    def cpu_seconds(self) -> float:
        return sum(worker.cpu_seconds() for worker in self.workers)

    def peak_rss(self) -> int:
        """The largest peak of any one worker (each is its own process and budget)."""
        return max(worker.peak_rss for worker in self.workers)

    def audit_timings(self) -> list[dict[str, Any]]:
        return [read_timings(path) for path in self.timing_files]

    def add_audit(self, before: list[dict[str, Any]], after: list[dict[str, Any]]) -> None:
        for old, new in zip(before, after, strict=True):
            self.audit_takes += new["takes"] - old["takes"]
            self.audit_wait += new["wait_s"] - old["wait_s"]
            self.audit_hold += new["hold_s"] - old["hold_s"]
            self.audit_transaction += new.get("transaction_s", 0.0) - old.get("transaction_s", 0.0)
            self.audit_rolled_back += new.get("rolled_back", 0) - old.get("rolled_back", 0)
            self.audit_waits.extend(new["waits_s"][len(old["waits_s"]) :])


class Driver:
    def __init__(
        self,
        client: Client,
        service: RequestService | None,
        bare_queue: str,
        outbox: Path,
        read_s: float = 0.0,
    ) -> None:
        self.client = client
        # How long the seller reads the e-mail before clicking, alike on both sides.
        self.read_s = read_s
        self._service = service
        self.bare_queue = bare_queue
        self.outbox = outbox
        self.user_ids = user_ids(service.engine) if service else {}
        self.run_id = uuid.uuid4().hex[:8]

    @property
    def service(self) -> RequestService:
        assert self._service is not None, "this driver runs the bare workflow only"
        return self._service

    async def ours(self, pair: Pair, index: int) -> tuple[str, float]:
        submitted = await self.service.submit(
            method=RequestMethod.REQUEST_ACCESS,
            bc_id=pair.bc_id,
            shop_code=pair.shop_code,
            by=pair.admin,
        )
        # The seller approves once the approval e-mail is in the outbox (R7).
        owner_id = self.user_ids[pair.owner]
        key = f"access_request:{submitted.request_id}:send:1:to:{owner_id}"
        await wait_for_file(outbox_file(self.outbox, key))
        await asyncio.sleep(self.read_s)
        started = time.perf_counter()
        outcome = await self.service.approve(submitted.request_id, ApproveRequest(by=pair.owner))
        latency = time.perf_counter() - started
        await self._finish(submitted.workflow_id, outcome)
        return submitted.workflow_id, latency

    async def bare(self, pair: Pair, index: int) -> tuple[str, float]:
        workflow_id = f"bench-bare-{self.run_id}-{index}"
        request_id = f"req_bare_{self.run_id}_{index}"
        start: WithStartWorkflowOperation[Any, RequestResult] = WithStartWorkflowOperation(
            BARE_WORKFLOW_TYPE,
            RequestInput(
                request_id=request_id,
                method=RequestMethod.REQUEST_ACCESS,
                bc_id=pair.bc_id,
                shop_id=index,
                shop_code=pair.shop_code,
                requested_by=pair.admin,
            ),
            id=workflow_id,
            task_queue=self.bare_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            result_type=RequestResult,
            search_attributes=TypedSearchAttributes(
                [
                    SearchAttributePair(BC_ID, str(pair.bc_id)),
                    SearchAttributePair(SHOP_CODE, pair.shop_code),
                    SearchAttributePair(REQUEST_METHOD, RequestMethod.REQUEST_ACCESS.value),
                    SearchAttributePair(REQUEST_STATUS, "admitting"),
                ]
            ),
            static_summary=f"bare: BC {pair.bc_id} -> shop {pair.shop_code} ({request_id})",
        )
        await self.client.execute_update_with_start_workflow(
            Message.ADMISSION,
            WaitAdmission(),
            start_workflow_operation=start,
            result_type=AdmissionOutcome,
        )
        await wait_for_file(sent_marker(self.outbox, request_id))
        await asyncio.sleep(self.read_s)
        handle = self.client.get_workflow_handle(workflow_id)
        started = time.perf_counter()
        outcome = await handle.execute_update(
            Message.APPROVE, ApproveRequest(by=pair.owner), result_type=ApprovalOutcome
        )
        latency = time.perf_counter() - started
        await self._finish(workflow_id, outcome)
        return workflow_id, latency

    async def _finish(self, workflow_id: str, outcome: ApprovalOutcome) -> None:
        if outcome.status is not RequestStatus.APPROVED:
            raise RuntimeError(f"{workflow_id}: approval answered {outcome.status}")
        handle = self.client.get_workflow_handle(workflow_id, result_type=RequestResult)
        result = await handle.result()
        if result.status != "approved":
            raise RuntimeError(f"{workflow_id}: ended {result.status}")


async def run_phase(
    kind: Kind,
    pairs: Sequence[Pair],
    first_index: int,
    concurrency: int,
    server: DevServer,
    *,
    measure: bool = True,
) -> None:
    gate = asyncio.Semaphore(concurrency)
    errors: list[BaseException] = []

    async def one(offset: int, pair: Pair) -> None:
        async with gate:
            try:
                workflow_id, latency = await kind.lifecycle(pair, first_index + offset)
            except Exception as err:
                errors.append(err)
                return
        if measure:
            kind.latencies.append(latency)
            kind.workflow_ids.append(workflow_id)

    cpu_before = kind.cpu_seconds(), server_cpu_seconds(server), time.process_time()
    audit_before = kind.audit_timings()
    started = time.perf_counter()
    await asyncio.gather(*(one(i, pair) for i, pair in enumerate(pairs)))
    elapsed = time.perf_counter() - started
    if kind.timing_files:
        # Every lifecycle has ended; let the workers' next write of their totals land.
        await asyncio.sleep(2 * FLUSH_EVERY)
    if errors:
        log(f"{kind.name}: {len(errors)} lifecycles failed; first: {errors[0]!r}")
    if not measure:
        return
    kind.seconds += elapsed
    kind.done += len(pairs) - len(errors)
    kind.failures += len(errors)
    kind.worker_cpu += kind.cpu_seconds() - cpu_before[0]
    kind.add_audit(audit_before, kind.audit_timings())
    kind.server_cpu += server_cpu_seconds(server) - cpu_before[1]
    kind.client_cpu += time.process_time() - cpu_before[2]
    log(
        f"{kind.name}: {len(pairs) - len(errors)} lifecycles in {elapsed:.1f}s "
        f"= {(len(pairs) - len(errors)) / elapsed:.1f}/s"
    )


@dataclass
class Histories:
    """What a sample of one side's histories says per lifecycle."""

    events: float
    actions: dict[str, float]
    types: Counter[str]


async def history_events(client: Client, workflow_ids: Sequence[str]) -> Histories:
    """Mean events and Temporal Cloud actions per lifecycle over a sample, and the event
    types of the first history."""
    from temporalio.api.enums.v1 import EventType

    sample = list(workflow_ids)[:HISTORY_SAMPLE]
    histories = [
        (await client.get_workflow_handle(workflow_id).fetch_history()).events
        for workflow_id in sample
    ]
    counts = [len(events) for events in histories]
    types: Counter[str] = Counter()
    if histories:
        types.update(EventType.Name(e.event_type) for e in histories[0])
    return Histories(
        events=sum(counts) / len(counts) if counts else 0.0,
        actions=per_lifecycle(histories),
        types=types,
    )


def audit_summary(kind: Kind) -> dict[str, Any] | None:
    """The audit head's lock per lifecycle (None for bare, which writes no audit)."""
    if not kind.timing_files:
        return None
    done = max(kind.done, 1)
    return {
        "takes_per_lifecycle": round(kind.audit_takes / done, 2),
        "lock_wait_ms_per_lifecycle": round(kind.audit_wait / done * 1000, 3),
        "lock_wait_ms_per_take": {
            "p50": round(percentile(kind.audit_waits, 50) * 1000, 3),
            "p99": round(percentile(kind.audit_waits, 99) * 1000, 3),
            "max": round(max(kind.audit_waits, default=0.0) * 1000, 3),
        },
        # How long each take held the lock to its commit: what the others queue behind.
        "lock_hold_ms_per_lifecycle": round(kind.audit_hold / done * 1000, 3),
        # The transactions that took the head, begin to end, waits included; the target
        # (docs/performance.md) is waits under 5 % of it.
        "transaction_ms_per_lifecycle": round(kind.audit_transaction / done * 1000, 3),
        "wait_share_of_transactions": round(kind.audit_wait / kind.audit_transaction, 4)
        if kind.audit_transaction
        else None,
        # Takes whose transaction rolled back (on PostgreSQL, a deadlock broken): retried.
        "takes_rolled_back": kind.audit_rolled_back,
    }


def summary(kind: Kind, histories: Histories) -> dict[str, Any]:
    done = max(kind.done, 1)
    return {
        "lifecycles_per_s": round(kind.rate(), 2),
        "approval_to_granted_ms": {
            "p50": round(percentile(kind.latencies, 50) * 1000, 1),
            "p99": round(percentile(kind.latencies, 99) * 1000, 1),
        },
        "history_events_per_lifecycle": round(histories.events, 1),
        "temporal_actions_per_lifecycle": histories.actions,
        "worker_peak_rss_mb": round(kind.peak_rss() / 2**20, 1),
        # All of this side's worker processes together.
        "worker_cpu_ms_per_lifecycle": round(kind.worker_cpu / done * 1000, 1),
        "server_cpu_ms_per_lifecycle": round(kind.server_cpu / done * 1000, 1),
        "client_cpu_ms_per_lifecycle": round(kind.client_cpu / done * 1000, 1),
        "audit_head": audit_summary(kind),
        "failures": kind.failures,
    }


async def run_phases(
    ours: Kind,
    bare: Kind,
    pairs: list[Pair],
    warmup: int,
    args: argparse.Namespace,
    server: DevServer,
) -> None:
    """Warm both sides up, then the measured rounds, alternating who goes first."""
    log(f"warm-up: {warmup} lifecycles each")
    for kind in (ours, bare):
        await run_phase(kind, pairs[:warmup], 0, args.concurrency, server, measure=False)
    measured = pairs[warmup:]
    size = -(-len(measured) // args.rounds)
    for r in range(args.rounds):
        chunk = measured[r * size : (r + 1) * size]
        # Alternate who goes first, so drift in the machine's load evens out.
        order = (bare, ours) if r % 2 == 0 else (ours, bare)
        for kind in order:
            first = warmup + r * size
            await run_phase(kind, chunk, first, args.concurrency, server)


async def events_per_lifecycle(
    client: Client, ours: Kind, bare: Kind
) -> tuple[Histories, Histories]:
    """Both sides' history events and actions per lifecycle, from a sample of histories."""
    log("fetching a sample of histories")
    ours_histories = await history_events(client, ours.workflow_ids)
    bare_histories = await history_events(client, bare.workflow_ids)
    log(f"ours' history: {dict(ours_histories.types)}")
    log(f"bare history: {dict(bare_histories.types)}")
    return ours_histories, bare_histories


@dataclass
class Workers:
    """Both sides' worker processes, each side on its own fresh queue."""

    ours: list[WorkerProcess]
    bare: list[WorkerProcess]
    ours_queue: str
    bare_queue: str
    timing_files: list[Path]

    @property
    def all(self) -> list[WorkerProcess]:
        return [*self.ours, *self.bare]


def start_workers(
    server: DevServer, url: str, outbox: Path, directory: Path, args: argparse.Namespace
) -> Workers:
    """``--workers`` of ours (the real worker, its audit head's lock timed) and as many
    bare ones."""
    ours_queue = f"bench-ours-{uuid.uuid4().hex[:8]}"
    bare_queue = f"bench-bare-{uuid.uuid4().hex[:8]}"
    env = worker_env(server, url, ours_queue, outbox)
    env.update(dict(item.split("=", 1) for item in args.worker_env))
    workers = Workers([], [], ours_queue, bare_queue, [])
    # Appended as they start, so a failure part-way still stops the ones started.
    for i in range(args.workers):
        timings = directory / f"audit-head-{i}.json"
        workers.timing_files.append(timings)
        workers.ours.append(
            start_worker(
                f"worker-{i}",
                ["bench/timed_worker.py"],
                {**env, "BENCH_AUDIT_TIMINGS": str(timings)},
                directory,
            )
        )
        workers.bare.append(
            start_worker(
                f"bare-worker-{i}",
                ["bench/bare_worker.py"],
                {**env, "TASK_QUEUE": bare_queue},
                directory,
            )
        )
    return workers


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    warmup = min(20, args.n)
    admin_url = args.postgres_admin_url if args.store == "postgresql" else None
    with workdir(keep=args.keep) as directory, postgres_store(admin_url) as database_url:
        log(f"work directory {directory}; store {database_url or 'SQLite'}")
        engine, url, pairs = prepare_store(directory, args.n + warmup, database_url)
        outbox = directory / "outbox"
        outbox.mkdir()
        async with dev_server(directory, tuned=not args.untuned, extra=args.server_flag) as server:
            log(f"dev server on {server.address}, flags: {' '.join(server.flags) or 'none'}")
            client = await client_for(server)
            workers = Workers([], [], "", "", [])
            try:
                workers = start_workers(server, url, outbox, directory, args)
                service = RequestService(client, engine, workers.ours_queue, timeout=120)
                driver = Driver(client, service, workers.bare_queue, outbox, args.read_ms / 1000)
                ours = Kind("ours", workers.ours, driver.ours, timing_files=workers.timing_files)
                bare = Kind("bare", workers.bare, driver.bare)
                async with sampling(workers.all):
                    await run_phases(ours, bare, pairs, warmup, args, server)
                histories = await events_per_lifecycle(client, ours, bare)
                emails = len(list(outbox.glob("*.eml"))) if outbox.exists() else 0
                expected = 2 * (ours.done + warmup)  # the shop owner's, then the requester's
                log(f"outbox: {emails} e-mails (expected {expected})")
            finally:
                for worker in workers.all:
                    stop_process(worker.proc)
            engine.dispose()
    return report(args, server, ours, bare, histories, (emails, expected))


def report(
    args: argparse.Namespace,
    server: DevServer,
    ours: Kind,
    bare: Kind,
    histories: tuple[Histories, Histories],
    mail: tuple[int, int],
) -> dict[str, Any]:
    """The JSON summary that ends the output."""
    (ours_histories, bare_histories), (emails, expected) = histories, mail
    ours_events = ours_histories.events
    ratio = ours.rate() / bare.rate() if bare.rate() else 0.0
    ours_summary = summary(ours, ours_histories)
    return {
        "store": args.store,
        "workers": args.workers,
        "n": args.n,
        "concurrency": args.concurrency,
        "rounds": args.rounds,
        "tuned": not args.untuned,
        "devserver_flags": server.flags,
        "worker_env": args.worker_env,
        "read_ms": args.read_ms,
        "ours": ours_summary,
        "bare": summary(bare, bare_histories),
        "ours_lifecycles_per_s": round(ours.rate(), 2),
        "bare_lifecycles_per_s": round(bare.rate(), 2),
        "ratio": round(ratio, 3),
        "approval_to_granted_ms": ours_summary["approval_to_granted_ms"],
        "history_events_per_lifecycle": round(ours_events, 1),
        "temporal_actions_per_lifecycle": ours_summary["temporal_actions_per_lifecycle"],
        "audit_head": ours_summary["audit_head"],
        "worker_peak_rss_mb": round(ours.peak_rss() / 2**20, 1),
        "emails_in_outbox": emails,
        "emails_expected": expected,
        "targets": {
            "ratio_at_least": TARGET_RATIO,
            "events_at_most": TARGET_EVENTS,
            "ratio_met": ratio >= TARGET_RATIO,
            "events_met": ours_events <= TARGET_EVENTS,
        },
    }


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=300, help="measured lifecycles per side")
    parser.add_argument("--concurrency", type=int, default=50, help="lifecycles in flight")
    parser.add_argument("--rounds", type=int, default=2, help="alternating ours/bare rounds")
    parser.add_argument(
        "--untuned", action="store_true", help="run the dev server with its own defaults"
    )
    parser.add_argument(
        "--server-flag",
        action="append",
        default=[],
        metavar="FLAG",
        help="an extra dev server argument to try (repeat; e.g. --server-flag=--sqlite-pragma)",
    )
    parser.add_argument(
        "--worker-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra environment for both workers (repeat), e.g. WORKER_SANDBOX=0",
    )
    parser.add_argument(
        "--read-ms",
        type=float,
        default=100.0,
        help="the simulated seller's pause between the e-mail arriving and the click, both "
        "sides (0: click at once; see docs/performance.md)",
    )
    parser.add_argument(
        "--store",
        choices=("sqlite", "postgresql"),
        default="sqlite",
        help="the store: a SQLite file (the embedded stack) or a scratch PostgreSQL database "
        "(the production shape)",
    )
    parser.add_argument(
        "--postgres-admin-url",
        default=DEFAULT_POSTGRES_ADMIN_URL,
        help="a PostgreSQL server's admin URL, where --store postgresql creates (and drops) "
        "its scratch database (default: TEST_POSTGRES_ADMIN_URL, else the local server)",
    )
    parser.add_argument(
        "--workers", type=int, default=1, help="worker processes per side, one queue each"
    )
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args(argv)
    for name in ("n", "concurrency", "rounds", "workers"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    return args


def main() -> None:
    args = parse_args()
    result = asyncio.run(bench(args))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
