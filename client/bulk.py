"""Client-side bulk requests (R24): check the shop codes of a file (the CLI) or a list (the
API), start the bulk workflow, follow its progress, cancel it; and the daily quota read (R4).

A bad file or list is refused whole, naming the line or item, before anything starts.
"""

from __future__ import annotations

import asyncio
import csv
import io
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import Engine
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from client.access_requests import DEFAULT_TIMEOUT_SECONDS, refusal_from
from client.temporal import answer_within
from models.bulk_messages import BulkInput, BulkProgress, CancelBulk, QuotaView
from models.enums import RequestMethod
from models.errors import ErrorCode, Refusal
from models.fields import require_db_id
from models.names import BulkMessage, BulkWorkflowType, bulk_workflow_id
from store.admission import check_eligible_bc
from store.db import read_session
from store.people import SHOP_CODE, require_bc, require_bc_admin
from store.quota import quota_today

# A bulk is one person's list, not a data load: past this, split the file.
MAX_CODES = 1000
# Column names taken as the shop code in a CSV file with a header (compared lower-case,
# spaces and dashes as underscores).
CODE_COLUMNS = ("shop_code", "code")
BULK_ID = re.compile(r"^bulk_[0-9a-f]{16}$")
# A UI refresh rate, not a test's wait: the query is served from the worker's cache.
POLL_INTERVAL = 0.5
# While a bulk sleeps until tomorrow nothing changes but a cancel: ask less often.
WAITING_POLL_INTERVAL = 10.0
FINAL = frozenset({"completed", "cancelled"})


@dataclass(frozen=True)
class _Origin:
    """Where the codes came from, for a refusal's words: a file's lines (the CLI) or a
    list's items (the API's ``shop_codes``). The rules are the same for both."""

    kind: Literal["file", "list"]

    def place(self, n: int) -> str:
        return f"line {n}" if self.kind == "file" else f"shop_codes[{n}]"

    def bad(self, n: int, problem: str) -> Refusal:
        if self.kind == "file":
            return Refusal(ErrorCode.INVALID_INPUT, f"Line {n}: {problem}", line=n)
        return Refusal(ErrorCode.INVALID_INPUT, f"shop_codes[{n}]: {problem}", index=n)

    def empty(self) -> Refusal:
        return Refusal(ErrorCode.INVALID_INPUT, f"The {self.kind} has no shop codes.")


FILE, LIST = _Origin("file"), _Origin("list")


def parse_shop_codes(text: str) -> list[str]:
    """The codes of a file: one per line, or CSV with a header naming a ``shop_code`` (or
    ``code``) column. Blank lines are skipped; then :func:`_checked_codes`'s rules, a
    refusal naming the line."""
    text = text.removeprefix("\ufeff")
    lines = [(n, raw.strip()) for n, raw in enumerate(text.splitlines(), start=1)]
    lines = [(n, raw) for n, raw in lines if raw]
    if not lines:
        raise FILE.empty()
    first_line, first = lines[0]
    header = [c.strip().lower().replace(" ", "_").replace("-", "_") for c in first.split(",")]
    entries: list[tuple[int, str]]
    if "," in first or header[0] in CODE_COLUMNS:
        column = next((header.index(c) for c in CODE_COLUMNS if c in header), None)
        if column is None:
            raise FILE.bad(
                first_line, "a CSV file needs a header with a shop_code column, e.g. shop_code"
            )
        entries = []
        for n, raw in lines[1:]:
            row = next(csv.reader(io.StringIO(raw)))
            value = row[column].strip() if column < len(row) else ""
            if not value:
                raise FILE.bad(n, "this row has no shop code")
            entries.append((n, value))
    else:
        entries = lines
    return _checked_codes(entries, FILE)


def check_shop_codes(codes: list[str]) -> list[str]:
    """The codes of a list (the API's ``shop_codes``), by the file's rules: surrounding
    spaces dropped, upper-cased (R5), each a shop code, none twice, 1 to MAX_CODES of them;
    a refusal names the item by its index (``shop_codes[2]``)."""
    return _checked_codes([(i, code.strip()) for i, code in enumerate(codes)], LIST)


def _checked_codes(entries: list[tuple[int, str]], origin: _Origin) -> list[str]:
    """A malformed code, a repeated code, no code or more than MAX_CODES codes refuse the
    whole list with ``invalid_input`` naming the entry: nothing starts unless all is good."""
    codes: list[str] = []
    seen: dict[str, int] = {}
    for n, value in entries:
        code = value.upper()
        if not SHOP_CODE.match(code):
            raise origin.bad(n, f"{value[:40]!r} is not a shop code (4 to 32 letters and digits)")
        if code in seen:
            where = "on" if origin.kind == "file" else "at"
            raise origin.bad(n, f"shop code {code} is already {where} {origin.place(seen[code])}")
        seen[code] = n
        codes.append(code)
    if not codes:
        raise origin.empty()
    if len(codes) > MAX_CODES:
        raise Refusal(
            ErrorCode.INVALID_INPUT,
            f"The {origin.kind} has {len(codes)} shop codes; a bulk request takes at most "
            f"{MAX_CODES}.",
        )
    return codes


def quota(engine: Engine, bc_id: int) -> QuotaView:
    """R4: a BC's requests left today and when the limit resets (``quota``, the API)."""
    require_db_id("bc_id", bc_id)
    with read_session(engine) as session:
        return quota_today(session, bc_id)


def new_bulk_id() -> str:
    return "bulk_" + uuid.uuid4().hex[:16]


class BulkService:
    def __init__(
        self,
        client: Client,
        engine: Engine,
        task_queue: str,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
    ) -> None:
        self.client = client
        self.engine = engine
        self.task_queue = task_queue
        self.timeout = timeout

    async def start(
        self,
        *,
        method: RequestMethod,
        bc_id: int,
        shop_codes: list[str],
        by: str,
        bulk_id: str | None = None,
    ) -> str:
        """Start a bulk request and return its id. R1 and R2 are checked here, so a BC
        that may not ask at all starts nothing; every other rule answers per code.

        ``bulk_id``: a caller that may ask again for the same bulk (a retried API call
        with its Idempotency-Key) fixes the id; a bulk already started under it, running
        or ended, is the answer, and nothing starts twice.
        """
        require_db_id("bc_id", bc_id)
        with read_session(self.engine) as session:
            bc = require_bc(session, bc_id)
            require_bc_admin(session, bc, by)  # R1
            check_eligible_bc(bc)  # R2
        fixed = bulk_id is not None
        bulk_id = bulk_id or new_bulk_id()
        try:
            await self.client.start_workflow(
                BulkWorkflowType.BULK_REQUEST,
                BulkInput(
                    bulk_id=bulk_id,
                    method=method,
                    bc_id=bc_id,
                    requested_by=by.strip().lower(),
                    shop_codes=shop_codes,
                ),
                id=bulk_workflow_id(bulk_id),
                task_queue=self.task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
                # A fixed id names one bulk for ever: an ended one is not run again.
                id_reuse_policy=(
                    WorkflowIDReusePolicy.REJECT_DUPLICATE
                    if fixed
                    else WorkflowIDReusePolicy.ALLOW_DUPLICATE
                ),
                static_summary=f"Bulk {method.label}: BC {bc_id}, {len(shop_codes)} shops",
            )
        except WorkflowAlreadyStartedError:
            if not fixed:
                raise
        return bulk_id

    async def progress(self, bulk_id: str) -> BulkProgress:
        handle = self.client.get_workflow_handle(bulk_workflow_id(self._check(bulk_id)))
        try:
            async with answer_within(self.timeout):
                result: BulkProgress = await handle.query(
                    BulkMessage.PROGRESS, result_type=BulkProgress
                )
                return result
        except RPCError as err:
            if err.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.INVALID_ARGUMENT):
                raise self._unknown(bulk_id) from None
            raise
        except TimeoutError:
            raise self._unavailable(bulk_id) from None

    async def cancel(self, bulk_id: str, *, by: str) -> BulkProgress:
        """Stop a running bulk before its next code; only an admin of its BC may (R1)."""
        current = await self.progress(bulk_id)
        with read_session(self.engine) as session:
            require_bc_admin(session, require_bc(session, current.bc_id), by)
        handle = self.client.get_workflow_handle(bulk_workflow_id(bulk_id))
        try:
            async with answer_within(self.timeout):
                outcome: BulkProgress = await handle.execute_update(
                    BulkMessage.CANCEL, CancelBulk(by=by), result_type=BulkProgress
                )
                return outcome
        except WorkflowUpdateFailedError as err:
            refusal = refusal_from(err)
            if refusal is None:
                raise Refusal(ErrorCode.SERVICE_UNAVAILABLE, f"Cancel failed: {err}") from None
            raise refusal from None
        except RPCError as err:
            if err.status is RPCStatusCode.NOT_FOUND:  # it finished meanwhile
                raise Refusal(
                    ErrorCode.BULK_NOT_RUNNING,
                    f"Bulk request {bulk_id} has finished.",
                    bulk_id=bulk_id,
                    status="completed",
                ) from None
            raise
        except TimeoutError:
            raise self._unavailable(bulk_id) from None

    async def follow(
        self, bulk_id: str, *, interval: float = POLL_INTERVAL
    ) -> AsyncIterator[BulkProgress]:
        """Each distinct progress of a bulk, until it is completed or cancelled."""
        last: BulkProgress | None = None
        while True:
            step = await self.progress(bulk_id)
            if step != last:
                yield step
                last = step
            if step.status in FINAL:
                return
            await asyncio.sleep(
                max(interval, WAITING_POLL_INTERVAL) if step.status == "waiting" else interval
            )

    @staticmethod
    def _check(bulk_id: str) -> str:
        if not BULK_ID.match(bulk_id):
            raise BulkService._unknown(bulk_id)
        return bulk_id

    @staticmethod
    def _unknown(bulk_id: str) -> Refusal:
        return Refusal(
            ErrorCode.UNKNOWN_BULK, f"There is no bulk request {bulk_id}.", bulk_id=bulk_id
        )

    def _unavailable(self, bulk_id: str) -> Refusal:
        return Refusal(
            ErrorCode.SERVICE_UNAVAILABLE,
            f"No worker answered about bulk request {bulk_id} within {self.timeout:.0f} "
            "seconds; it carries on once a worker is back.",
        )
