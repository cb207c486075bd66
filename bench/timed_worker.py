"""The real worker (worker.py) with the audit chain head's lock timed inside its
transactions: ``python bench/timed_worker.py`` (configured like worker.py, plus
BENCH_AUDIT_TIMINGS, the JSON file to write the totals to).

Every audit write starts with one ``UPDATE audit_chain_head ... RETURNING`` (store/audit.py:
it takes the head's row lock and the next seqs), and the lock is held until the
transaction ends. Two intervals are timed per take, on the connection that runs it:

- **wait**: the UPDATE statement itself, from the driver's send to its answer. On
  PostgreSQL that is the time queued behind another transaction holding the row lock,
  plus the update's own few tens of microseconds;
- **hold**: from the UPDATE's answer to the transaction's commit or rollback, the time
  every other writer of the chain queues behind this one; a take whose transaction rolls
  back (PostgreSQL broke a deadlock, say, and the activity will retry) is counted too,
  and so is a take that itself failed (its wait up to the error counts as a wait).

And, for scale, **transaction**: from the begin to the commit or rollback of each
transaction that took the head (admission, decision, the audited steps), waits included:
the share of it spent waiting is what the head costs a writer.

The totals go to the file every 200 ms, the waits since the last write appended to a
sibling file, from a daemon thread (worker.py leaves with
``os._exit``, so nothing at exit would run); the bench reads them at phase boundaries,
once the phase's lifecycles have all ended. Nothing in the worker's code changes: the
timing hangs on SQLAlchemy's engine events, for every engine the worker makes.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

HEAD_TABLE = "audit_chain_head"
FLUSH_EVERY = 0.2


class AuditHeadTimings:
    """Totals of the head's takes, waits and holds (seconds), across threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.takes = 0
        self.wait = 0.0
        self.hold = 0.0
        self.transaction = 0.0  # begin to end of the transactions that took the head
        self.rolled_back = 0  # takes whose transaction then rolled back (a deadlock, say)
        self.waits: list[float] = []

    def took(self, waited: float) -> None:
        with self.lock:
            self.takes += 1
            self.wait += waited
            self.waits.append(waited)

    def held(self, seconds: float, transaction: float, committed: bool = True) -> None:
        with self.lock:
            self.hold += seconds
            self.transaction += transaction
            self.rolled_back += not committed

    def snapshot(self, waits_from: int = 0) -> dict[str, Any]:
        """The totals, and the waits from index ``waits_from`` on (all by default)."""
        with self.lock:
            return {
                "takes": self.takes,
                "wait_s": self.wait,
                "hold_s": self.hold,
                "transaction_s": self.transaction,
                "rolled_back": self.rolled_back,
                "waits_s": self.waits[waits_from:],
            }


def is_take(statement: str) -> bool:
    """The head's UPDATE (the take), not the hash update that follows it in the same
    transaction: only the take has RETURNING."""
    head = statement.lstrip()[:200].upper()
    return (
        head.startswith("UPDATE")
        and HEAD_TABLE.upper() in head
        and "RETURNING" in (statement.upper())
    )


def install(timings: AuditHeadTimings) -> None:
    """Time every take of the head on every engine made from now on."""

    @event.listens_for(Engine, "begin")
    def began(conn: Connection) -> None:
        conn.info["transaction_started"] = time.perf_counter()

    @event.listens_for(Engine, "before_cursor_execute")
    def before(
        conn: Connection, cursor: Any, statement: str, params: Any, context: Any, many: bool
    ) -> None:
        if HEAD_TABLE in statement and is_take(statement):
            conn.info["audit_take_started"] = time.perf_counter()

    @event.listens_for(Engine, "after_cursor_execute")
    def after(
        conn: Connection, cursor: Any, statement: str, params: Any, context: Any, many: bool
    ) -> None:
        started = conn.info.pop("audit_take_started", None)
        if started is not None:
            now = time.perf_counter()
            timings.took(now - started)
            conn.info["audit_held_from"] = now

    @event.listens_for(Engine, "handle_error")
    def failed(context: Any) -> None:
        # A take that failed (PostgreSQL chose it as a deadlock's victim, say) waited all
        # the same, and its transaction rolls back; its start must not linger in the
        # connection's info for a later statement to pick up.
        conn = context.connection
        started = conn.info.pop("audit_take_started", None) if conn is not None else None
        if started is not None:
            now = time.perf_counter()
            timings.took(now - started)
            begun = conn.info.pop("transaction_started", started)
            timings.held(0.0, now - begun, committed=False)

    def ended(conn: Connection, committed: bool) -> None:
        held_from = conn.info.pop("audit_held_from", None)
        begun = conn.info.pop("transaction_started", None)
        if held_from is not None:
            now = time.perf_counter()
            timings.held(now - held_from, now - (begun or held_from), committed)

    event.listen(Engine, "commit", lambda conn: ended(conn, True))
    event.listen(Engine, "rollback", lambda conn: ended(conn, False))


def flush_forever(timings: AuditHeadTimings, path: Path) -> None:
    """Every FLUSH_EVERY: append the waits since the last write to ``<path>.waits``, one
    per line, then replace ``path`` with the totals and how many waits they cover. Only
    what is new is written, so the flushes cost the measured worker no more late in a run
    than early (dumping the whole list each time grew with the run, up to a few per cent
    of the worker's samples)."""
    partial, waits_file = path.with_suffix(".tmp"), path.with_suffix(".waits")
    written, last = 0, None
    with waits_file.open("a") as waits:
        while True:
            totals = timings.snapshot(waits_from=written)
            new = totals.pop("waits_s")
            if new:
                waits.write("".join(f"{w!r}\n" for w in new))
                waits.flush()
                written += len(new)
            totals["waits_written"] = written
            if totals != last:
                partial.write_text(json.dumps(totals))
                partial.replace(path)  # the bench never reads half a file
                last = totals
            time.sleep(FLUSH_EVERY)


def read_timings(path: Path) -> dict[str, Any]:
    """What a timed worker wrote last (zeros before its first write), with its waits."""
    try:
        totals = dict(json.loads(path.read_text()))
    except FileNotFoundError:
        return {
            "takes": 0, "wait_s": 0.0, "hold_s": 0.0, "transaction_s": 0.0, "rolled_back": 0,
            "waits_s": [],
        }  # fmt: skip
    # The waits are appended before the totals name them: the file holds at least these.
    lines = path.with_suffix(".waits").read_text().splitlines()
    totals["waits_s"] = [float(w) for w in lines[: totals.pop("waits_written")]]
    return totals


def main() -> None:
    timings = AuditHeadTimings()
    install(timings)
    out = Path(os.environ["BENCH_AUDIT_TIMINGS"])
    threading.Thread(target=flush_forever, args=(timings, out), daemon=True).start()
    import worker

    worker.main()


if __name__ == "__main__":
    main()
