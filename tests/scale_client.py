"""A client process for tests/test_scale_out.py: submits a batch of access requests at once.

    python -m tests.scale_client '<JSON list of {"method", "bc_id", "shop_code", "by"}>'

Configured like the CLI, by the environment (DATABASE_URL, TASK_QUEUE, TEMPORAL_ADDRESS,
...). It connects, prints ``ready``, waits for a line on stdin (so that two such processes
start their batches together), submits every request of the batch concurrently through
the same ``RequestService.submit`` as ``starter.py request-access``, and prints one JSON
list: per request either ``{"shop_code", "status", "request_id"}`` or ``{"shop_code",
"error": {"code", "message", ...}}``. One process for a whole batch, because each
``starter.py`` call costs over a second of CPU to start, which the test cannot afford 25
times on a shared machine.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from client.access_requests import RequestService
from client.temporal import connect
from models.enums import RequestMethod
from models.errors import Refusal
from models.settings import Settings
from store.db import make_engine


async def submit_one(service: RequestService, item: dict[str, Any]) -> dict[str, Any]:
    try:
        sub = await service.submit(
            method=RequestMethod(item["method"]),
            bc_id=int(item["bc_id"]),
            shop_code=str(item["shop_code"]),
            by=str(item["by"]),
        )
    except Refusal as refusal:
        return {"shop_code": item["shop_code"], **refusal.to_dict()}
    return {"shop_code": item["shop_code"], "status": sub.status, "request_id": sub.request_id}


async def main(batch: list[dict[str, Any]]) -> None:
    settings = Settings()
    engine = make_engine(settings.database_url)
    # Generous: a loaded machine must not turn a slow admission into a refusal.
    service = RequestService(await connect(), engine, settings.task_queue, timeout=120)
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    results = await asyncio.gather(*(submit_one(service, item) for item in batch))
    print(json.dumps(results), flush=True)
    engine.dispose()


if __name__ == "__main__":
    asyncio.run(main(json.loads(sys.argv[1])))
