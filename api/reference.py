"""Reference data over HTTP (R26, docs/api.md): ``POST /reference-data`` takes
the document ``starter.py load FILE`` reads (docs/operations.md) and loads it the same way
(client/reference.py): the same checks, one ``invalid_input`` naming every problem and
storing nothing, and the same counts ``load --json`` prints.

The body is read and checked by the service, not by FastAPI, so that a refusal is worded
as the CLI's (``The body is not valid reference data: shops.0.name: ...``)."""

from __future__ import annotations

from typing import Any

from anyio import to_thread
from fastapi import APIRouter, Request

from api.access_request_routes import CALLER
from api.deps import Actor, Store
from api.errors import documented
from api.webhooks import actor_of
from client.reference import Loaded, load_reference_data, parse_reference
from models.errors import ErrorCode as E
from models.reference import ReferenceData

router = APIRouter(tags=["reference data"])


def inlined(model: type[ReferenceData]) -> dict[str, Any]:
    """The model's JSON schema with its nested models written in place: a request body
    documented by hand cannot point at ``$defs`` the schema's components do not hold."""
    found = model.model_json_schema()
    defs: dict[str, Any] = found.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return resolve(defs[ref.removeprefix("#/$defs/")])
            return {k: resolve(v) for k, v in node.items()}
        if isinstance(node, list):
            return [resolve(v) for v in node]
        return node

    resolved: dict[str, Any] = resolve(found)
    return resolved


@router.post(
    "/reference-data",
    response_model=Loaded,
    responses=documented(*CALLER, E.INVALID_INPUT),
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "The reference data document `starter.py load FILE` reads "
            "(docs/operations.md; devtools/data/demo.json is an example).",
            "content": {"application/json": {"schema": inlined(ReferenceData)}},
        }
    },
    summary="Load reference data (users, business centers, shops), as `starter.py load`",
)
async def load_reference(request: Request, caller: Actor, store: Store) -> Loaded:
    data = parse_reference(await request.body(), "The body")
    return await to_thread.run_sync(
        lambda: load_reference_data(store, data, actor=actor_of(caller))
    )
