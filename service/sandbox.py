"""The workflow sandbox, minus a per-call compile.

temporalio's sandbox (1.35) talks to a workflow instance by ``exec``-ing small fixed
snippets of source inside it: one per activation, and one per payload sequence the worker
encodes or decodes (three passes each way), to learn that payload's serialization
context. ``exec`` of a string compiles it every time; a profile of the worker put that
compile at about a tenth of its CPU (docs/performance.md). ``SandboxRunner`` is the SDK's
runner whose instances compile each distinct snippet once. Everything else, restrictions
and determinism checks included, is the SDK's own.

It leans on one private SDK method, ``_Instance._run_code(code, **globals)``, which hands
``code`` to ``exec`` (a code object is as good as the source there). temporalio is pinned
exactly in pyproject.toml; ``compiled_snippets`` refuses to patch anything else, and
tests/test_sandbox_runner.py fails on an upgrade until this is checked again.
"""

from __future__ import annotations

import functools
from types import CodeType
from typing import Any

import temporalio
from temporalio.worker import WorkflowInstance, WorkflowInstanceDetails
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner
from temporalio.worker.workflow_sandbox import _runner as sdk_runner

# The SDK version whose ``_Instance._run_code`` this was read against.
CHECKED_SDK_VERSION = "1.35.0"


@functools.lru_cache(maxsize=256)
def _compiled(code: str) -> CodeType:
    # A handful of distinct snippets exist (one per workflow class for the import).
    return compile(code, "<string>", "exec")


class _Instance(sdk_runner._Instance):
    def _run_code(self, code: str, **extra_globals: Any) -> None:
        # exec() takes a code object wherever it takes source.
        super()._run_code(_compiled(code), **extra_globals)  # type: ignore[arg-type]


class SandboxRunner(SandboxedWorkflowRunner):
    """``SandboxedWorkflowRunner`` whose instances compile each code snippet once."""

    def create_instance(self, det: WorkflowInstanceDetails) -> WorkflowInstance:
        return _Instance(det, self.runner_class, self.restrictions)


def compiled_snippets_apply() -> bool:
    """Whether this SDK is the one ``SandboxRunner`` was checked against."""
    return temporalio.__version__ == CHECKED_SDK_VERSION and hasattr(
        sdk_runner._Instance, "_run_code"
    )
