"""The change-event log's domain: who acted, what changed, and the hash chain over it.

Every state change appends one :class:`ChangeEvent` in the same transaction as the change.
That one log is the audit trail and the outbox later consumers (webhooks, alerts, job
triggers) read in ``id`` order: ids are gap-free and given out under the chain's head lock, so
a transaction with a higher id always commits after every lower one.
"""

from __future__ import annotations

import hashlib
import hmac
from contextvars import ContextVar
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import orjson

from cairn.entities.access import Visibility

GENESIS = "0" * 64
"""The ``prev_hash`` of the first event ever written."""


class ActorKind(StrEnum):
    USER = "user"
    """A person: signed in with a password or a session, or the ``local`` user when access
    control is off."""
    TOKEN = "token"
    """An API token (``actor`` is the token's owner), or an evaluation job's runner token
    (``actor`` is ``eval-runner:<job id>``)."""
    SYSTEM = "system"
    """Cairn itself: garbage collection, retention, imports, background jobs."""


@dataclass(frozen=True, slots=True)
class Actor:
    """Who is making the changes of the current request or job: a name, its kind, and the
    address and request id it came with (None for work that no request caused)."""

    name: str
    kind: ActorKind
    address: str | None = None
    request_id: str | None = None
    user_id: int | None = None


LOCAL_ACTOR = Actor("local", ActorKind.USER)
SYSTEM_ACTOR = Actor("system", ActorKind.SYSTEM)

ACTING: ContextVar[Actor] = ContextVar("cairn_acting", default=LOCAL_ACTOR)
"""The actor of the code running now: the server sets it per request, jobs and CLI commands
set :data:`SYSTEM_ACTOR`. :meth:`cairn.store.db.Database.write` reads it on the caller's
side and hands it to the writer, so events get the right actor on any thread."""


class EntityType(StrEnum):
    EXPERIMENT = "experiment"
    RUN = "run"
    ARTIFACT = "artifact"
    DATASET = "dataset"
    LOGGED_MODEL = "logged_model"
    REGISTERED_MODEL = "registered_model"
    MODEL_VERSION = "model_version"
    USER = "user"
    TOKEN = "token"
    SESSION = "session"
    ROLE = "role"
    PERMISSION = "permission"
    POLICY = "policy"
    APPROVAL_REQUEST = "approval_request"
    RETENTION_POLICY = "retention_policy"
    SETTING = "setting"
    AUDIT = "audit"
    WEBHOOK = "webhook"
    JOB = "job"
    ALERT_RULE = "alert_rule"
    ALERT = "alert"
    TRACE = "trace"
    EVALUATION_JOB = "evaluation_job"
    EVALUATION_COLLECTION = "evaluation_collection"


@dataclass(frozen=True, slots=True)
class Change:
    """One change as a writer states it, before the log gives it an id, a time and a hash.

    ``before``/``after`` hold the metadata that changed (never a secret); ``experiment_id``
    and ``model_name`` say which experiment or registered model it belongs to, so that
    holders of MANAGE on those can read it. ``claimed_user`` is the user a client says it is
    (a run's ``mlflow.user``) when that is not the authenticated actor: kept, never trusted."""

    action: str
    entity_type: EntityType
    entity_id: str
    experiment_id: str | None = None
    model_name: str | None = None
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    claimed_user: str | None = None


@dataclass(frozen=True, slots=True)
class ChangeEvent:
    """One event as stored: the change, who made it, when, and its link in the chain."""

    id: int
    time: int
    actor: str
    actor_kind: ActorKind
    address: str | None
    request_id: str | None
    action: str
    entity_type: str
    entity_id: str
    experiment_id: str | None
    model_name: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    claimed_user: str | None
    prev_hash: str
    hash: str

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "time": self.time,
            "actor": self.actor,
            "actor_kind": str(self.actor_kind),
            "address": self.address,
            "request_id": self.request_id,
            "action": self.action,
            "entity_type": self.entity_type,
            "entity_id": self.entity_id,
            "experiment_id": self.experiment_id,
            "model_name": self.model_name,
            "before": self.before,
            "after": self.after,
            "claimed_user": self.claimed_user,
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }


HASHED_FIELDS = (
    "id",
    "time",
    "actor",
    "actor_kind",
    "address",
    "request_id",
    "action",
    "entity_type",
    "entity_id",
    "experiment_id",
    "model_name",
    "before",
    "after",
    "claimed_user",
)


def canonical(values: dict[str, Any]) -> bytes:
    """The bytes an event's hash covers: its fields (not the hashes) as sorted-key JSON."""
    return orjson.dumps({k: values[k] for k in HASHED_FIELDS}, option=orjson.OPT_SORT_KEYS)


def chain_hash(prev_hash: str, body: bytes, key: bytes | None = None) -> str:
    """The hash of an event: SHA-256 over the previous hash and the event's canonical bytes,
    or HMAC-SHA-256 with the server's audit key when one is set (then rewriting the chain
    needs the key, not only the database)."""
    data = prev_hash.encode("ascii") + b"\n" + body
    if key:
        return hmac.new(key, data, hashlib.sha256).hexdigest()
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True, slots=True)
class EventScope:
    """The events a caller who is not an admin may read: those that belong to an experiment
    (by id) or a registered model (by name) they hold MANAGE on, each side a
    :class:`~cairn.entities.access.Visibility` filter. Events that belong to neither (users,
    roles, settings) are outside every scope."""

    experiments: Visibility
    models: Visibility


NO_SCOPE = EventScope(Visibility(everything=False), Visibility(everything=False))
"""A scope that lets no event through (a caller who manages nothing)."""


@dataclass(frozen=True, slots=True)
class EventQuery:
    """A filter over the log, newest first, paged by id (keyset). ``scope`` None: every
    event (admins, and everyone while access control is off)."""

    actor: str | None = None
    action: str | None = None
    entity_type: str | None = None
    entity_id: str | None = None
    experiment_id: str | None = None
    model_name: str | None = None
    since: int | None = None
    until: int | None = None
    before_id: int | None = None
    after_id: int | None = None
    limit: int = 100
    ascending: bool = False
    scope: EventScope | None = None

    def filters(self) -> dict[str, str | int | None]:
        """The caller's filters (not paging, order or scope): what a page token is tied to."""
        return {
            "actor": self.actor,
            "action": self.action,
            "entity_type": self.entity_type,
            "entity_id": self.entity_id,
            "experiment_id": self.experiment_id,
            "model_name": self.model_name,
            "since": self.since,
            "until": self.until,
        }


@dataclass(frozen=True, slots=True)
class ChainReport:
    """What :func:`verify` found: how many events it checked, the head it reached, and the
    first broken link if any."""

    checked: int
    head_id: int
    head_hash: str
    ok: bool
    broken_at: int | None = None
    reason: str | None = None
    first_id: int | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "checked": self.checked,
            "first_id": self.first_id,
            "head_id": self.head_id,
            "head_hash": self.head_hash,
            "broken_at": self.broken_at,
            "reason": self.reason,
        }
