"""What every command shares: the Context of one run and the ``command`` wrapper.

The wrapper gives a command ``--json``, builds its Context, runs it (an ``async def``
command runs on one event loop here, so no command carries its own runner), maps the
store's driver errors to ``StoreUnavailable`` in one place, and closes the store. Failures
leave as exceptions: the group (cli/failures.py) turns each into the error contract.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import click
from pydantic import ValidationError
from sqlalchemy import Engine

from models.errors import ErrorCode, Refusal
from models.fields import ids_as_strings
from models.settings import Settings
from store.db import make_engine, require_existing, store_errors

if TYPE_CHECKING:
    from client.access_requests import RequestService
    from client.partners import PartnerService

CommandFn = Callable[..., Awaitable[None] | None]


class Context:
    """One command's settings, store engine, services and output mode."""

    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json
        self._settings: Settings | None = None
        self._engine: Engine | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            try:
                self._settings = Settings()
            except ValidationError as err:
                problems = "; ".join(
                    f"{'.'.join(str(p) for p in e['loc']) or 'settings'}: {e['msg']}"
                    for e in err.errors()
                )
                raise Refusal(
                    ErrorCode.INVALID_INPUT, f"Invalid configuration: {problems}"
                ) from None
        return self._settings

    @property
    def engine(self) -> Engine:
        """The store, which must exist already (only ``migrate`` creates one)."""
        if self._engine is None:
            require_existing(self.settings.database_url)
            self._engine = make_engine(self.settings.database_url)
        return self._engine

    def new_store_engine(self) -> Engine:
        """The store, created if missing: for ``migrate``."""
        if self._engine is None:
            self._engine = make_engine(self.settings.database_url)
        return self._engine

    async def requests(self) -> RequestService:
        """The request service over a fresh Temporal connection."""
        from client.access_requests import RequestService
        from client.temporal import connect

        try:
            client = await connect()
        except RuntimeError as err:
            raise Refusal(
                ErrorCode.SERVICE_UNAVAILABLE,
                f"Cannot reach Temporal ({err}); is the server running? See TEMPORAL_ADDRESS.",
            ) from None
        return RequestService(
            client, self.engine, self.settings.task_queue, reminder_days=self.settings.reminder_days
        )

    def partners(self) -> PartnerService:
        """The partner service for store-only commands (no Temporal connection)."""
        from client.partners import PartnerService

        return PartnerService(None, self.engine, self.settings.task_queue)

    async def partners_connected(self) -> PartnerService:
        """The partner service with the same Temporal connection and errors as requests."""
        from client.partners import PartnerService

        service = await self.requests()
        return PartnerService(service.client, self.engine, self.settings.task_queue)

    def emit(self, payload: dict[str, Any], human: str) -> None:
        if self.as_json:
            # Ids as strings (R30), also in payloads put together by hand: scripts read
            # this with jq and JavaScript, which round numbers beyond 2^53.
            click.echo(json.dumps(ids_as_strings(payload), default=str))
        else:
            click.echo(human)

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()


def command(fn: CommandFn) -> Callable[..., None]:
    """Give a command ``--json`` and a Context; run it (awaiting it if it is async)."""

    @click.option("--json", "as_json", is_flag=True, help="Print one JSON object, errors too.")
    @functools.wraps(fn)
    def wrapper(as_json: bool, **kwargs: Any) -> None:
        ctx = Context(as_json)
        try:
            with store_errors(ctx.settings.database_url):
                outcome = fn(ctx, **kwargs)
                if inspect.iscoroutine(outcome):
                    asyncio.run(outcome)
        finally:
            ctx.close()

    return wrapper
