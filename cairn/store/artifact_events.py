"""Change events of artifact writes and deletes. Artifacts live outside the database, so each
is recorded in a write of its own once the files are written or gone; the event names the
experiment, run or logged model the path belongs to when the path says so and it exists."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Connection, select

from cairn.entities.events import Change, EntityType
from cairn.entities.numbers import decimal
from cairn.store import events
from cairn.store import runs as run_store
from cairn.store.run_data import RunRow
from cairn.store.schema import experiments, logged_models

MAX_ENTITY_ID = 512
_RUN_ID = re.compile(r"[0-9a-f]{32}")


def record(
    conn: Connection,
    action: str,
    path: str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    """Record ``action`` on the artifact at repository path ``path``: ``<exp>/<run>/artifacts/…``
    names a run, ``<exp>/models/<model_id>/artifacts/…`` a logged model, ``<exp>/…`` an
    experiment (each only when it exists). A path too long for the entity id is cut there
    and kept whole in ``after``."""
    owner: dict[str, Any] = {}
    experiment_id: str | None = None
    claimed: str | None = None
    parts = path.split("/")
    eid = decimal(parts[0], high=10**18)
    if eid is not None:
        if len(parts) > 3 and parts[2] == "artifacts" and _RUN_ID.fullmatch(parts[1]):
            found = run_store.RESOLVE.first(conn, run_uuid=parts[1])
            run = RunRow(*found) if found is not None else None
            if run is not None and run.experiment_id == eid:
                owner["run_id"], claimed = run.run_uuid, run.user_id
        elif len(parts) > 4 and parts[1] == "models" and parts[3] == "artifacts":
            model_experiment = conn.execute(
                select(logged_models.c.experiment_id).where(logged_models.c.model_id == parts[2])
            ).scalar()
            if model_experiment == eid:
                owner["model_id"] = parts[2]
        if owner or _experiment_exists(conn, eid):
            experiment_id = str(eid)
    entity_id = path[:MAX_ENTITY_ID]
    if entity_id != path:
        owner["path"] = path
    if owner:
        after = {**(after or {}), **owner}
    change = Change(
        action, EntityType.ARTIFACT, entity_id, experiment_id, None, before, after, claimed
    )
    events.record(conn, change)


def _experiment_exists(conn: Connection, experiment_id: int) -> bool:
    found = conn.execute(
        select(experiments.c.experiment_id).where(experiments.c.experiment_id == experiment_id)
    ).first()
    return found is not None
