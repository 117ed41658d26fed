"""Webhooks and their deliveries in SQL.

The secret column holds what the service hands in (an encrypted token), never a plain secret;
nothing here decrypts. Every change to a webhook records one change event (``webhook.*``,
entity type ``webhook``); automatic delivery attempts are recorded in ``webhook_attempts``
(the delivery log), not in the change log, which would otherwise grow by one event per HTTP
call. A manual redelivery, being a person's action, is a change event.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection, and_, delete, func, or_, select, update

from cairn.entities.errors import CairnError
from cairn.entities.events import Change, EntityType
from cairn.entities.numbers import decimal
from cairn.entities.webhooks import (
    IS_PROMPT,
    Attempt,
    Delivery,
    DeliveryState,
    Event,
    Webhook,
    WebhookScope,
    WebhookStatus,
)
from cairn.store import events
from cairn.store.schema import (
    approval_requests,
    registered_model_tags,
    registered_models,
    webhook_attempts,
    webhook_deliveries,
    webhooks,
)
from cairn.store.sql import now_ms

w = webhooks.c
d = webhook_deliveries.c
t = webhook_attempts.c


def _events(text: str) -> tuple[Event, ...]:
    out = []
    for name in orjson.loads(text):
        entity, _, action = str(name).partition(".")
        out.append((entity, action))
    return tuple(out)


def _events_text(found: Sequence[Event]) -> str:
    return orjson.dumps([f"{e}.{a}" for e, a in found]).decode()


def webhook(row: Any) -> Webhook:
    return Webhook(
        webhook_id=row.webhook_id,
        name=row.name,
        url=row.url,
        events=_events(row.events),
        status=WebhookStatus(row.status),
        description=row.description,
        has_secret=bool(row.secret),
        scope=WebhookScope(row.scope_experiment_id, row.scope_model_name),
        consecutive_failures=int(row.consecutive_failures),
        created_by=row.created_by,
        created_at=int(row.created_at),
        updated_by=row.updated_by,
        updated_at=int(row.updated_at),
    )


def _change(conn: Connection, action: str, hook: Webhook, **sides: Any) -> None:
    events.record(
        conn,
        Change(
            action,
            EntityType.WEBHOOK,
            hook.webhook_id,
            experiment_id=hook.scope.experiment_id,
            model_name=hook.scope.model_name,
            **sides,
        ),
    )


def _described(hook: Webhook) -> dict[str, Any]:
    """What the change log keeps of a webhook: everything but the secret (only whether
    there is one)."""
    found = hook.to_json()
    return {
        k: found[k]
        for k in ("name", "url", "events", "status", "description", "has_secret", "scope")
    }


def row(conn: Connection, webhook_id: str, *, lock: bool = False) -> Any:
    stmt = select(webhooks).where(w.webhook_id == webhook_id)
    if lock:
        stmt = stmt.with_for_update()
    found = conn.execute(stmt).first()
    if found is None:
        raise CairnError.not_found(f"Webhook with ID {webhook_id} not found.")
    return found


def get(conn: Connection, webhook_id: str) -> Webhook:
    return webhook(row(conn, webhook_id))


def secret_of(conn: Connection, webhook_id: str) -> str | None:
    """The stored (encrypted) secret: only the service's signing and tests read it."""
    value: str | None = row(conn, webhook_id).secret
    return value


@dataclass(frozen=True, slots=True)
class NewWebhook:
    name: str
    url: str
    events: tuple[Event, ...]
    status: WebhookStatus
    description: str | None
    secret: str | None
    """Encrypted already."""
    scope: WebhookScope


def create(conn: Connection, new: NewWebhook, actor: str) -> Webhook:
    now = now_ms()
    webhook_id = str(uuid.uuid4())
    conn.execute(
        webhooks.insert().values(
            webhook_id=webhook_id,
            name=new.name,
            url=new.url,
            events=_events_text(new.events),
            status=str(new.status),
            description=new.description,
            secret=new.secret,
            scope_experiment_id=new.scope.experiment_id,
            scope_model_name=new.scope.model_name,
            consecutive_failures=0,
            created_by=actor,
            created_at=now,
            updated_by=actor,
            updated_at=now,
        )
    )
    hook = get(conn, webhook_id)
    _change(conn, "webhook.create", hook, after=_described(hook))
    return hook


def update_webhook(
    conn: Connection,
    webhook_id: str,
    actor: str,
    *,
    name: str | None = None,
    url: str | None = None,
    events_: tuple[Event, ...] | None = None,
    status: WebhookStatus | None = None,
    description: str | None = None,
    secret: str | None = None,
) -> Webhook:
    """Change the given fields (None: unchanged). ``secret``: the new encrypted secret, or
    "" to remove it. The change event names the fields that changed; for the secret only
    that it was replaced or removed."""
    old_row = row(conn, webhook_id, lock=True)
    old = webhook(old_row)
    values: dict[str, Any] = {}
    if name is not None:
        values["name"] = name
    if url is not None:
        values["url"] = url
    if events_ is not None:
        values["events"] = _events_text(events_)
    if status is not None:
        values["status"] = str(status)
        if status is WebhookStatus.ACTIVE:
            values["consecutive_failures"] = 0
    if description is not None:
        values["description"] = description
    if secret is not None:
        values["secret"] = secret or None
    if not values:
        return old
    values.update(updated_by=actor, updated_at=now_ms())
    conn.execute(update(webhooks).where(w.id == old_row.id).values(**values))
    new = get(conn, webhook_id)
    before, after = _described(old), _described(new)
    changed = [k for k in before if before[k] != after[k]]
    if values.get("secret") and old.has_secret:
        changed.append("secret")  # replaced by another: say so, never what it is
        before["secret"], after["secret"] = "(set)", "(replaced)"
    if changed:
        _change(
            conn,
            "webhook.update",
            new,
            before={k: before[k] for k in changed},
            after={k: after[k] for k in changed},
        )
    return new


def delete_webhook(conn: Connection, webhook_id: str) -> None:
    found = row(conn, webhook_id, lock=True)
    hook = webhook(found)
    conn.execute(
        delete(webhook_attempts).where(
            t.delivery_id.in_(select(d.id).where(d.webhook_id == found.id))
        )
    )
    conn.execute(delete(webhook_deliveries).where(d.webhook_id == found.id))
    conn.execute(delete(webhooks).where(w.id == found.id))
    _change(conn, "webhook.delete", hook, before=_described(hook))


def list_page(
    conn: Connection,
    limit: int,
    before_pk: int | None,
    experiment_ids: Iterable[str] | None = None,
    model_names: Iterable[str] | None = None,
) -> tuple[list[Webhook], int | None]:
    """Webhooks newest first, ``limit`` of them after the keyset ``before_pk``, and the key
    of the next page. ``experiment_ids``/``model_names`` (for callers who are not admins):
    only hooks scoped to those."""
    stmt = select(webhooks)
    if before_pk is not None:
        stmt = stmt.where(w.id < before_pk)
    if experiment_ids is not None or model_names is not None:
        stmt = stmt.where(
            or_(
                w.scope_experiment_id.in_(sorted(experiment_ids or ())),
                w.scope_model_name.in_(sorted(model_names or ())),
            )
        )
    rows = conn.execute(stmt.order_by(w.id.desc()).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    return [webhook(r) for r in rows], (int(rows[-1].id) if more and rows else None)


def all_scoped(conn: Connection) -> list[Webhook]:
    """Every webhook that is scoped (what a MANAGE holder's listing filters from)."""
    stmt = select(webhooks).where(
        or_(w.scope_experiment_id.is_not(None), w.scope_model_name.is_not(None))
    )
    return [webhook(r) for r in conn.execute(stmt.order_by(w.id.desc())).all()]


def active(conn: Connection) -> list[tuple[int, Webhook]]:
    """Every ACTIVE webhook with its row id: what the outbox consumer matches events to."""
    rows = conn.execute(select(webhooks).where(w.status == str(WebhookStatus.ACTIVE))).all()
    return [(int(r.id), webhook(r)) for r in rows]


def none_active(conn: Connection) -> bool:
    """No ACTIVE webhook: no event makes a delivery (the outbox consumer passes over them)."""
    found = conn.execute(select(w.id).where(w.status == str(WebhookStatus.ACTIVE)).limit(1)).first()
    return found is None


# ---------------------------------------------------------------------------- deliveries
def add_delivery(
    conn: Connection,
    webhook_pk: int,
    event_id: int | None,
    event: Event,
    body: str,
    now: int,
    state: DeliveryState = DeliveryState.PENDING,
) -> str | None:
    """A new pending delivery (due now); None when this hook already has one for the event
    (a consumer batch run twice makes no second delivery)."""
    if event_id is not None:
        seen = conn.execute(
            select(d.id).where(d.webhook_id == webhook_pk, d.event_id == event_id)
        ).first()
        if seen is not None:
            return None
    delivery_id = str(uuid.uuid4())
    conn.execute(
        webhook_deliveries.insert().values(
            delivery_id=delivery_id,
            webhook_id=webhook_pk,
            event_id=event_id,
            entity=event[0],
            action=event[1],
            body=body,
            state=str(state),
            attempts=0,
            next_attempt_at=now if state is DeliveryState.PENDING else None,
            created_at=now,
            updated_at=now,
        )
    )
    return delivery_id


_DELIVERY = select(webhook_deliveries, w.webhook_id.label("hook_id")).join(
    webhooks, w.id == d.webhook_id
)


def _delivery(r: Any, attempts: tuple[Attempt, ...] = ()) -> Delivery:
    return Delivery(
        seq=int(r.id),
        delivery_id=r.delivery_id,
        webhook_id=r.hook_id,
        event_id=None if r.event_id is None else int(r.event_id),
        entity=r.entity,
        action=r.action,
        body=r.body,
        state=DeliveryState(r.state),
        attempts=int(r.attempts),
        last_status_code=r.last_status_code,
        latency_ms=r.latency_ms,
        response_excerpt=r.response_excerpt,
        error=r.error,
        next_attempt_at=r.next_attempt_at,
        created_at=int(r.created_at),
        updated_at=int(r.updated_at),
        attempt_log=attempts,
    )


def _attempts(conn: Connection, pk: int) -> tuple[Attempt, ...]:
    rows = conn.execute(
        select(webhook_attempts).where(t.delivery_id == pk).order_by(t.number.asc())
    ).all()
    return tuple(
        Attempt(
            int(a.number), int(a.time), a.status_code, a.latency_ms, a.error, a.response_excerpt
        )
        for a in rows
    )


def delivery_row(conn: Connection, delivery_id: str) -> Any:
    found = conn.execute(_DELIVERY.where(d.delivery_id == delivery_id)).first()
    if found is None:
        raise CairnError.not_found(f"Webhook delivery {delivery_id} not found.")
    return found


def get_delivery(conn: Connection, delivery_id: str) -> Delivery:
    found = delivery_row(conn, delivery_id)
    return _delivery(found, _attempts(conn, int(found.id)))


def deliveries_page(
    conn: Connection, webhook_id: str, limit: int, before_seq: int | None
) -> tuple[list[Delivery], int | None]:
    """A webhook's deliveries newest first (keyset on the row id), with their attempts."""
    hook = row(conn, webhook_id)
    stmt = _DELIVERY.where(d.webhook_id == hook.id)
    if before_seq is not None:
        stmt = stmt.where(d.id < before_seq)
    rows = conn.execute(stmt.order_by(d.id.desc()).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    return (
        [_delivery(r, _attempts(conn, int(r.id))) for r in rows],
        int(rows[-1].id) if more and rows else None,
    )


@dataclass(frozen=True, slots=True)
class Claimed:
    """A delivery taken for one attempt: what sending it needs."""

    pk: int
    delivery_id: str
    webhook_pk: int
    webhook_id: str
    url: str
    secret: str | None
    """Encrypted."""
    body: str
    attempt: int
    webhook_active: bool


def claim(conn: Connection, delivery_id: str, now: int, lease_ms: int) -> Claimed | None:
    """Take a pending, due delivery for one attempt: count the attempt and push its next
    due time past ``lease_ms`` (a process that dies mid-attempt leaves it due again then).
    None when it is not pending or not due (another worker has it, or it is done)."""
    found = conn.execute(
        select(webhook_deliveries, webhooks.c.url, webhooks.c.secret, webhooks.c.status,
               webhooks.c.webhook_id.label("hook_id"))
        .join(webhooks, w.id == d.webhook_id)
        .where(d.delivery_id == delivery_id)
    ).first()  # fmt: skip
    if found is None:
        raise CairnError.not_found(f"Webhook delivery {delivery_id} not found.")
    if found.state != str(DeliveryState.PENDING):
        return None
    if found.next_attempt_at is not None and found.next_attempt_at > now:
        return None
    attempt = int(found.attempts) + 1
    taken = conn.execute(
        update(webhook_deliveries)
        .where(and_(d.id == found.id, d.attempts == found.attempts, d.state == found.state))
        .values(attempts=attempt, next_attempt_at=now + lease_ms, updated_at=now)
    ).rowcount
    if taken != 1:
        return None
    return Claimed(
        pk=int(found.id),
        delivery_id=found.delivery_id,
        webhook_pk=int(found.webhook_id),
        webhook_id=found.hook_id,
        url=found.url,
        secret=found.secret,
        body=found.body,
        attempt=attempt,
        webhook_active=found.status == str(WebhookStatus.ACTIVE),
    )


def record_attempt(
    conn: Connection,
    claimed: Claimed,
    attempt: Attempt,
    state: DeliveryState,
    next_attempt_at: int | None,
    disable_after: int,
    count_failure: bool = True,
) -> bool:
    """Keep one attempt's outcome; on success reset the hook's failure count, on a delivery
    given up count one more and disable the hook at ``disable_after`` (a change event by
    ``system``). True when this disabled the hook. A delivery deleted meanwhile (its hook
    was) is left alone."""
    if conn.execute(select(d.id).where(d.id == claimed.pk)).first() is None:
        return False
    conn.execute(
        webhook_attempts.insert().values(
            delivery_id=claimed.pk,
            number=attempt.number,
            time=attempt.time,
            status_code=attempt.status_code,
            latency_ms=attempt.latency_ms,
            error=attempt.error,
            response_excerpt=attempt.response_excerpt,
        )
    )
    conn.execute(
        update(webhook_deliveries)
        .where(d.id == claimed.pk)
        .values(
            state=str(state),
            last_status_code=attempt.status_code,
            latency_ms=attempt.latency_ms,
            response_excerpt=attempt.response_excerpt,
            error=attempt.error,
            next_attempt_at=next_attempt_at,
            updated_at=attempt.time,
        )
    )
    if state is DeliveryState.SUCCEEDED:
        conn.execute(
            update(webhooks)
            .where(w.id == claimed.webhook_pk, w.consecutive_failures != 0)
            .values(consecutive_failures=0)
        )
        return False
    if state is not DeliveryState.FAILED or not count_failure:
        return False
    hook_row = conn.execute(
        select(webhooks).where(w.id == claimed.webhook_pk).with_for_update()
    ).first()
    if hook_row is None:
        return False
    failures = int(hook_row.consecutive_failures) + 1
    values: dict[str, Any] = {"consecutive_failures": failures}
    disable = hook_row.status == str(WebhookStatus.ACTIVE) and failures >= disable_after > 0
    if disable:
        values.update(status=str(WebhookStatus.DISABLED), updated_at=attempt.time,
                      updated_by="system")  # fmt: skip
    conn.execute(update(webhooks).where(w.id == claimed.webhook_pk).values(**values))
    if disable:
        hook = webhook(hook_row)
        reason = f"{failures} deliveries in a row failed"
        _change(
            conn,
            "webhook.disable",
            hook,
            before={"status": str(WebhookStatus.ACTIVE)},
            after={"status": str(WebhookStatus.DISABLED), "name": hook.name, "reason": reason},
        )
    return disable


def redeliver(conn: Connection, delivery_id: str, now: int) -> Delivery:
    """Make a delivery pending again, due now, keeping its id and body (a receiver that
    processed it sees the same ``X-MLflow-Delivery-Id``)."""
    found = delivery_row(conn, delivery_id)
    conn.execute(
        update(webhook_deliveries)
        .where(d.id == found.id)
        .values(state=str(DeliveryState.PENDING), next_attempt_at=now, updated_at=now)
    )
    hook = get(conn, found.hook_id)
    events.record(
        conn,
        Change(
            "webhook.redeliver",
            EntityType.WEBHOOK,
            hook.webhook_id,
            experiment_id=hook.scope.experiment_id,
            model_name=hook.scope.model_name,
            before={"delivery_id": delivery_id, "state": found.state},
            after={"delivery_id": delivery_id, "state": str(DeliveryState.PENDING)},
        ),
    )
    return get_delivery(conn, delivery_id)


def delivery_counts(conn: Connection) -> dict[str, int]:
    """How many deliveries are in each state (pending, succeeded, failed…)."""
    d = webhook_deliveries.c
    rows = conn.execute(select(d.state, func.count()).group_by(d.state)).all()
    return {str(state): int(n) for state, n in rows}


def due(conn: Connection, now: int, limit: int) -> list[str]:
    """Pending deliveries due by ``now``, oldest first (for a worker that polls)."""
    rows = conn.execute(
        select(d.delivery_id)
        .where(d.state == str(DeliveryState.PENDING), d.next_attempt_at <= now)
        .order_by(d.id.asc())
        .limit(limit)
    ).all()
    return [str(r[0]) for r in rows]


def required_approvals(conn: Connection, request_ids: Iterable[str]) -> dict[str, int]:
    """How many approvals each approval request needs (for translating approve events)."""
    ids = [n for n in map(decimal, request_ids) if n is not None]
    if not ids:
        return {}
    a = approval_requests.c
    rows = conn.execute(select(a.id, a.required_approvals).where(a.id.in_(ids))).all()
    return {str(r.id): int(r.required_approvals) for r in rows}


def prompts_among(conn: Connection, names: Iterable[str]) -> set[str]:
    """Which of the registered models ``names`` are prompts (tagged
    ``mlflow.prompt.is_prompt = true``, as MLflow's prompt registry marks them)."""
    wanted = sorted(set(names))
    if not wanted:
        return set()
    m, tg = registered_models.c, registered_model_tags.c
    rows = conn.execute(
        select(m.name)
        .join(registered_model_tags, tg.model_id == m.id)
        .where(m.name.in_(wanted), tg.key == IS_PROMPT, func.lower(tg.value) == "true")
    ).all()
    return {str(r[0]) for r in rows}
