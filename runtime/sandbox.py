"""The workflow sandbox, minus a per-call compile.

temporalio's sandbox (1.35) talks to a workflow instance by ``exec``-ing small fixed
snippets of source inside it: one per activation, and one per payload sequence the worker
encodes or decodes (three passes each way), to learn that payload's serialization
context. ``exec`` of a string compiles it every time; a profile of the worker put that
compile at about a tenth of its CPU (docs/performance.md). ``SandboxRunner`` is the SDK's
runner whose instances compile each distinct snippet once. Everything else, restrictions
and determinism checks included, is the SDK's own.

It leans on one private SDK method, ``_Instance._run_code(code, **globals)``, which hands
``code`` to ``exec`` (a code object is as good as the source there). pyproject.toml allows
temporalio's compatible releases, so the override is used only on the versions listed in
``CHECKED_SDK_VERSIONS``, each read against this file; on any other version
``runner_class()`` picks the SDK's own ``SandboxedWorkflowRunner``, which is slower but
equally correct. tests/test_sandbox_runner.py replays a history through both.
"""

from __future__ import annotations

import functools
import logging
from types import CodeType
from typing import Any

import temporalio
from temporalio.worker import WorkflowInstance, WorkflowInstanceDetails
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

log = logging.getLogger("shop_access.sandbox")

# SDK versions whose ``_Instance._run_code`` this was read against. To add one: read
# ``temporalio/worker/workflow_sandbox/_runner.py`` of that release, check ``_run_code``
# still hands its code to ``exec``, add the version, run tests/test_sandbox_runner.py.
CHECKED_SDK_VERSIONS = frozenset({"1.35.0"})

try:  # a private module: a future SDK may move it, and then only the fallback remains
    from temporalio.worker.workflow_sandbox import _runner as sdk_runner
except ImportError:  # pragma: no cover - depends on the installed SDK
    sdk_runner = None  # type: ignore[assignment]


@functools.lru_cache(maxsize=256)
def _compiled(code: str) -> CodeType:
    # A handful of distinct snippets exist (one per workflow class for the import).
    return compile(code, "<string>", "exec")


if sdk_runner is not None:

    class _Instance(sdk_runner._Instance):
        def _run_code(self, code: str, **extra_globals: Any) -> None:
            # exec() takes a code object wherever it takes source.
            super()._run_code(_compiled(code), **extra_globals)  # type: ignore[arg-type]


class SandboxRunner(SandboxedWorkflowRunner):
    """``SandboxedWorkflowRunner`` whose instances compile each code snippet once."""

    def create_instance(self, det: WorkflowInstanceDetails) -> WorkflowInstance:
        return _Instance(det, self.runner_class, self.restrictions)


def sdk_version() -> str:
    """The installed temporalio (a function, so tests can present another version)."""
    return temporalio.__version__


def compiled_snippets_apply(version: str | None = None) -> bool:
    """Whether ``version`` (default: the installed SDK) is one ``SandboxRunner`` was
    checked against."""
    version = version or sdk_version()
    return (
        version in CHECKED_SDK_VERSIONS
        and sdk_runner is not None
        and hasattr(sdk_runner._Instance, "_run_code")
    )


def runner_class() -> type[SandboxedWorkflowRunner]:
    """``SandboxRunner`` on a checked SDK, else the SDK's own sandboxed runner."""
    if compiled_snippets_apply():
        return SandboxRunner
    log.warning(
        "temporalio %s is not among the versions runtime/sandbox.py was checked against "
        "(%s): using the SDK's own sandbox runner",
        sdk_version(),
        ", ".join(sorted(CHECKED_SDK_VERSIONS)),
    )
    return SandboxedWorkflowRunner
