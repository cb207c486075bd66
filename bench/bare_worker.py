"""The bare baseline's worker process: ``python bench/bare_worker.py`` (TASK_QUEUE and
TEMPORAL_ADDRESS from the environment).

Built like worker.py's (same client options, sandbox, thread pool and slot counts) so the
only difference the benchmark sees is what the activities and workflow code do. The
workflow lives in bench/bare_workflow.py: a workflow defined in the script that runs it
fails the sandbox's validation.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from temporalio.worker import Worker

from bench.bare_workflow import BARE_ACTIVITIES, BareAccessRequest
from client.temporal import connect
from models.settings import Settings
from runtime.heap import freeze_startup_heap
from worker import workflow_runner


async def run() -> None:
    settings = Settings(dev_mode=True)
    threads = settings.activity_threads
    client = await connect()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    with ThreadPoolExecutor(max_workers=threads) as executor:
        worker = Worker(
            client,
            task_queue=os.environ["TASK_QUEUE"],
            workflows=[BareAccessRequest],
            activities=BARE_ACTIVITIES,
            activity_executor=executor,
            max_concurrent_activities=threads,
            max_cached_workflows=settings.worker_max_cached_workflows,
            workflow_runner=workflow_runner(settings.worker_sandbox),
            graceful_shutdown_timeout=timedelta(seconds=10),
        )
        freeze_startup_heap()  # as worker.py does
        async with worker:
            await stop.wait()


if __name__ == "__main__":
    asyncio.run(run())
