"""What a route needs, declared next to the route, enforced in one place.

Every route of the server carries one :class:`Need` (MLflow endpoints in their table, the
other routes through :func:`requires` on their endpoint function). The access layer
(:mod:`cairn.server.access`) reads it before any handler runs; a route without one is refused
to everyone but admins, and a test walks the route table so none ships without.

A need is one of:

- ``PUBLIC``: anyone, without credentials (``/health``, the UI's static files).
- ``USER``: any signed-in user; the route itself shows only what the caller may read
  (searches), or acts on the caller's own things (their tokens, their password).
- ``ADMIN``: admins only (users, roles, other users' grants).
- ``RESOURCE``: a permission on the experiments and registered models the request names,
  found by :class:`Locate` rules in its path, query or JSON body.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar

from cairn.entities.access import Permission, ResourceType


class Level(StrEnum):
    PUBLIC = "public"
    USER = "user"
    ADMIN = "admin"
    RESOURCE = "resource"


class Names(StrEnum):
    """What a request field holds, and so how it leads to an experiment or model."""

    EXPERIMENT_ID = "experiment id"
    EXPERIMENT_NAME = "experiment name"
    RUN_ID = "run id"
    LOGGED_MODEL_ID = "logged model id"
    TRACE_ID = "trace id"
    MODEL_NAME = "registered model name"
    MODEL_NAMES = "registered model names"
    """Comma-separated names (``?names=a,b,c``); each is checked."""
    ARTIFACT_PATH = "artifact path"
    """``<experiment id>/<run id or models/…>/…``: the proxied artifact routes' paths."""
    SOURCE_URI = "model source"
    """A model version's source: ``runs:/<run>/…``, ``models:/m-…``,
    ``mlflow-artifacts:/<experiment>/…``; other schemes name no experiment."""


@dataclass(frozen=True, slots=True)
class Locate:
    """Where a request names a resource: the first of ``fields`` present in the path
    parameters, the query or the top-level JSON body (every value found is checked). A field
    spelled ``a.b.c`` is looked up inside the JSON body's objects; one that starts with ``x-``
    is a request header."""

    fields: tuple[str, ...]
    names: Names


@dataclass(frozen=True, slots=True)
class Check:
    """``permission`` on every resource ``where`` finds. ``required``: a request that names
    none is refused (400 naming the first field) rather than let through."""

    kind: ResourceType
    permission: Permission
    where: Locate
    required: bool = True


@dataclass(frozen=True, slots=True)
class Need:
    level: Level
    checks: tuple[Check, ...] = ()
    writes: bool = False
    """Changes state: refused to read-only tokens."""
    runner: bool = False
    """Also accepts an evaluation job's runner token (``Authorization: Bearer cairn-evr_…``)
    for the job the path names (``{job_id}``): the caller is then that job's runner, no user.
    Routes: an evaluation job's GET and events, nothing else."""

    def describe(self) -> str:
        if self.level is not Level.RESOURCE:
            return self.level.value
        return " + ".join(
            f"{c.permission.name} on the {c.kind.value} of {c.where.fields[0]}" for c in self.checks
        )


PUBLIC = Need(Level.PUBLIC)
USER_READ = Need(Level.USER)
USER_WRITE = Need(Level.USER, writes=True)
ADMIN_READ = Need(Level.ADMIN)
ADMIN_WRITE = Need(Level.ADMIN, writes=True)
WEBHOOK_READ = Need(Level.USER)
"""Webhooks and their deliveries: admins, and the MANAGE holders of the experiment or
registered model a hook is scoped to. Which one a hook is scoped to is stored with the hook,
not named by the request, so the route lets signed-in users through and the webhook service
decides per hook (a hook the caller may not see is a 404)."""
WEBHOOK_WRITE = Need(Level.USER, writes=True)
"""Creating, changing, testing, deleting webhooks and redelivering: as :data:`WEBHOOK_READ`,
and refused to read-only tokens."""

EVAL_RUNNER_READ = Need(Level.USER, runner=True)
"""An evaluation job (and its logs, its stream): its runner token, or a signed-in user whom
the evaluation service then lets through when they may read the job's experiment (the
experiment is stored with the job, not named by the request)."""
EVAL_RUNNER_WRITE = Need(Level.USER, writes=True, runner=True)
"""An evaluation job's events: its runner token, or a user with MANAGE on its experiment
(checked by the evaluation service, as for :data:`EVAL_RUNNER_READ`)."""


def _locate(names: Names, fields: tuple[str, ...]) -> Locate:
    return Locate(fields, names)


def experiment(
    permission: Permission,
    *fields: str,
    names: Names = Names.EXPERIMENT_ID,
    required: bool = True,
    also: tuple[Check, ...] = (),
) -> Need:
    """``permission`` on the experiment that ``fields`` name (by default: its id)."""
    check = Check(ResourceType.EXPERIMENT, permission, _locate(names, fields), required)
    return Need(Level.RESOURCE, (check, *also), writes=permission >= Permission.EDIT)


def run(permission: Permission, *fields: str, required: bool = True) -> Need:
    """``permission`` on the experiment of the run(s) ``fields`` name."""
    return experiment(
        permission,
        *(fields or ("run_id", "run_uuid")),
        names=Names.RUN_ID,
        required=required,
    )


def logged_model(permission: Permission, *fields: str) -> Need:
    return experiment(permission, *(fields or ("model_id",)), names=Names.LOGGED_MODEL_ID)


def trace(permission: Permission, *fields: str, required: bool = True) -> Need:
    """``permission`` on the experiment of the trace(s) ``fields`` name (a list is checked
    item by item)."""
    return experiment(
        permission,
        *(fields or ("trace_id", "request_id")),
        names=Names.TRACE_ID,
        required=required,
    )


def artifact(permission: Permission, *fields: str) -> Need:
    return experiment(permission, *(fields or ("path",)), names=Names.ARTIFACT_PATH)


def model(
    permission: Permission,
    *fields: str,
    required: bool = True,
    also: tuple[Check, ...] = (),
) -> Need:
    """``permission`` on the registered model ``fields`` name (by default ``name``)."""
    check = Check(
        ResourceType.REGISTERED_MODEL,
        permission,
        _locate(Names.MODEL_NAME, fields or ("name",)),
        required,
    )
    return Need(Level.RESOURCE, (check, *also), writes=permission >= Permission.EDIT)


def models_listed(permission: Permission, *fields: str) -> Check:
    """``permission`` on every registered model that ``fields`` list, comma-separated."""
    return Check(
        ResourceType.REGISTERED_MODEL,
        permission,
        _locate(Names.MODEL_NAMES, fields),
        required=False,
    )


def source_readable() -> Check:
    """READ on the experiment of a model version's source run, when the request names one:
    nobody registers (and so exposes) a model from a run they cannot read."""
    return Check(
        ResourceType.EXPERIMENT,
        Permission.READ,
        Locate(("run_id",), Names.RUN_ID),
        required=False,
    )


def logged_model_readable() -> Check:
    """READ on the experiment of the logged model a model version is made from, when named."""
    return Check(
        ResourceType.EXPERIMENT,
        Permission.READ,
        Locate(("model_id",), Names.LOGGED_MODEL_ID),
        required=False,
    )


def source_uri_readable() -> Check:
    return Check(
        ResourceType.EXPERIMENT,
        Permission.READ,
        Locate(("source",), Names.SOURCE_URI),
        required=False,
    )


F = TypeVar("F", bound=Callable[..., object])

NEED_ATTRIBUTE = "__cairn_need__"


def requires(need: Need) -> Callable[[F], F]:
    """Declare what the decorated route endpoint needs (read by the access layer)."""

    def mark(fn: F) -> F:
        setattr(fn, NEED_ATTRIBUTE, need)
        return fn

    return mark


def need_of(endpoint: object) -> Need | None:
    found = getattr(endpoint, NEED_ATTRIBUTE, None)
    return found if isinstance(found, Need) else None
