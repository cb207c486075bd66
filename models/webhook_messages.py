"""Pydantic messages of the webhook dispatcher (R26): one per workflow input, activity
input and result, so fields can be added without breaking recorded histories. Pure
(stdlib, pydantic): workflow code imports it inside the sandbox."""

from __future__ import annotations

from pydantic import BaseModel


class Message(BaseModel):
    model_config = {"frozen": False, "extra": "ignore"}


class DispatchInput(Message):
    """``WebhookDispatcher``'s input, carried across continue-as-new with the cursor."""

    subscription_id: str
    after_seq: int
    # How long one wait for new changes may last before the workflow records that it is
    # still waiting (one activity in history per wait: the idle cost).
    max_wait_s: float = 60.0
    # The first retry of a failed POST; then doubling up to an hour, for up to 3 days.
    first_retry_s: float = 1.0
    give_up_after_s: float = 3 * 24 * 3600.0


class WaitForEvents(Message):
    subscription_id: str
    after_seq: int
    max_wait_s: float
    limit: int = 100


class EventBatch(Message):
    """The next events to send, in chain order; ``replays``: events asked again."""

    seqs: list[int] = []
    replays: list[int] = []
    removed: bool = False


class DeliverEvent(Message):
    subscription_id: str
    seq: int


class Delivered(Message):
    status_code: int | None = None
    skipped: bool = False  # the subscription was removed meanwhile


class GiveUpEvent(Message):
    subscription_id: str
    seq: int
    reason: str


class DispatchResult(Message):
    delivered: int
