"""Logged models in the store and service, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from cairn.artifacts.local import LocalArtifactRepository
from cairn.entities.errors import CairnError
from cairn.services.artifacts import ArtifactService
from cairn.services.logged_models import LOG_MODEL_HISTORY_TAG, LoggedModelService
from cairn.services.tracking import TrackingService
from cairn.store.db import Database


@pytest.fixture
def models(database: Database, tmp_path: Path) -> LoggedModelService:
    repo = LocalArtifactRepository(tmp_path)
    return LoggedModelService(database, ArtifactService(repo))


def test_create_get_finalize_tags(tracking: TrackingService, models: LoggedModelService) -> None:
    eid = tracking.create_experiment("lm")
    run = tracking.create_run(eid)
    model = models.create(
        eid, "model", run.info.run_id, "sklearn", [("mlflow.user", "me")], [("alpha", 0.5)]
    )
    assert model.model_id.startswith("m-")
    assert len(model.model_id) == 34
    assert model.status == "LOGGED_MODEL_PENDING"
    assert model.artifact_uri == f"mlflow-artifacts:/{eid}/models/{model.model_id}/artifacts"
    assert model.params == {"alpha": "0.5"}
    assert model.tags == {"mlflow.user": "me"}
    ready = models.finalize(model.model_id, "LOGGED_MODEL_READY")
    assert ready.status == "LOGGED_MODEL_READY"
    verbatim = '[{"name": "m", "version": 1}, {"name": "m", "version": "1"}]'
    models.set_tags(model.model_id, [("mlflow.modelVersions", verbatim)])
    assert models.get(model.model_id).tags["mlflow.modelVersions"] == verbatim
    models.delete_tag(model.model_id, "mlflow.user")
    assert "mlflow.user" not in models.get(model.model_id).tags
    with pytest.raises(CairnError) as err:
        models.delete_tag(model.model_id, "mlflow.user")
    assert err.value.http_status == 404
    with pytest.raises(CairnError):
        models.finalize(model.model_id, "LOGGED_MODEL_PENDING")


def test_unknown_and_deleted(tracking: TrackingService, models: LoggedModelService) -> None:
    with pytest.raises(CairnError) as err:
        models.get("m-" + "0" * 32)
    assert err.value.http_status == 404
    eid = tracking.create_experiment("lm")
    model = models.create(eid, "model")
    models.delete(model.model_id)
    with pytest.raises(CairnError):
        models.get(model.model_id)
    assert models.get(model.model_id, allow_deleted=True).lifecycle_stage == "deleted"
    assert models.search([eid], "name = 'model'").items == []


def test_search_filters_order_and_pages(
    tracking: TrackingService, models: LoggedModelService
) -> None:
    eid = tracking.create_experiment("lm")
    run = tracking.create_run(eid)
    ids = []
    for i in range(5):
        m = models.create(eid, f"model{i % 2}", run.info.run_id, params=[("i", str(i))])
        ids.append(m.model_id)
        job = models.metrics_job(run.info.run_id, [(m.model_id, "acc", i / 10, 1, 0, "d", "x")])
        models.db.write(job)
    assert models.search([eid], "name = 'nothing'").items == []
    assert {m.model_id for m in models.search([eid], "name = 'model0'").items} == {
        ids[0],
        ids[2],
        ids[4],
    }
    assert [m.model_id for m in models.search([eid], "params.i = '3'").items] == [ids[3]]
    found = models.search([eid], "metrics.acc >= 0.3", [("metrics.acc", False)])
    assert [m.model_id for m in found.items] == [ids[4], ids[3]]
    assert found.items[0].metrics[0].dataset_name == "d"
    assert models.search([eid], f"source_run_id = '{run.info.run_id}'").items
    seen: list[str] = []
    token = None
    while True:
        page = models.search([eid], None, [("name", True)], 2, token)
        seen += [m.model_id for m in page.items]
        token = page.next_page_token
        if not token:
            break
    assert sorted(seen) == sorted(ids)
    assert len(seen) == 5


def test_outputs_and_nan_metric(tracking: TrackingService, models: LoggedModelService) -> None:
    eid = tracking.create_experiment("lm")
    run = tracking.create_run(eid)
    model = models.create(eid, "model", run.info.run_id)
    models.log_outputs(run.info.run_id, [(model.model_id, 3)])
    models.log_outputs(run.info.run_id, [(model.model_id, 3)])  # idempotent
    assert tracking.get_run(run.info.run_id).outputs == [(model.model_id, 3)]
    models.db.write(
        models.metrics_job(None, [(model.model_id, "loss", math.nan, 5, 0, None, None)])
    )
    (metric,) = models.get(model.model_id).metrics
    assert math.isnan(metric.value)
    assert metric.run_id is None
    with pytest.raises(CairnError):
        models.log_outputs(run.info.run_id, [("m-nope", 0)])


def test_log_model_history(tracking: TrackingService, models: LoggedModelService) -> None:
    run = tracking.create_run("0")
    rid = run.info.run_id
    doc = (
        f'{{"run_id": "{rid}", "artifact_path": "model", "utc_time_created": "t", '
        '"flavors": {"sklearn": {"pickled_model": "m.pkl", "config": {"x": 1}}}}'
    )
    models.log_model_json(rid, doc)
    models.log_model_json(rid, doc)
    history = json.loads(tracking.get_run(rid).tags[LOG_MODEL_HISTORY_TAG])
    assert len(history) == 2
    assert history[0]["flavors"] == {"sklearn": {"pickled_model": "m.pkl"}}
    with pytest.raises(CairnError):
        models.log_model_json(rid, "not json")
    with pytest.raises(CairnError):
        models.log_model_json(rid, '{"run_id": "x"}')
