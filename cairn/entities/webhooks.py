"""Webhooks: who is told about which changes, and what one delivery looks like.

A webhook subscribes to ``(entity, action)`` pairs. MLflow 3's pairs (``model_version.created``
and the rest of :data:`MLFLOW_EVENTS`) are spelled exactly as MLflow spells them, so the stock
client's ``create_webhook`` works unchanged; Cairn adds its own (:data:`CAIRN_EVENTS`), which
only Cairn's API and CLI can subscribe to. :func:`translate` turns one change event of the log
into the pair and the ``data`` a receiver gets, or None when no webhook can care about it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from cairn.entities.events import ChangeEvent


class WebhookStatus(StrEnum):
    ACTIVE = "ACTIVE"
    DISABLED = "DISABLED"


class DeliveryState(StrEnum):
    PENDING = "pending"
    """Waiting for its first attempt or a retry (``next_attempt_at``)."""
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    """Given up: a refused target, a non-retryable answer, or the attempts ran out."""


Event = tuple[str, str]
"""An ``(entity, action)`` pair, e.g. ``("model_version", "created")``."""

MLFLOW_EVENTS: tuple[Event, ...] = (
    ("registered_model", "created"),
    ("model_version", "created"),
    ("model_version_tag", "set"),
    ("model_version_tag", "deleted"),
    ("model_version_alias", "created"),
    ("model_version_alias", "deleted"),
    ("prompt", "created"),
    ("prompt_version", "created"),
    ("prompt_tag", "set"),
    ("prompt_tag", "deleted"),
    ("prompt_version_tag", "set"),
    ("prompt_version_tag", "deleted"),
    ("prompt_alias", "created"),
    ("prompt_alias", "deleted"),
)
"""The MLflow 3 pairs Cairn emits. Prompts are registered models tagged
``mlflow.prompt.is_prompt = true``: their changes are the ``prompt*`` pairs instead of the
model ones, as in MLflow."""

MLFLOW_ACCEPTED: tuple[Event, ...] = (*MLFLOW_EVENTS, ("budget_policy", "exceeded"))
"""Every pair MLflow 3.17's webhook API accepts: a hook made for MLflow is accepted as is."""

CAIRN_EVENTS: tuple[Event, ...] = (
    ("run", "finished"),
    ("run", "failed"),
    ("run", "killed"),
    ("approval_request", "created"),
    ("approval_request", "approved"),
    ("approval_request", "rejected"),
    ("approval_request", "cancelled"),
    ("webhook", "disabled"),
    ("alert", "fired"),
    ("alert", "resolved"),
    ("evaluation_job", "completed"),
    ("evaluation_job", "failed"),
    ("evaluation_job", "partially_failed"),
    ("evaluation_job", "cancelled"),
)
"""Cairn's own pairs (not in MLflow's enums: subscribe through ``/api/v1`` or the CLI)."""

ALL_EVENTS: tuple[Event, ...] = (*MLFLOW_ACCEPTED, *CAIRN_EVENTS)

MAX_EVENTS = len(ALL_EVENTS)
MAX_NAME = 256
MAX_DESCRIPTION = 1000
MAX_URL = 2048
MAX_SECRET = 1024
RESPONSE_EXCERPT = 1024
"""How many characters of a receiver's answer a delivery keeps."""


def event_name(event: Event) -> str:
    return f"{event[0]}.{event[1]}"


@dataclass(frozen=True, slots=True)
class WebhookScope:
    """What a webhook hears: everything (both None, admins only), or the events of one
    experiment or one registered model (its MANAGE holders may own such a hook)."""

    experiment_id: str | None = None
    model_name: str | None = None

    @property
    def is_global(self) -> bool:
        return self.experiment_id is None and self.model_name is None

    def covers(self, experiment_id: str | None, model_name: str | None) -> bool:
        if self.is_global:
            return True
        if self.experiment_id is not None:
            return experiment_id == self.experiment_id
        return model_name == self.model_name

    def to_json(self) -> dict[str, str] | None:
        if self.experiment_id is not None:
            return {"experiment_id": self.experiment_id}
        if self.model_name is not None:
            return {"model_name": self.model_name}
        return None


@dataclass(frozen=True, slots=True)
class Webhook:
    """A webhook as Cairn keeps it. ``has_secret`` says whether deliveries are signed; the
    secret itself never leaves the store except to sign (encrypted at rest)."""

    webhook_id: str
    name: str
    url: str
    events: tuple[Event, ...]
    status: WebhookStatus
    description: str | None
    has_secret: bool
    scope: WebhookScope
    consecutive_failures: int
    created_by: str
    created_at: int
    updated_by: str
    updated_at: int

    def to_json(self) -> dict[str, Any]:
        return {
            "webhook_id": self.webhook_id,
            "name": self.name,
            "url": self.url,
            "events": [{"entity": e, "action": a} for e, a in self.events],
            "status": str(self.status),
            "description": self.description,
            "has_secret": self.has_secret,
            "scope": self.scope.to_json(),
            "consecutive_failures": self.consecutive_failures,
            "created_by": self.created_by,
            "creation_timestamp": self.created_at,
            "updated_by": self.updated_by,
            "last_updated_timestamp": self.updated_at,
        }


@dataclass(frozen=True, slots=True)
class Attempt:
    """One HTTP attempt of a delivery."""

    number: int
    time: int
    status_code: int | None
    latency_ms: int | None
    error: str | None
    response_excerpt: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "time": self.time,
            "status_code": self.status_code,
            "latency_ms": self.latency_ms,
            "error": self.error,
            "response_excerpt": self.response_excerpt,
        }


@dataclass(frozen=True, slots=True)
class Delivery:
    """One event sent (or to be sent) to one webhook: ``delivery_id`` is the
    ``X-MLflow-Delivery-Id`` every attempt (and a manual redelivery) carries, so a receiver
    de-duplicates by it. ``body`` is the exact JSON sent."""

    seq: int
    delivery_id: str
    webhook_id: str
    event_id: int | None
    entity: str
    action: str
    body: str
    state: DeliveryState
    attempts: int
    last_status_code: int | None
    latency_ms: int | None
    response_excerpt: str | None
    error: str | None
    next_attempt_at: int | None
    created_at: int
    updated_at: int
    attempt_log: tuple[Attempt, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "delivery_id": self.delivery_id,
            "webhook_id": self.webhook_id,
            "event_id": self.event_id,
            "entity": self.entity,
            "action": self.action,
            "body": self.body,
            "state": str(self.state),
            "attempts": self.attempts,
            "last_status_code": self.last_status_code,
            "latency_ms": self.latency_ms,
            "response_excerpt": self.response_excerpt,
            "error": self.error,
            "next_attempt_at": self.next_attempt_at,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "attempt_log": [a.to_json() for a in self.attempt_log],
        }


@dataclass(frozen=True, slots=True)
class Translated:
    """What a change event means to webhooks: its pair, its ``data``, and where it belongs
    (for scoped hooks)."""

    event: Event
    data: dict[str, Any]
    experiment_id: str | None
    model_name: str | None


def iso_time(ms: int) -> str:
    """Milliseconds since the epoch as ISO 8601 with the UTC offset, as MLflow's payloads."""
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat()


def _tag(side: dict[str, Any] | None) -> tuple[str, str | None] | None:
    tags = (side or {}).get("tags")
    if isinstance(tags, dict) and len(tags) == 1:
        ((key, value),) = tags.items()
        return str(key), None if value is None else str(value)
    return None


def _model_version(event: ChangeEvent) -> tuple[str, str] | None:
    name, _, version = event.entity_id.rpartition("/")
    return (name, version) if name else None


_RUN_ENDS = {"FINISHED": "finished", "FAILED": "failed", "KILLED": "killed"}
_DECISIONS = {
    "approval_request.reject": "rejected",
    "approval_request.cancel": "cancelled",
}


IS_PROMPT = "mlflow.prompt.is_prompt"
PROMPT_TEXT = "mlflow.prompt.text"
PROMPT_TYPE = "_mlflow_prompt_type"


def _prompt_tagged(tags: object) -> bool:
    return isinstance(tags, dict) and str(tags.get(IS_PROMPT, "false")).lower() == "true"


def _plain_tags(tags: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in tags.items() if k not in (IS_PROMPT, PROMPT_TYPE, PROMPT_TEXT)}


def translate(
    event: ChangeEvent, required_approvals: int | None = None, is_prompt: bool = False
) -> Translated | None:
    """The webhook view of ``event``, or None. ``required_approvals``: for
    ``approval_request.approve`` events, how many approvals the request needs (an approval
    that reaches it is the ``approved`` decision; the ones before it are not events here).
    ``is_prompt``: the event's registered model is a prompt (tagged as one), whose changes
    are MLflow's ``prompt*`` pairs instead of the model ones."""
    after, before = event.after or {}, event.before or {}
    where = (event.experiment_id, event.model_name)

    def made(pair: Event, data: dict[str, Any]) -> Translated:
        return Translated(pair, data, *where)

    action = event.action
    tagged = _prompt_tagged(after.get("tags"))
    if action == "registered_model.create":
        prompt_like = tagged  # what it was made as, whatever it is now
    elif action == "model_version.create":
        prompt_like = is_prompt or tagged
    else:
        prompt_like = is_prompt and action.startswith(("registered_model.", "model_version."))
    if prompt_like:
        prompt = _prompt(event, is_prompt)
        return None if prompt is None else made(*prompt)
    if action == "registered_model.create":
        tags = after.get("tags") or {}
        return made(
            ("registered_model", "created"),
            {"name": event.entity_id, "tags": tags, "description": after.get("description")},
        )
    if action == "model_version.create":
        found = _model_version(event)
        if found is None:
            return None
        return made(
            ("model_version", "created"),
            {
                "name": found[0],
                "version": found[1],
                "source": after.get("source"),
                "run_id": after.get("run_id"),
                "tags": after.get("tags") or {},
                "description": after.get("description"),
            },
        )
    if action in ("model_version.set_tag", "model_version.delete_tag"):
        found, tag = _model_version(event), _tag(after) or _tag(before)
        if found is None or tag is None:
            return None
        data: dict[str, Any] = {"name": found[0], "version": found[1], "key": tag[0]}
        if action == "model_version.set_tag":
            data["value"] = tag[1]
            return made(("model_version_tag", "set"), data)
        return made(("model_version_tag", "deleted"), data)
    if action == "model_version.set_alias":
        found = _model_version(event)
        if found is None:
            return None
        alias = after.get("alias")
        return made(
            ("model_version_alias", "created"),
            {"name": found[0], "alias": alias, "version": found[1]},
        )
    if action == "model_version.delete_alias":
        found = _model_version(event)
        if found is None:
            return None
        return made(
            ("model_version_alias", "deleted"), {"name": found[0], "alias": before.get("alias")}
        )
    if action == "run.update":
        status = after.get("status")
        verb = _RUN_ENDS.get(str(status)) if status is not None else None
        if verb is None:
            return None
        return made(
            ("run", verb),
            {
                "run_id": event.entity_id,
                "experiment_id": event.experiment_id,
                "status": status,
                "end_time": after.get("end_time"),
                "actor": event.actor,
            },
        )
    if action.startswith("approval_request."):
        return _approval(event, required_approvals)
    if action in ("alert.fired", "alert.resolved"):
        return made(
            ("alert", action.split(".")[1]),
            {
                "alert_id": event.entity_id,
                "experiment_id": event.experiment_id,
                "model_name": event.model_name,
                **after,
            },
        )
    if action in ("evaluation_job.finish", "evaluation_job.cancel"):
        state = after.get("state")
        if state not in ("completed", "failed", "partially_failed", "cancelled"):
            return None
        return made(
            ("evaluation_job", str(state)),
            {
                "job_id": event.entity_id,
                "experiment_id": event.experiment_id,
                "model_name": event.model_name,
                **{k: after.get(k) for k in ("state", "overall_score", "passed", "error")},
            },
        )
    if action == "webhook.disable":
        return made(
            ("webhook", "disabled"),
            {"webhook_id": event.entity_id, **{k: after.get(k) for k in ("name", "reason")}},
        )
    return None


def _prompt(event: ChangeEvent, is_prompt: bool) -> tuple[Event, dict[str, Any]] | None:
    """A change of a prompt (a registered model tagged as one) as MLflow's ``prompt*`` pair and
    ``data``; None when it is no prompt's, or a change MLflow sends nothing for."""
    after, before = event.after or {}, event.before or {}
    action = event.action
    tags = after.get("tags") or {}
    if action == "registered_model.create":
        if not _prompt_tagged(tags):
            return None
        data = {"name": event.entity_id, "tags": _plain_tags(tags),
                "description": after.get("description")}  # fmt: skip
        return ("prompt", "created"), data
    found = _model_version(event) if action.startswith("model_version.") else None
    if action == "model_version.create" and found is not None:
        if not (is_prompt or _prompt_tagged(tags)):
            return None
        return ("prompt_version", "created"), {
            "name": found[0],
            "version": found[1],
            "template": tags.get(PROMPT_TEXT),
            "tags": _plain_tags(tags),
            "description": after.get("description") or None,
        }
    if not is_prompt:
        return None
    tag = _tag(after) or _tag(before)
    if action in ("registered_model.set_tag", "registered_model.delete_tag") and tag:
        if action.endswith("set_tag"):
            return ("prompt_tag", "set"), {"name": event.entity_id, "key": tag[0], "value": tag[1]}
        return ("prompt_tag", "deleted"), {"name": event.entity_id, "key": tag[0]}
    if found is None:
        return None
    if action in ("model_version.set_tag", "model_version.delete_tag") and tag:
        data = {"name": found[0], "version": found[1], "key": tag[0]}
        if action.endswith("set_tag"):
            return ("prompt_version_tag", "set"), {**data, "value": tag[1]}
        return ("prompt_version_tag", "deleted"), data
    if action == "model_version.set_alias":
        data = {"name": found[0], "alias": after.get("alias"), "version": found[1]}
        return ("prompt_alias", "created"), data
    if action == "model_version.delete_alias":
        return ("prompt_alias", "deleted"), {"name": found[0], "alias": before.get("alias")}
    return None


def _approval(event: ChangeEvent, required: int | None) -> Translated | None:
    after = event.after or {}
    if event.action == "approval_request.create":
        verb = "created"
    elif event.action == "approval_request.approve":
        count = after.get("approvals")
        if required is None or not isinstance(count, int) or count < required:
            return None
        verb = "approved"
    elif event.action in _DECISIONS:
        verb = _DECISIONS[event.action]
    else:
        return None
    target = after.get("target") or {}
    data = {
        "request_id": event.entity_id,
        "model_name": event.model_name,
        "version": str(after.get("version")),
        "target": target,
        "actor": event.actor,
        "comment": after.get("comment"),
    }
    return Translated(("approval_request", verb), data, event.experiment_id, event.model_name)


def payload(translated: Translated, when: int) -> dict[str, Any]:
    """The body a receiver gets, in MLflow's shape: ``{entity, action, timestamp, data}``."""
    return {
        "entity": translated.event[0],
        "action": translated.event[1],
        "timestamp": iso_time(when),
        "data": translated.data,
    }


EXAMPLES: dict[Event, dict[str, Any]] = {
    ("registered_model", "created"): {
        "name": "example_model",
        "tags": {"example_key": "example_value"},
        "description": "An example registered model",
    },
    ("model_version", "created"): {
        "name": "example_model",
        "version": "1",
        "source": "models:/123",
        "run_id": "abcd1234abcd5678",
        "tags": {"example_key": "example_value"},
        "description": "An example model version",
    },
    ("model_version_tag", "set"): {
        "name": "example_model",
        "version": "1",
        "key": "example_key",
        "value": "example_value",
    },
    ("model_version_tag", "deleted"): {
        "name": "example_model",
        "version": "1",
        "key": "example_key",
    },
    ("model_version_alias", "created"): {
        "name": "example_model",
        "alias": "champion",
        "version": "1",
    },
    ("model_version_alias", "deleted"): {"name": "example_model", "alias": "champion"},
    ("run", "finished"): {
        "run_id": "0123456789abcdef0123456789abcdef",
        "experiment_id": "1",
        "status": "FINISHED",
        "end_time": 0,
        "actor": "example_user",
    },
}
"""Sample ``data`` for test deliveries (``POST …/webhooks/{id}/test``)."""


def example_data(event: Event) -> dict[str, Any]:
    found = EXAMPLES.get(event)
    if found is not None:
        return found
    return {"example": True, "event": event_name(event)}
