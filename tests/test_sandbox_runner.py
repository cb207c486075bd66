"""runtime/sandbox.py: the workers' sandbox compiles its code snippets once on the SDK
versions it was checked against, and falls back to the SDK's own sandbox runner on any
other (temporalio is no longer pinned exactly). A history replays
through both runners."""

from __future__ import annotations

import logging
import sys
from collections import Counter
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
    await _replay(runner)  # compiles what a request needs (or finds it compiled already)
    before = sandbox._compiled.cache_info()
    await _replay(runner)
    after = sandbox._compiled.cache_info()
    calls = (after.hits + after.misses) - (before.hits + before.misses)
    assert calls > 20, calls
    assert after.misses == before.misses  # the second replay compiles nothing again
    assert after.currsize <= 20  # a handful of distinct snippets in all


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


# Module bodies the interpreter executes, counted by file while ``_COUNTING`` is set. An
# audit hook cannot be removed, so it is added once per process and stays quiet otherwise.
_EXECUTED: Counter[str] = Counter()
_COUNTING: list[bool] = []
_HOOKED: list[bool] = []


def _count_module_bodies(event: str, args: tuple[object, ...]) -> None:
    if event == "exec" and _COUNTING and args:
        filename = getattr(args[0], "co_filename", None)
        if isinstance(filename, str):
            _EXECUTED[Path(filename).as_posix()] += 1


async def test_a_run_reimports_its_workflow_module_but_not_the_passed_through_presets() -> None:
    """The sandbox loads a run's workflow module afresh (its state is the run's own) but
    passes pure modules through, once per process: the activity presets, imported by
    their full name (workflows/presets.py), must not be loaded again for each run, which
    cost every run the presets' TypedDict classes (docs/performance.md)."""
    if not _HOOKED:
        sys.addaudithook(_count_module_bodies)
        _HOOKED.append(True)
    _EXECUTED.clear()
    _COUNTING.append(True)
    try:
        await _replay(workflow_runner())
    finally:
        _COUNTING.clear()

    def runs_of(module: str) -> int:
        return sum(n for name, n in _EXECUTED.items() if name.endswith(module))

    # The control: the hook sees the module body the sandbox does execute per run.
    assert runs_of("workflows/request_lifecycle.py") >= 1
    assert runs_of("workflows/presets.py") == 0
