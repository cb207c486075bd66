"""The bulk request's one activity: admit one shop code as an ordinary request (R24).

It starts the same request workflow, with the same business-key id, that a single
``request-access`` starts (client/access_requests.py), so what it admits is an ordinary request
in every list and in the Temporal UI. It is idempotent on the request id the bulk workflow
planned: a retry after a worker died finds the row (or the pending request) it made and
answers "admitted" again instead of asking twice.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import datetime

from sqlalchemy import Engine
from temporalio import activity
from temporalio.client import Client

from client.access_requests import RequestService
from models.bulk_messages import BulkAdmit, BulkAdmitOutcome
from models.errors import ErrorCode, Refusal
from models.names import BulkActivity
from models.tables import AccessRequest
from store.db import read_session
from store.quota import quota_today

# Well inside the preset's heartbeat timeout (workflows/presets.py BULK_ADMISSION).
HEARTBEAT_EVERY_SECONDS = 1.0


class BeingAdmitted(Exception):
    """The request workflow for this code is still admitting: retry shortly (a fault that
    heals, so Temporal's retry policy handles it)."""


@contextlib.asynccontextmanager
async def _heartbeating() -> AsyncIterator[None]:
    async def beat() -> None:
        while True:
            activity.heartbeat()
            await asyncio.sleep(HEARTBEAT_EVERY_SECONDS)

    task = asyncio.create_task(beat())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


class BulkActivities:
    def __init__(self, client: Client, engine: Engine, task_queue: str) -> None:
        self._engine = engine
        self._requests = RequestService(client, engine, task_queue)

    @activity.defn(name=BulkActivity.ADMIT_ONE)
    async def admit_one(self, input: BulkAdmit) -> BulkAdmitOutcome:
        if await asyncio.to_thread(self._admitted_already, input.request_id):
            return BulkAdmitOutcome(kind="admitted", request_id=input.request_id)
        # R4 read first: a code that cannot be admitted today starts no workflow at all,
        # which keeps refused runs out of the Temporal UI. Admission still counts exactly.
        quota = await asyncio.to_thread(self._quota, input.bc_id)
        if quota is not None and quota[0] == 0:
            return BulkAdmitOutcome(kind="wait", resets_at=quota[1])
        try:
            async with _heartbeating():
                submitted = await self._requests.submit(
                    method=input.method,
                    bc_id=input.bc_id,
                    shop_code=input.shop_code,
                    by=input.requested_by,
                    request_id=input.request_id,
                )
        except Refusal as refusal:
            return self._answer(input, refusal)
        return BulkAdmitOutcome(kind="admitted", request_id=submitted.request_id)

    def _answer(self, input: BulkAdmit, refusal: Refusal) -> BulkAdmitOutcome:
        if refusal.code == ErrorCode.DAILY_LIMIT_REACHED:
            resets_at = refusal.details.get("resets_at")
            if isinstance(resets_at, str):
                return BulkAdmitOutcome(kind="wait", resets_at=datetime.fromisoformat(resets_at))
        if refusal.code == ErrorCode.REQUEST_ALREADY_PENDING:
            pending = refusal.details.get("request_id")
            if pending == input.request_id:
                # Our own request, admitted by an attempt that died before answering.
                return BulkAdmitOutcome(kind="admitted", request_id=input.request_id)
            if pending is None or pending == "being admitted":
                raise BeingAdmitted(f"shop {input.shop_code} is being admitted")
        if refusal.code == ErrorCode.SERVICE_UNAVAILABLE:
            raise BeingAdmitted(refusal.message)  # a fault: Temporal retries it
        return BulkAdmitOutcome(
            kind="refused", refusal_code=refusal.code, refusal_message=refusal.message
        )

    def _admitted_already(self, request_id: str) -> bool:
        with read_session(self._engine) as session:
            return session.get(AccessRequest, request_id) is not None

    def _quota(self, bc_id: int) -> tuple[int, datetime] | None:
        with read_session(self._engine) as session:
            try:
                quota = quota_today(session, bc_id)
            except Refusal:
                return None  # unknown BC: admission gives the refusal
        return quota.remaining, quota.resets_at
