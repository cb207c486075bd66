"""The ``RequestAccessToShop`` workflow type: the shared lifecycle, approval making the BC a
partner of the shop (R14)."""

from __future__ import annotations

from temporalio import workflow

from workflows.request_lifecycle import AccessRequestLifecycle

with workflow.unsafe.imports_passed_through():
    from models.messages import RequestInput, RequestResult
    from models.names import WorkflowType


@workflow.defn(name=WorkflowType.REQUEST_ACCESS)
class RequestAccessWorkflow(AccessRequestLifecycle):
    """ "Request access to other's TikTok Shop": approval makes the BC a partner (R14)."""

    @workflow.run
    async def run(self, input: RequestInput) -> RequestResult:
        return await self._run(input)
