"""A property-based run over the served schema (R26): Schemathesis generates
calls for every operation from /api/v1/openapi.json and sends them over ASGI with an
``act`` token, on SQLite and on PostgreSQL, against the real worker and demo store.

Every answer must be no server error, match its documented schema, status and content
type, and carry an error code the operation documents for that status (``x-error-codes``,
api/schema.py). The calls made and the failures found are written to
var/fuzz-summary.json (per engine) and printed.

Every run has a budget: a few examples per operation, on PostgreSQL alone (it refuses
some of what SQLite stores, a NUL character in text for one, so a value that slips past
the API's validation fails there first). ``--deep`` (``scripts/test --deep``) runs the
full count on both engines.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import Engine
from temporalio.client import Client

from linkhandler.app import create_app
from models.settings import Settings
from tests.api.conftest import BASE, Token
from tests.conftest import (
    AGENCY,
    ANA,
    BO,
    KIM,
    KIM_BC,
    LEE,
    LINKED_BC,
    NIA,
    OLI,
    RAJ,
    RAJ_BC,
    S1_SHOP,
    S2_SHOP,
    S3_SHOP,
    S4_SHOP,
    SAM,
    SUBAGENCY,
)

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.slow]

# Valid calls by the schema, and calls it says are invalid (each must be a 4xx it lists),
# per operation: the full run under --deep, and every run's budget (about a sixth).
DEEP_EXAMPLES = {GenerationMode.POSITIVE: 150, GenerationMode.NEGATIVE: 60}
BUDGET_EXAMPLES = {GenerationMode.POSITIVE: 25, GenerationMode.NEGATIVE: 10}
BUDGET_ENGINE = "postgres"
SUMMARY = Path(__file__).resolve().parents[2] / "var" / "fuzz-summary.json"
CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
    content_type_conformance,
]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, deep: bool) -> Engine:
    """This module's store is each engine in turn under ``--deep``, else PostgreSQL alone
    (conftest's ``demo`` loads it)."""
    if not deep and request.param != BUDGET_ENGINE:
        pytest.skip(f"the fuzz runs on {request.param} too with --deep (scripts/test --deep)")
    store: Engine = request.getfixturevalue(f"{request.param}_engine")
    return store


@pytest.fixture()
def examples(deep: bool) -> dict[GenerationMode, int]:
    return DEEP_EXAMPLES if deep else BUDGET_EXAMPLES


def error_code_documented(ctx: Any, response: Any, case: Any) -> bool | None:
    """A refusal's code is one the operation lists for that status (``x-error-codes``)."""
    if response.status_code < 400:
        return None
    documented = case.operation.definition.raw["responses"].get(str(response.status_code), {})
    try:
        code = json.loads(response.content)["error"]["code"]
    except (ValueError, KeyError, TypeError):
        raise AssertionError(
            f"{response.status_code} is not the error contract: {response.content[:300]!r} "
            f"({case.method} {case.formatted_path})"
        ) from None
    listed = documented.get("x-error-codes", [])
    assert code in listed, f"{response.status_code} {code} is not in {listed}"
    return True


# Most generated values name nothing: in half the positive calls, fields that name people,
# BCs, shops and requests take the demo's, so the calls reach real rules and workflows.
PEOPLE = [ANA, SAM, LEE, OLI, NIA, RAJ, KIM, BO]
DEMO_VALUES: dict[str, list[Any]] = {
    "as": PEOPLE,
    "bc_id": [str(bc) for bc in (AGENCY, SUBAGENCY, LINKED_BC, RAJ_BC, KIM_BC)],  # R30
    "shop_code": [S1_SHOP, S2_SHOP, S3_SHOP, S4_SHOP],
}


def _use_demo_values(case: Any, pick: random.Random, request_ids: list[str]) -> None:
    for part in (case.body, case.query):
        if isinstance(part, dict):
            for name, values in DEMO_VALUES.items():
                if name in part:
                    part[name] = pick.choice(values)
    if case.path_parameters and "request_id" in case.path_parameters and request_ids:
        case.path_parameters["request_id"] = pick.choice(request_ids)


def _fuzz_operation(
    operation: Any,
    mode: GenerationMode,
    request_ids: list[str],
    headers: dict[str, str],
    record: Callable[[int], None],
    max_examples: int,
) -> None:
    @given(
        case=operation.as_strategy(generation_mode=mode),
        pick=st.randoms(use_true_random=False),
        real=st.booleans(),
    )
    @hypothesis_settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        derandomize=True,  # the same calls every run: a finding reproduces
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any, pick: random.Random, real: bool) -> None:
        if real and mode == GenerationMode.POSITIVE:
            _use_demo_values(case, pick, request_ids)
        response = case.call(headers=headers)
        record(response.status_code)
        case.validate_response(response, checks=CHECKS, additional_checks=[error_code_documented])

    run()


def fuzz(
    app: FastAPI, token: Token, request_ids: list[str], examples: dict[GenerationMode, int]
) -> dict[str, Any]:
    """Every operation in turn; a failing one is recorded and the run goes on."""
    schema = schemathesis.openapi.from_asgi(BASE + "/openapi.json", app)
    calls: dict[str, int] = {}
    statuses: dict[str, int] = {}
    failures: dict[str, str] = {}
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result  # the schema is valid
        operation = result.ok()
        for mode, max_examples in examples.items():
            label = f"{operation.label} ({mode.value})"
            calls[label] = 0

            def record(status: int, label: str = label) -> None:
                calls[label] += 1
                statuses[str(status)] = statuses.get(str(status), 0) + 1

            try:
                _fuzz_operation(operation, mode, request_ids, token.headers, record, max_examples)
            except BaseException as err:  # a finding (a group, too): kept, reported below
                if isinstance(err, KeyboardInterrupt | SystemExit):
                    raise
                failures[label] = f"{type(err).__name__}: {err}"[:4000]
    return {
        "calls": calls,
        "total_calls": sum(calls.values()),
        "statuses": dict(sorted(statuses.items())),
        "failures": failures,
    }


def _write_summary(engine_name: str, found: dict[str, Any]) -> None:
    SUMMARY.parent.mkdir(exist_ok=True)
    summary = json.loads(SUMMARY.read_text()) if SUMMARY.exists() else {}
    summary[engine_name] = found
    SUMMARY.write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")


async def _pending_requests(app: FastAPI, settings: Settings, token: Token) -> list[str]:
    """A pending request per demo shop, for the generated calls on requests to act on."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url=settings.link_base_url + BASE, headers=token.headers
    ) as api:
        asked = [
            await api.post("/requests", json={"bc_id": str(AGENCY), "shop_code": code, "as": ANA})
            for code in DEMO_VALUES["shop_code"]
        ]
    assert all(a.status_code == 201 for a in asked), [a.text for a in asked]
    return [a.json()["request_id"] for a in asked]


async def test_schemathesis_finds_nothing(
    settings: Settings,
    demo: Engine,
    client: Client,
    worker: Any,
    act_token: Token,
    examples: dict[GenerationMode, int],
) -> None:
    """No 5xx, and every answer as the schema says, for every generated call."""
    # A rate limit would turn most generated calls into 429s: lift it for this run.
    roomy = settings.model_copy(update={"api_calls_per_minute": 100_000})
    app = create_app(roomy, client=client, engine=demo)
    request_ids = await _pending_requests(app, roomy, act_token)
    started = time.monotonic()
    found = await asyncio.to_thread(fuzz, app, act_token, request_ids, examples)
    found["seconds"] = round(time.monotonic() - started, 1)
    _write_summary(demo.dialect.name, found)
    print(f"\nschemathesis on {demo.dialect.name}: {json.dumps(found, indent=2)}")
    assert found["total_calls"] > 0
    assert found["failures"] == {}, json.dumps(found["failures"], indent=2)
