"""Every model registry write records exactly one change event in its transaction (real
SQLite and PostgreSQL)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cairn.artifacts.uri import repository_for
from cairn.entities.errors import CairnError
from cairn.entities.events import ACTING, Actor, ActorKind, ChangeEvent, EventQuery
from cairn.services.artifacts import ArtifactService
from cairn.services.registry import RegistryService
from cairn.store import events
from cairn.store.db import Database

SRC = "mlflow-artifacts:/1/abc/artifacts/model"


@pytest.fixture
def reg(database: Database, tmp_path: Path) -> RegistryService:
    return RegistryService(database, ArtifactService(repository_for(str(tmp_path))))


def _new(database: Database, after: int) -> list[ChangeEvent]:
    return database.read(lambda c: events.search(c, EventQuery(after_id=after, ascending=True)))


def _last_id(database: Database) -> int:
    found = database.read(lambda c: events.search(c, EventQuery(limit=1)))
    return found[0].id if found else 0


def _shape(e: ChangeEvent) -> tuple[str, str, str, str | None, Any, Any]:
    return (e.action, e.entity_type, e.entity_id, e.model_name, e.before, e.after)


def test_each_registry_write_records_one_event(reg: RegistryService, database: Database) -> None:
    token = ACTING.set(Actor("alice", ActorKind.USER))
    try:
        steps: list[tuple[Any, tuple[str, str, str, str | None, Any, Any]]] = [
            (
                lambda: reg.create_model("m", "d", [("team", "qa")]),
                ("registered_model.create", "registered_model", "m", "m", None,
                 {"name": "m", "description": "d", "tags": {"team": "qa"}}),
            ),
            (
                lambda: reg.update_model("m", "d2"),
                ("registered_model.update", "registered_model", "m", "m",
                 {"description": "d"}, {"description": "d2"}),
            ),
            (
                lambda: reg.set_model_tag("m", "team", "ml"),
                ("registered_model.set_tag", "registered_model", "m", "m",
                 {"tags": {"team": "qa"}}, {"tags": {"team": "ml"}}),
            ),
            (
                lambda: reg.delete_model_tag("m", "team"),
                ("registered_model.delete_tag", "registered_model", "m", "m",
                 {"tags": {"team": "ml"}}, None),
            ),
            (
                lambda: reg.create_version("m", SRC, tags=[("k", "v")]),
                ("model_version.create", "model_version", "m/1", "m", None,
                 {"source": SRC, "run_id": None, "description": None,
                  "logged_model_id": None, "tags": {"k": "v"}}),
            ),
            (
                lambda: reg.update_version("m", 1, "v1"),
                ("model_version.update", "model_version", "m/1", "m",
                 {"description": None}, {"description": "v1"}),
            ),
            (
                lambda: reg.set_version_tag("m", 1, "k", "w"),
                ("model_version.set_tag", "model_version", "m/1", "m",
                 {"tags": {"k": "v"}}, {"tags": {"k": "w"}}),
            ),
            (
                lambda: reg.delete_version_tag("m", 1, "k"),
                ("model_version.delete_tag", "model_version", "m/1", "m",
                 {"tags": {"k": "w"}}, None),
            ),
            (
                lambda: reg.transition_stage("m", 1, "production"),
                ("model_version.transition_stage", "model_version", "m/1", "m",
                 {"stage": "None"}, {"stage": "Production"}),
            ),
            (
                lambda: reg.set_alias("m", "champion", 1),
                ("model_version.set_alias", "model_version", "m/1", "m", None,
                 {"alias": "champion", "version": 1}),
            ),
            (
                lambda: reg.rename_model("m", "n"),
                ("registered_model.rename", "registered_model", "n", "n",
                 {"name": "m"}, {"name": "n"}),
            ),
            (
                lambda: reg.delete_alias("n", "champion"),
                ("model_version.delete_alias", "model_version", "n/1", "n",
                 {"alias": "champion", "version": 1}, None),
            ),
            (
                lambda: reg.delete_version("n", 1),
                ("model_version.delete", "model_version", "n/1", "n",
                 {"stage": "Production", "source": SRC, "run_id": None}, None),
            ),
            (
                lambda: reg.delete_model("n"),
                ("registered_model.delete", "registered_model", "n", "n",
                 {"name": "n", "versions": []}, None),
            ),
        ]  # fmt: skip
        for step, expected in steps:
            before = _last_id(database)
            step()
            got = _new(database, before)
            assert [_shape(e) for e in got] == [expected]
            assert got[0].actor == "alice"
    finally:
        ACTING.reset(token)


def test_archiving_and_alias_moves(reg: RegistryService, database: Database) -> None:
    reg.create_model("m")
    for _ in range(3):
        reg.create_version("m", SRC)
    reg.transition_stage("m", 1, "Production")
    reg.transition_stage("m", 2, "Production")
    reg.set_alias("m", "champion", 1)
    before = _last_id(database)
    reg.transition_stage("m", 3, "Production", archive_existing=True)
    got = [(e.entity_id, e.before, e.after) for e in _new(database, before)]
    assert got == [
        ("m/1", {"stage": "Production"}, {"stage": "Archived"}),
        ("m/2", {"stage": "Production"}, {"stage": "Archived"}),
        ("m/3", {"stage": "None"}, {"stage": "Production"}),
    ]
    before = _last_id(database)
    reg.set_alias("m", "champion", 3)
    reg.set_alias("m", "champion", 3)  # no change, no event
    reg.set_model_tag("m", "k", "v")
    reg.set_model_tag("m", "k", "v")  # the same value, no event
    assert [_shape(e) for e in _new(database, before)] == [
        ("model_version.set_alias", "model_version", "m/3", "m",
         {"alias": "champion", "version": 1}, {"alias": "champion", "version": 3}),
        ("registered_model.set_tag", "registered_model", "m", "m", None, {"tags": {"k": "v"}}),
    ]  # fmt: skip


def test_a_failed_write_records_nothing(reg: RegistryService, database: Database) -> None:
    reg.create_model("m")
    before = _last_id(database)
    with pytest.raises(CairnError):
        reg.create_model("m")
    with pytest.raises(CairnError):
        reg.transition_stage("m", 7, "Production")
    with pytest.raises(CairnError):
        reg.set_alias("m", "champion", 9)
    assert _new(database, before) == []
