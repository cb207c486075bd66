"""R30: the published schema generates a complete client. openapi-python-client (the test
extra; run offline from the venv) generates a package from the committed
docs/openapi.json into a temporary folder, with no warning and a module for every
operation; then a request walks through the generated code against the app: create,
read, list, cancel, and the shop's audit exported and verified (the two calls a
generator used to skip or leave without an answer)."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from api.openapi import COMMITTED, schema
from models.settings import Settings
from tests.api.conftest import BASE, Token
from tests.conftest import AGENCY, ANA, S1_SHOP

GENERATOR = Path(sys.executable).with_name("openapi-python-client")
PACKAGE = "shop_access_client"


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    """The client package generated from the committed schema, importable for the test."""
    if not GENERATOR.exists():
        pytest.fail(f"{GENERATOR} is missing: install the test extra (pyproject.toml)")
    root = tmp_path_factory.mktemp("client")
    config = root / "config.yaml"
    config.write_text("post_hooks: []\n")  # no formatter run on the output: nothing to fetch
    made = subprocess.run(
        [
            str(GENERATOR),
            "generate",
            "--path",
            str(COMMITTED),
            "--meta",
            "none",
            "--output-path",
            str(root / PACKAGE),
            "--config",
            str(config),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = made.stdout + made.stderr
    assert made.returncode == 0, output
    # "Endpoint will not be generated", "response will be omitted": nothing skipped.
    assert "warning" not in output.lower(), output
    sys.path.insert(0, str(root))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(root))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
            del sys.modules[name]


def _module_name(operation_id: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", operation_id.lower()).strip("_")


def test_r30_every_operation_has_its_generated_module(generated: ModuleType) -> None:
    api_dir = Path(str(generated.__file__)).parent / "api"
    modules = {p.stem for p in api_dir.rglob("*.py") if p.stem != "__init__"}
    wanted = {
        _module_name(op["operationId"])
        for item in schema()["paths"].values()
        for op in item.values()
        if isinstance(op, dict) and "operationId" in op
    }
    assert wanted and wanted <= modules, sorted(wanted - modules)


def _op(generated: ModuleType, group: str, name: str) -> Any:
    return importlib.import_module(f"{PACKAGE}.api.{group}.{name}")


@pytest.mark.asyncio(loop_scope="session")
async def test_r30_a_request_walks_through_the_generated_client(
    generated: ModuleType, app: FastAPI, settings: Settings, act_token: Token
) -> None:
    models = importlib.import_module(f"{PACKAGE}.models")
    types = importlib.import_module(f"{PACKAGE}.types")
    client = generated.AuthenticatedClient(
        base_url=settings.link_base_url + BASE, token=act_token.secret
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url=settings.link_base_url + BASE, headers=act_token.headers
    ) as http:
        client.set_async_httpx_client(http)

        create = _op(generated, "requests", "create_request_requests_post")
        made = await create.asyncio(
            client=client,
            body=models.NewRequest(as_=ANA, bc_id=str(AGENCY), shop_code=S1_SHOP),
            idempotency_key="generated-client-walk",
        )
        assert isinstance(made, models.Submitted), made
        assert made.status == "pending"

        read = _op(generated, "requests", "get_request_requests_request_id_get")
        one = await read.asyncio(made.request_id, client=client)
        assert isinstance(one, models.RequestView), one
        assert one.bc_id == "7100000000000000001"  # the BC intact, as a string
        assert one.shop_code == S1_SHOP

        listing = _op(generated, "requests", "list_requests_requests_get")
        listed = await listing.asyncio(client=client, bc_id=str(AGENCY))
        assert isinstance(listed, models.RequestList), listed
        assert made.request_id in [r.request_id for r in listed.requests]
        assert listed.quota.bc_id == str(AGENCY)

        cancel = _op(generated, "requests", "cancel_requests_request_id_cancel_post")
        cancelled = await cancel.asyncio(
            made.request_id, client=client, body=models.Acting(as_=ANA)
        )
        assert isinstance(cancelled, models.RequestResult), cancelled
        assert cancelled.status == "cancelled"
        again = await read.asyncio(made.request_id, client=client)
        assert again.status.value == "cancelled"

        export = _op(generated, "audit", "audit_export_audit_export_get")
        exported = await export.asyncio_detailed(client=client, shop_code=S1_SHOP)
        assert exported.status_code == 200
        text = exported.parsed.payload.read()
        assert made.request_id.encode() in text

        verify = _op(generated, "audit", "audit_verify_audit_verify_post")
        checked = await verify.asyncio(client=client, body=types.File(payload=text))
        assert isinstance(checked, models.VerifyResult), checked
        assert checked.ok and checked.against_store
        assert checked.scope.shop_code == S1_SHOP
