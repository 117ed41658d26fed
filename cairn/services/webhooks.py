"""Webhooks' use cases: manage hooks (admins; MANAGE holders for hooks scoped to their own
experiment or model), turn change events into deliveries (the outbox consumer's body), send
them (the job body), test a hook, list and redeliver deliveries.

The job engine wires two plain functions: :func:`create_deliveries` (called with the change
events after the consumer's cursor, in the consumer's transaction) and
:meth:`WebhookService.attempt_delivery` (one HTTP attempt; retry after ``retry_after``).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection

from cairn.access.sealing import Sealer
from cairn.access.service import AccessService
from cairn.entities.access import Identity, Permission, ResourceType
from cairn.entities.errors import CairnError, ErrorCode
from cairn.entities.events import ChangeEvent
from cairn.entities.numbers import decimal
from cairn.entities.webhooks import (
    ALL_EVENTS,
    MAX_DESCRIPTION,
    MAX_NAME,
    MAX_SECRET,
    Delivery,
    DeliveryState,
    Event,
    Translated,
    Webhook,
    WebhookScope,
    WebhookStatus,
    event_name,
    example_data,
    payload,
    translate,
)
from cairn.services.webhook_delivery import DeliveryConfig, Outcome, Post, attempt_delivery, post
from cairn.services.webhook_targets import check
from cairn.store import experiments as experiment_store
from cairn.store import registry as registry_store
from cairn.store import webhooks as store
from cairn.store.db import Database
from cairn.store.paging import decode_token, encode_token, query_fingerprint
from cairn.store.sql import now_ms

DEFAULT_PAGE = 100
MAX_PAGE = 1000
NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._ -]{0,254}[A-Za-z0-9])?$")


def _text(value: object, field: str, limit: int, *, required: bool = False) -> str | None:
    if value is None or (value == "" and not required):
        if required:
            raise CairnError.invalid(f"Missing value for required parameter '{field}'")
        return None
    if not isinstance(value, str):
        raise CairnError.invalid(f"Parameter '{field}' must be a string")
    if len(value) > limit:
        raise CairnError.invalid(f"Parameter '{field}' is longer than {limit} characters")
    return value


def check_name(value: object) -> str:
    name = _text(value, "name", MAX_NAME, required=True)
    assert name is not None
    if not NAME.match(name):
        raise CairnError.invalid(
            f"Invalid value {name!r} for parameter 'name': letters, digits, spaces, dots, "
            "underscores and hyphens, starting and ending with a letter or digit"
        )
    return name


def _pair(item: object) -> Event:
    entity: object
    action: object
    if isinstance(item, str):
        entity, dot, action = item.partition(".")
        if not dot:
            raise CairnError.invalid(
                f"Invalid value {item!r} in parameter 'events': write 'entity.action'"
            )
    elif isinstance(item, dict):
        entity, action = item.get("entity"), item.get("action")
    elif isinstance(item, tuple | list) and len(item) == 2:
        entity, action = item[0], item[1]
    else:
        raise CairnError.invalid("Parameter 'events' holds {entity, action} pairs")
    if not isinstance(entity, str) or not isinstance(action, str):
        raise CairnError.invalid("Parameter 'events' holds {entity, action} pairs of strings")
    pair = (entity.lower(), action.lower())
    if pair not in ALL_EVENTS:
        raise CairnError.invalid(
            f"Invalid value {event_name(pair)!r} in parameter 'events': not an event Cairn "
            f"knows (see docs/webhooks.md; e.g. {event_name(ALL_EVENTS[1])})"
        )
    return pair


def check_events(items: object) -> tuple[Event, ...]:
    if not isinstance(items, list | tuple) or not items:
        raise CairnError.invalid("Parameter 'events' must be a non-empty list of events")
    if len(items) > len(ALL_EVENTS) * 2:
        raise CairnError.invalid("Parameter 'events' lists too many events")
    out: list[Event] = []
    for item in items:
        pair = _pair(item)
        if pair not in out:
            out.append(pair)
    return tuple(out)


def check_status(value: object) -> WebhookStatus | None:
    if value is None or value == "":
        return None
    text = str(value).upper()
    if text not in WebhookStatus.__members__:
        raise CairnError.invalid(
            f"Invalid value {value!r} for parameter 'status': ACTIVE or DISABLED"
        )
    return WebhookStatus(text)


def check_secret(value: object) -> str | None:
    return _text(value, "secret", MAX_SECRET)


@dataclass(frozen=True, slots=True)
class TestResult:
    """What ``test`` got back, in MLflow's ``WebhookTestResult`` terms."""

    success: bool
    response_status: int | None
    response_body: str | None
    error_message: str | None
    delivery_id: str

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"success": self.success}
        if self.response_status is not None:
            out["response_status"] = self.response_status
        if self.response_body is not None:
            out["response_body"] = self.response_body
        if self.error_message is not None:
            out["error_message"] = self.error_message
        return out


def create_deliveries(conn: Connection, events: Sequence[ChangeEvent]) -> list[str]:
    """The outbox consumer's body: for each change event, one pending delivery per ACTIVE
    webhook subscribed to its pair and covering it (global, or scoped to its experiment or
    model). Runs in the consumer's transaction; returns the new delivery ids (each one a job
    to enqueue). Safe to run twice over the same events (one delivery per hook and event)."""
    hooks = store.active(conn)
    if not hooks or not events:
        return []
    wanted = {pair for _, hook in hooks for pair in hook.events}
    needs = [e.entity_id for e in events if e.action == "approval_request.approve"]
    required = store.required_approvals(conn, needs) if needs else {}
    registry = [
        e.model_name
        for e in events
        if e.model_name and e.action.startswith(("registered_model.", "model_version."))
    ]
    prompts = store.prompts_among(conn, registry) if registry else set()
    made: list[str] = []
    now = now_ms()
    for event in events:
        is_prompt = event.model_name in prompts
        found = translate(event, required.get(event.entity_id), is_prompt)
        if found is None or found.event not in wanted:
            continue
        body = _body(found, event.time)
        for pk, hook in hooks:
            if found.event in hook.events and hook.scope.covers(
                found.experiment_id, found.model_name
            ):
                delivery = store.add_delivery(conn, pk, event.id, found.event, body, now)
                if delivery is not None:
                    made.append(delivery)
    return made


def _body(found: Translated, when: int) -> str:
    return orjson.dumps(payload(found, when)).decode()


class WebhookService:
    def __init__(
        self,
        db: Database,
        config: DeliveryConfig,
        access: AccessService | None = None,
        send: Post = post,
        on_pending: Callable[[Connection, list[str]], None] | None = None,
    ):
        """``access``: who holds MANAGE (None when access control is off); ``send``: the HTTP
        call (tests keep the real one); ``on_pending``: called in the transaction that makes
        deliveries pending outside the outbox consumer (a redelivery), with their ids: where
        the job engine enqueues a ``webhook.deliver`` job each."""
        self.db = db
        self.config = config
        self.access = access
        self.send = send
        self.on_pending = on_pending

    @property
    def sealer(self) -> Sealer:
        return self.config.sealer

    # ------------------------------------------------------------------------- access
    def _may_manage(self, who: Identity, scope: WebhookScope) -> bool:
        if who.unrestricted:
            return True
        if scope.is_global or self.access is None or who.read_only:
            return False
        if scope.experiment_id is not None:
            kind, rid = ResourceType.EXPERIMENT, scope.experiment_id
        else:
            assert scope.model_name is not None
            kind, rid = ResourceType.REGISTERED_MODEL, scope.model_name
        return self.access.permission(who, kind, rid) >= Permission.MANAGE

    def _may_read(self, who: Identity, scope: WebhookScope) -> bool:
        """Admins read every hook (a read-only token too); others the hooks scoped to what
        their user manages."""
        if who.is_admin or who.unrestricted:
            return True
        return self._may_manage(_full(who), scope)

    def _authorize(self, who: Identity, scope: WebhookScope, *, read: bool = False) -> None:
        allowed = self._may_read(who, scope) if read else self._may_manage(who, scope)
        if allowed:
            return
        if scope.is_global:
            message = (
                "Only admins may manage webhooks that are not scoped to an experiment or model"
            )
        else:
            what = (
                f"experiment {scope.experiment_id}"
                if scope.experiment_id is not None
                else f"registered model {scope.model_name}"
            )
            message = f"Managing webhooks of {what} needs MANAGE on it"
        raise CairnError(message, ErrorCode.PERMISSION_DENIED)

    def _visible(self, who: Identity, webhook_id: object) -> Webhook:
        hook_id = _text(webhook_id, "webhook_id", 64, required=True)
        assert hook_id is not None
        hook = self.db.read(lambda c: store.get(c, hook_id))
        try:
            self._authorize(who, hook.scope, read=True)
        except CairnError:  # do not tell others which ids exist
            raise CairnError.not_found(f"Webhook with ID {hook_id} not found.") from None
        return hook

    def _scope(self, experiment_id: object, model_name: object) -> WebhookScope:
        if experiment_id not in (None, "") and model_name not in (None, ""):
            raise CairnError.invalid(
                "Give at most one of 'scope.experiment_id' and 'scope.model_name'"
            )
        if experiment_id not in (None, ""):
            text = str(experiment_id)
            if decimal(text, high=10**18 - 1) is None:
                raise CairnError.invalid(
                    f"Invalid value {experiment_id!r} for parameter 'scope.experiment_id'"
                )
            self.db.read(lambda c: experiment_store.get(c, int(text)))
            return WebhookScope(experiment_id=text)
        if model_name not in (None, ""):
            name = _text(model_name, "scope.model_name", 256)
            assert name is not None
            self.db.read(lambda c: registry_store.model_row(c, name))
            return WebhookScope(model_name=name)
        return WebhookScope()

    # ---------------------------------------------------------------------------- CRUD
    def create(
        self,
        who: Identity,
        name: object,
        url: object,
        events: object,
        description: object = None,
        secret: object = None,
        status: object = None,
        experiment_id: object = None,
        model_name: object = None,
    ) -> Webhook:
        scope = self._scope(experiment_id, model_name)
        self._authorize(who, scope)
        new = store.NewWebhook(
            name=check_name(name),
            url=check(url, self.config.allow, self.config.resolve).url,
            events=check_events(events),
            status=check_status(status) or WebhookStatus.ACTIVE,
            description=_text(description, "description", MAX_DESCRIPTION),
            secret=self._seal(check_secret(secret)),
            scope=scope,
        )
        return self.db.write(lambda c: store.create(c, new, who.username))

    def _seal(self, secret: str | None) -> str | None:
        return self.sealer.seal(secret) if secret else None

    def get(self, who: Identity, webhook_id: object) -> Webhook:
        return self._visible(who, webhook_id)

    def list_webhooks(
        self, who: Identity, max_results: object = None, page_token: object = None
    ) -> tuple[list[Webhook], str | None]:
        """Webhooks newest first: every one for admins, those scoped to what the caller
        manages for others."""
        limit = _page_size(max_results)
        print_ = query_fingerprint("webhooks", who.username)
        before = None
        if page_token:
            before = int(decode_token(str(page_token), print_, 1)[0])
        if who.is_admin or who.unrestricted:
            found, more = self.db.read(lambda c: store.list_page(c, limit, before))
        else:
            found, more = self._list_managed(who, limit, before)
        return found, (encode_token([more], print_) if more is not None else None)

    def _list_managed(
        self, who: Identity, limit: int, before: int | None
    ) -> tuple[list[Webhook], int | None]:
        if self.access is None:
            return [], None
        experiments = self.access.managed(_full(who), ResourceType.EXPERIMENT)
        models = self.access.managed(_full(who), ResourceType.REGISTERED_MODEL)
        if experiments.everything or models.everything:
            scoped = self.db.read(store.all_scoped)
            keep = [h for h in scoped if self._may_read(who, h.scope)]
            return keep[:limit], None
        return self.db.read(
            lambda c: store.list_page(
                c, limit, before, sorted(experiments.allow_ids), sorted(models.allow_ids)
            )
        )

    def update(
        self,
        who: Identity,
        webhook_id: object,
        *,
        name: object = None,
        url: object = None,
        events: object = None,
        description: object = None,
        secret: object = None,
        status: object = None,
        keep_events: Sequence[Event] = (),
    ) -> Webhook:
        """Change the given fields. ``keep_events``: pairs to keep whatever ``events`` says
        (MLflow's API cannot name Cairn's own events, so an update through it keeps them)."""
        hook = self._visible(who, webhook_id)
        self._authorize(who, hook.scope)
        new_events = None
        if events is not None:
            new_events = check_events(events) if events else None
            if new_events is not None:
                kept = tuple(p for p in hook.events if p in keep_events and p not in new_events)
                new_events = new_events + kept
        checked_url = (
            None if url in (None, "") else check(url, self.config.allow, self.config.resolve).url
        )
        new_secret = check_secret(secret)
        sealed = None if secret is None else (self._seal(new_secret) or "")
        return self.db.write(
            lambda c: store.update_webhook(
                c,
                hook.webhook_id,
                who.username,
                name=None if name in (None, "") else check_name(name),
                url=checked_url,
                events_=new_events,
                status=check_status(status),
                description=_text(description, "description", MAX_DESCRIPTION),
                secret=sealed,
            )
        )

    def delete(self, who: Identity, webhook_id: object) -> None:
        hook = self._visible(who, webhook_id)
        self._authorize(who, hook.scope)
        self.db.write(lambda c: store.delete_webhook(c, hook.webhook_id))

    # ------------------------------------------------------------------------ delivery
    def test(self, who: Identity, webhook_id: object, event: object = None) -> TestResult:
        """Send one example event now (the hook's first event unless ``event`` is given),
        signed like every delivery, and say what came back. Kept in the delivery log (no
        retry, and it does not count toward disabling the hook)."""
        hook = self._visible(who, webhook_id)
        self._authorize(who, hook.scope)
        pair = hook.events[0] if event in (None, "", {}) else _pair(event)
        now = now_ms()
        translated = Translated(pair, example_data(pair), None, None)
        body = _body(translated, now)

        def add(c: Connection) -> str:
            pk = int(store.row(c, hook.webhook_id).id)
            found = store.add_delivery(c, pk, None, pair, body, now)
            assert found is not None
            return found

        delivery_id = self.db.write(add)
        outcome = attempt_delivery(
            self.db,
            delivery_id,
            now,
            self.config,
            send=self.send,
            retry=False,
            count_failure=False,
            even_if_disabled=True,
        )
        ok = outcome.state is DeliveryState.SUCCEEDED
        return TestResult(
            ok,
            outcome.status_code,
            outcome.response_excerpt,
            None if ok else (outcome.error or "the test delivery failed"),
            delivery_id,
        )

    def attempt_delivery(self, delivery_id: str, now: int | None = None) -> Outcome:
        """The job body: one attempt of ``delivery_id`` (see
        :func:`cairn.services.webhook_delivery.attempt_delivery`)."""
        when = now_ms() if now is None else now
        return attempt_delivery(self.db, delivery_id, when, self.config, send=self.send)

    def create_deliveries(self, events: Sequence[ChangeEvent]) -> list[str]:
        """:func:`create_deliveries` in a write of its own (tests, tools)."""
        return self.db.write(lambda c: create_deliveries(c, events))

    def run_due(self, limit: int = 100, deadline_s: float = 30.0) -> list[Outcome]:
        """Attempt the deliveries due now, oldest first, at most ``limit`` and for at most
        ``deadline_s`` (a poller's step, for tools and tests; the job engine runs
        :meth:`attempt_delivery` per job instead)."""
        stop = time.monotonic() + deadline_s
        ids = self.db.read(lambda c: store.due(c, now_ms(), limit))
        out = []
        for delivery_id in ids:
            if time.monotonic() > stop:
                break
            out.append(self.attempt_delivery(delivery_id))
        return out

    def deliveries(
        self,
        who: Identity,
        webhook_id: object,
        max_results: object = None,
        page_token: object = None,
    ) -> tuple[list[Delivery], str | None]:
        hook = self._visible(who, webhook_id)
        limit = _page_size(max_results)
        print_ = query_fingerprint("deliveries", hook.webhook_id)
        before = None
        if page_token:
            before = int(decode_token(str(page_token), print_, 1)[0])
        found, more = self.db.read(
            lambda c: store.deliveries_page(c, hook.webhook_id, limit, before)
        )
        return found, (encode_token([more], print_) if more is not None else None)

    def get_delivery(self, who: Identity, delivery_id: object) -> Delivery:
        text = _text(delivery_id, "delivery_id", 64, required=True)
        assert text is not None
        found = self.db.read(lambda c: store.get_delivery(c, text))
        try:
            self._visible(who, found.webhook_id)
        except CairnError:
            raise CairnError.not_found(f"Webhook delivery {text} not found.") from None
        return found

    def redeliver(self, who: Identity, delivery_id: object) -> Delivery:
        """Make a delivery pending again, due now (same delivery id and body)."""
        found = self.get_delivery(who, delivery_id)
        hook = self._visible(who, found.webhook_id)
        self._authorize(who, hook.scope)
        if found.state is DeliveryState.PENDING:
            raise CairnError(
                f"Webhook delivery {found.delivery_id} is still pending", ErrorCode.INVALID_STATE
            )

        def write(c: Connection) -> Delivery:
            again = store.redeliver(c, found.delivery_id, now_ms())
            if self.on_pending is not None:
                self.on_pending(c, [again.delivery_id])
            return again

        return self.db.write(write)


def _full(who: Identity) -> Identity:
    """``who`` without the read-only limit (what their hooks are: a read-only token may read
    the hooks its user manages)."""
    return Identity(who.username, who.method, who.user_id, who.is_admin)


def _page_size(value: object) -> int:
    if value in (None, "", 0):
        return DEFAULT_PAGE
    try:
        size = int(str(value))
    except ValueError:
        raise CairnError.invalid(f"Invalid value {value!r} for parameter 'max_results'") from None
    if not 0 < size <= MAX_PAGE:
        raise CairnError.invalid(
            f"Invalid value {size} for parameter 'max_results': it must be between 1 and {MAX_PAGE}"
        )
    return size
