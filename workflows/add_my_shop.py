"""The ``AddMyShop`` workflow type: the shared lifecycle, approval making the BC the shop's
owner BC (R14)."""

from __future__ import annotations

from temporalio import workflow

from workflows.request_lifecycle import AccessRequestLifecycle

with workflow.unsafe.imports_passed_through():
    from models.messages import RequestInput, RequestResult
    from models.names import WorkflowType


@workflow.defn(name=WorkflowType.ADD_MY_SHOP)
class AddMyShopWorkflow(AccessRequestLifecycle):
    """ "Add my TikTok Shop": approval makes the BC the shop's owner BC (R14)."""

    @workflow.run
    async def run(self, input: RequestInput) -> RequestResult:
        return await self._run(input)
