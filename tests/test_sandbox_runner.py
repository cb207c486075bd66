"""runtime/sandbox.py: the workers' sandbox compiles its code snippets once on the SDK
versions it was checked against, and falls back to the SDK's own sandbox runner on any
other (temporalio is no longer pinned exactly). A history replays
through both runners."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import temporalio
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

from runtime import sandbox
from worker import WORKFLOWS, workflow_runner

HISTORIES = Path(__file__).resolve().parent / "histories"


def _history() -> WorkflowHistory:
    # A request's: the workflow the claims below are about (tests/record_histories.py).
    path = HISTORIES / "RequestAccessToShop_s1_approval.json"
    return WorkflowHistory.from_json(path.stem, path.read_text())


async def _replay(runner: object) -> None:
    replayer = Replayer(
        workflows=WORKFLOWS,
        data_converter=pydantic_data_converter,
        workflow_runner=runner,  # type: ignore[arg-type]
    )
    result = await replayer.replay_workflow(_history(), raise_on_replay_failure=False)
    assert result.replay_failure is None, result.replay_failure


def test_the_checked_sdk_gets_the_compiling_runner(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sandbox, "sdk_version", lambda: "1.35.0")
    assert sandbox.compiled_snippets_apply()
    assert type(workflow_runner()) is sandbox.SandboxRunner


def test_an_unchecked_sdk_falls_back_to_the_sdks_own_runner(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """An SDK release nobody has read the override against: the worker still runs, on the
    SDK's own runner, and says why in its log."""
    monkeypatch.setattr(sandbox, "sdk_version", lambda: "1.99.0")
    with caplog.at_level(logging.WARNING, logger="shop_access.sandbox"):
        runner = workflow_runner()
    assert type(runner) is SandboxedWorkflowRunner
    assert "1.99.0 is not among the versions" in caplog.text


def test_the_installed_sdk_is_allowed_by_the_range() -> None:
    """pyproject allows compatible releases (>=1.35,<2); the installed one is among them,
    and the worker picks the override exactly when it is a checked version."""
    major, minor = (int(part) for part in temporalio.__version__.split(".")[:2])
    assert major == 1 and minor >= 35
    expected = (
        sandbox.SandboxRunner
        if temporalio.__version__ in sandbox.CHECKED_SDK_VERSIONS
        else SandboxedWorkflowRunner
    )
    assert type(workflow_runner()) is expected


async def test_replaying_a_request_compiles_a_few_snippets_and_reuses_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """On a checked SDK, a request's history replays through the workers' runner; its
    dozens of sandbox calls (activations, payload contexts) compile a handful of
    distinct snippets."""
    if temporalio.__version__ not in sandbox.CHECKED_SDK_VERSIONS:
        pytest.skip(f"temporalio {temporalio.__version__} is not a checked version")
    runner = workflow_runner()
    assert type(runner) is sandbox.SandboxRunner
    before = sandbox._compiled.cache_info()
    await _replay(runner)
    after = sandbox._compiled.cache_info()
    calls = (after.hits + after.misses) - (before.hits + before.misses)
    assert calls > 20, calls
    assert after.misses - before.misses <= 12  # a handful, each compiled once


async def test_the_fallback_runner_replays_the_same_history_without_the_override(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sandbox, "sdk_version", lambda: "1.99.0")
    runner = workflow_runner()
    assert type(runner) is SandboxedWorkflowRunner
    before = sandbox._compiled.cache_info()
    await _replay(runner)
    after = sandbox._compiled.cache_info()
    assert (after.hits + after.misses) == (before.hits + before.misses)  # never used
