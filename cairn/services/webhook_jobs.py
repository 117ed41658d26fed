"""Webhooks on the job engine: the outbox consumer that turns change events into deliveries,
and the job that makes each delivery's attempts.

The consumer runs in the transaction that advances its cursor over the change log, so each
event gets its deliveries (one per subscribed hook) and their jobs exactly once, even across a
``kill -9``. A delivery's job makes one attempt per run and asks the engine to run it again
when the receiver should be tried later (backoff, ``Retry-After``); the delivery log, not the
job, counts attempts against ``CAIRN_WEBHOOK_MAX_ATTEMPTS``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection

from cairn.entities.events import ChangeEvent
from cairn.entities.webhooks import DeliveryState
from cairn.jobs.registry import JobContext, RetryLater, consumer, job_kind
from cairn.services.webhooks import WebhookService, create_deliveries
from cairn.store.jobs import enqueue
from cairn.store.webhooks import none_active

DELIVER = "webhook.deliver"
NOT_DUE_WAIT_S = 5.0
"""How long a delivery's job waits when another worker holds the delivery."""


def enqueue_deliveries(conn: Connection, delivery_ids: Sequence[str]) -> None:
    """One job per delivery, in the caller's transaction (a repeated id keeps its job)."""
    for delivery_id in delivery_ids:
        enqueue(conn, DELIVER, {"delivery_id": delivery_id}, key=delivery_id)


@consumer("webhooks", idle=none_active)
def deliveries_for_events(conn: Connection, events: Sequence[ChangeEvent]) -> None:
    enqueue_deliveries(conn, create_deliveries(conn, events))


# the delivery log caps the attempts (at most 50); this only bounds a job that keeps finding
# its delivery held by another worker
@job_kind(DELIVER, max_attempts=100)
def deliver(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    outcome = ctx.service("webhooks", WebhookService).attempt_delivery(str(payload["delivery_id"]))
    if outcome.state is DeliveryState.PENDING:
        wait = outcome.retry_after if outcome.retry_after is not None else NOT_DUE_WAIT_S
        raise RetryLater(wait, "the receiver is to be tried again later")
    return {"state": str(outcome.state), "status_code": outcome.status_code}
