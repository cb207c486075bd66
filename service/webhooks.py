"""Starting a subscription's dispatcher workflow (R26): shared by the CLI and the tests."""

from __future__ import annotations

from typing import Any

from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy

from models.names import WebhookWorkflowType, webhook_dispatcher_id
from models.webhook_messages import DispatchInput, DispatchResult


async def start_dispatcher(
    client: Client, task_queue: str, subscription_id: str, after_seq: int, **tuning: Any
) -> str:
    """Start the dispatcher, or find it running (starting twice is safe); its id."""
    workflow_id = webhook_dispatcher_id(subscription_id)
    await client.start_workflow(
        WebhookWorkflowType.DISPATCHER,
        DispatchInput(subscription_id=subscription_id, after_seq=after_seq, **tuning),
        id=workflow_id,
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        result_type=DispatchResult,
        static_summary=f"Webhook deliveries of {subscription_id}",
    )
    return workflow_id
