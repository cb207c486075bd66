"""Delivering one subscription's events (R26): ``WebhookDispatcher``.

One workflow per subscription (id ``webhook-dispatcher:<subscription id>``), started when
the subscription is added. Its activities run on the webhook task queue
(``webhook_task_queue``: its own worker and slots), so however many subscriptions wait,
the e-mails and grants on the main queue never wait behind them. It loops: wait for the
scope's next events (an activity that returns when the audit chain grows, or after
``max_wait_s`` with nothing), then POST them one at a time in chain order, so events of
one entity (and of the whole scope) arrive in the order they happened. A POST that fails
is retried with exponential backoff (from ``first_retry_s``, doubling, at most an hour
apart) for ``give_up_after_s`` (3 days); then the event is logged ``failed`` and the next
one goes. Replays asked through the store
(``webhook replay``) are sent before new events, with their original event id.

At-least-once: the cursor moves only after a POST was accepted, so a worker that dies
mid-POST makes the next one send the same event again, with the same id.

Accepts no signals, updates or queries (the store carries replays and removal); returns
:class:`DispatchResult` when the subscription is removed. Continues-as-new when its
history grows long.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    import workflows.presets as presets  # by its full name: see its docstring
    from activities.webhooks import WebhookActivities
    from models.names import WebhookWorkflowType, webhook_task_queue
    from models.webhook_messages import (
        Delivered,
        DeliverEvent,
        DispatchInput,
        DispatchResult,
        EventBatch,
        GiveUpEvent,
        WaitForEvents,
    )


@workflow.defn(name=WebhookWorkflowType.DISPATCHER)
class WebhookDispatcherWorkflow:
    @workflow.run
    async def run(self, input: DispatchInput) -> DispatchResult:
        self._queue = webhook_task_queue(workflow.info().task_queue)
        delivered = 0
        after = input.after_seq
        while True:
            batch: EventBatch = await workflow.execute_activity_method(
                WebhookActivities.wait_for_events,
                WaitForEvents(
                    subscription_id=input.subscription_id,
                    after_seq=after,
                    max_wait_s=input.max_wait_s,
                ),
                start_to_close_timeout=timedelta(seconds=input.max_wait_s + 30),
                task_queue=self._queue,
                **presets.WEBHOOK_WAIT,
            )
            if batch.removed:
                return DispatchResult(delivered=delivered)
            for seq in batch.replays:
                if await self._deliver(input, seq):
                    delivered += 1
            for seq in batch.seqs:
                if await self._deliver(input, seq):
                    delivered += 1
                after = seq
            if workflow.info().is_continue_as_new_suggested():
                workflow.continue_as_new(
                    DispatchInput(**{**input.model_dump(), "after_seq": after})
                )

    async def _deliver(self, input: DispatchInput, seq: int) -> bool:
        """POST one event until accepted or for 3 days; False if it was given up."""
        try:
            done: Delivered = await workflow.execute_activity_method(
                WebhookActivities.deliver,
                DeliverEvent(subscription_id=input.subscription_id, seq=seq),
                task_queue=self._queue,
                start_to_close_timeout=presets.WEBHOOK_POST_TIMEOUT,
                schedule_to_close_timeout=timedelta(seconds=input.give_up_after_s),
                retry_policy=RetryPolicy(
                    initial_interval=timedelta(seconds=input.first_retry_s),
                    backoff_coefficient=2.0,
                    maximum_interval=timedelta(hours=1),
                ),
            )
        except ActivityError as err:
            reason = str(err.cause or err)
            await workflow.execute_activity_method(
                WebhookActivities.give_up,
                GiveUpEvent(subscription_id=input.subscription_id, seq=seq, reason=reason),
                task_queue=self._queue,
                **presets.STORE,
            )
            return False
        return not done.skipped
