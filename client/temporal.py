"""The one place that builds Temporal client options, for the worker, the CLI, the web app,
the benchmarks and the tests: the pydantic data converter everywhere, and Temporal's own
environment configuration (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY,
TEMPORAL_TLS_*, and profiles) for where to connect.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from temporalio.client import Client, WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.envconfig import ClientConfig
from temporalio.runtime import Runtime

from models.search_attributes import ALL as SEARCH_ATTRIBUTES

DEFAULT_ADDRESS = "127.0.0.1:7233"


def connect_options() -> dict[str, Any]:
    """Keyword arguments for ``Client.connect`` read from Temporal's environment."""
    options: dict[str, Any] = dict(ClientConfig.load_client_connect_config())
    options.setdefault("target_host", DEFAULT_ADDRESS)
    options["data_converter"] = pydantic_data_converter
    return options


async def connect(runtime: Runtime | None = None, **overrides: Any) -> Client:
    options = connect_options()
    options.update(overrides)
    if runtime is not None:
        options["runtime"] = runtime
    return await Client.connect(**options)


async def ensure_search_attributes(client: Client) -> list[str]:
    """Register the search attributes ops filter by, if the namespace lacks them.

    Best effort: on Temporal Cloud they are created in the console instead, and the
    operator API answers with a permission error that is reported, not raised.
    """
    from temporalio.api.enums.v1 import IndexedValueType
    from temporalio.api.operatorservice.v1 import (
        AddSearchAttributesRequest,
        ListSearchAttributesRequest,
    )

    namespace = client.namespace
    existing = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=namespace)
    )
    missing = [k.name for k in SEARCH_ATTRIBUTES if k.name not in existing.custom_attributes]
    if missing:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(
                namespace=namespace,
                search_attributes={
                    name: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD for name in missing
                },
            )
        )
    return missing


@asynccontextmanager
async def answer_within(seconds: float) -> AsyncIterator[None]:
    """``asyncio.timeout`` for calls that wait on a worker (updates, queries): a deadline
    ends as ``TimeoutError`` whatever the call was doing. An update cancelled by the
    deadline raises the SDK's ``WorkflowUpdateRPCTimeoutOrCancelledError`` instead, which
    asyncio passes through as is: without this, "no worker answered" was an internal error.
    """
    try:
        async with asyncio.timeout(seconds):
            yield
    except WorkflowUpdateRPCTimeoutOrCancelledError:
        raise TimeoutError from None
