"""Which dev server flags pay: the bare lifecycle against several dev servers, one run.

    .venv/bin/python bench/devserver_tuning.py --n 200 --concurrency 50

Starts one dev server per configuration (each on its own SQLite file and free port, idle
when not measured) with a bare worker each (bench/bare_worker.py), then runs the bare
lifecycle against them in alternating rounds, so every configuration sees the same
machine load. Reports lifecycles/s, approval-to-granted latency and CPU per lifecycle
(server and worker) for each. What is kept goes into devtools.devserver.tuning_args and
docs/performance.md. Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import (
    DevServer,
    client_for,
    dev_server,
    log,
    reference_data,
    sampling,
    start_worker,
    stop_process,
    workdir,
)
from bench.lifecycle import Driver, Histories, Kind, run_phase, summary

DYN = "--dynamic-config-value"


@dataclass(frozen=True)
class Config:
    name: str
    tuned: bool
    extra: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()


CONFIGS = {
    "untuned": Config("untuned", tuned=False),
    "tuned": Config("tuned", tuned=True),
    "tuned+eager": Config(
        "tuned+eager", tuned=True, extra=(DYN, "system.enableActivityEagerExecution=true")
    ),
    "tuned+1partition": Config(
        "tuned+1partition",
        tuned=True,
        extra=(
            DYN,
            "matching.numTaskqueueReadPartitions=1",
            DYN,
            "matching.numTaskqueueWritePartitions=1",
        ),
    ),
    "tuned+gogc400": Config("tuned+gogc400", tuned=True, env=(("GOGC", "400"),)),
    "tuned+sqlitecache": Config(
        "tuned+sqlitecache",
        tuned=True,
        extra=(
            "--sqlite-pragma",
            "cache_size=-65536",
            "--sqlite-pragma",
            "mmap_size=268435456",
            "--sqlite-pragma",
            "temp_store=memory",
        ),
    ),
}


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    configs = [CONFIGS[name] for name in args.configs]
    warmup = 10
    _, pairs = reference_data(args.n + warmup)
    results: dict[str, Any] = {}
    with workdir(keep=args.keep) as directory, contextlib.ExitStack() as stack:
        async with contextlib.AsyncExitStack() as servers:
            kinds: list[tuple[Kind, DevServer]] = []
            for config in configs:
                home = directory / config.name
                home.mkdir()
                outbox = home / "outbox"
                outbox.mkdir()
                server = await servers.enter_async_context(
                    dev_server(home, tuned=config.tuned, extra=config.extra, env=dict(config.env))
                )
                queue = f"bench-bare-{uuid.uuid4().hex[:8]}"
                worker = start_worker(
                    f"bare-worker-{config.name}",
                    ["bench/bare_worker.py"],
                    {
                        "TEMPORAL_ADDRESS": server.address,
                        "TASK_QUEUE": queue,
                        "MAIL_OUTBOX_DIR": str(outbox),
                        "DEV_MODE": "1",
                    },
                    home,
                )
                stack.callback(stop_process, worker.proc)
                driver = Driver(await client_for(server), None, queue, outbox)
                kinds.append((Kind(config.name, [worker], driver.bare), server))
                log(f"{config.name}: {server.address} {' '.join(server.flags)} {config.env}")
            async with sampling([w for kind, _ in kinds for w in kind.workers]):
                for kind, server in kinds:
                    await run_phase(
                        kind, pairs[:warmup], 0, args.concurrency, server, measure=False
                    )
                measured = pairs[warmup:]
                size = -(-len(measured) // args.rounds)
                for r in range(args.rounds):
                    chunk = measured[r * size : (r + 1) * size]
                    # Rotate the order each round so no configuration always goes first.
                    order = kinds[r % len(kinds) :] + kinds[: r % len(kinds)]
                    for kind, server in order:
                        await run_phase(kind, chunk, warmup + r * size, args.concurrency, server)
            for kind, _ in kinds:
                results[kind.name] = summary(kind, Histories(0.0, {}, Counter()))
                for unread in ("history_events_per_lifecycle", "temporal_actions_per_lifecycle"):
                    del results[kind.name][unread]
    base = results.get("untuned", {}).get("lifecycles_per_s")
    for name, result in results.items():
        if base:
            result["vs_untuned"] = round(result["lifecycles_per_s"] / base, 2)
        log(f"{name}: {result}")
    return {"n": args.n, "concurrency": args.concurrency, "rounds": args.rounds, **results}


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--n", type=int, default=200, help="lifecycles per configuration")
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS), metavar="NAME"
    )
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    return parser.parse_args(argv)


def main() -> None:
    print(json.dumps(asyncio.run(bench(parse_args()))), flush=True)


if __name__ == "__main__":
    main()
