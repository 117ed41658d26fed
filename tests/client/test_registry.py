"""cairn.Client registry calls, and models:/ + runs:/ resolution, on every target."""

from __future__ import annotations

from pathlib import Path

import pytest

import cairn
from cairn.client.models import download_model


def _model_run(experiment_name: str, tmp_path: Path, marker: str) -> str:
    """A run with a folder ``model`` holding an MLmodel file (its content marks the run)."""
    cairn.set_experiment(experiment_name)
    folder = tmp_path / marker
    folder.mkdir()
    (folder / "MLmodel").write_text(f"marker: {marker}\n")
    (folder / "model.pkl").write_bytes(marker.encode())
    with cairn.start_run() as run:
        cairn.log_artifacts(folder, artifact_path="model")
    return run.info.run_id


def test_registry_calls(tracking_uri: str, experiment_name: str, tmp_path: Path) -> None:
    cairn.set_tracking_uri(tracking_uri)
    client = cairn.Client()
    name = f"{experiment_name}-model"
    run1 = _model_run(experiment_name, tmp_path, "one")
    run2 = _model_run(experiment_name, tmp_path, "two")

    created = client.create_registered_model(name, tags={"team": "lims"}, description="d0")
    assert (created.name, created.tags, created.description) == (name, {"team": "lims"}, "d0")
    with pytest.raises(cairn.CairnRestError) as info:
        client.create_registered_model(name)
    assert info.value.error_code == "RESOURCE_ALREADY_EXISTS"
    v1 = client.register_model(f"runs:/{run1}/model", name)
    v2 = client.register_model(f"runs:/{run2}/model", name, tags={"k": "v"})
    assert (v1.version, v2.version) == ("1", "2")
    assert v2.run_id == run2
    assert v2.tags == {"k": "v"}

    moved = client.transition_model_version_stage(name, 1, "Production")
    assert moved.current_stage == "Production"
    client.transition_model_version_stage(name, 2, "Production", archive_existing_versions=True)
    assert client.get_model_version(name, 1).current_stage == "Archived"
    latest = client.get_latest_versions(name, ["Production"])
    assert [v.version for v in latest] == ["2"]

    client.set_registered_model_alias(name, "champion", 1)
    client.set_registered_model_alias(name, "challenger", "2")
    assert client.get_model_version_by_alias(name, "champion").version == "1"
    client.delete_registered_model_alias(name, "challenger")
    assert client.get_registered_model(name).aliases == {"champion": "1"}
    with pytest.raises(cairn.CairnRestError):
        client.get_model_version_by_alias(name, "challenger")

    client.set_model_version_tag(name, 1, "validated", "yes")
    client.set_registered_model_tag(name, "owner", "ana")
    client.update_model_version(name, 1, description="first")
    client.update_registered_model(name, description="the model")
    got = client.get_registered_model(name)
    assert got.tags == {"team": "lims", "owner": "ana"}
    assert got.description == "the model"
    one = client.get_model_version(name, "1")
    assert (one.tags, one.description, one.aliases) == ({"validated": "yes"}, "first", ["champion"])

    assert [m.name for m in client.search_registered_models(f"name = '{name}'")] == [name]
    versions = client.search_model_versions(f"name = '{name}'", order_by=["version_number DESC"])
    assert [v.version for v in versions] == ["2", "1"]
    assert client.get_model_version_download_uri(name, 2).endswith(f"{run2}/artifacts/model")

    for uri, marker in [
        (f"models:/{name}/1", "one"),
        (f"models:/{name}/Production", "two"),
        (f"models:/{name}/production", "two"),
        (f"models:/{name}/Archived", "one"),
        (f"models:/{name}/latest", "two"),
        (f"models:/{name}@champion", "one"),
        (f"runs:/{run1}/model", "one"),
    ]:
        folder = download_model(client, uri, tmp_path / uri.replace("/", "_").replace(":", ""))
        assert (folder / "MLmodel").read_text() == f"marker: {marker}\n", uri
        assert (folder / "model.pkl").read_bytes() == marker.encode(), uri
    local = download_model(client, str(tmp_path / "one"), tmp_path / "unused")
    assert local == tmp_path / "one"
    with pytest.raises(cairn.CairnUsageError, match="not a version number"):
        download_model(client, f"models:/{name}/Nope", tmp_path / "x")
    with pytest.raises(cairn.CairnUsageError, match="no version"):
        download_model(client, f"models:/{name}/Staging", tmp_path / "y")

    client.delete_model_version(name, 1)
    assert [v.version for v in client.search_model_versions(f"name = '{name}'")] == ["2"]
    client.rename_registered_model(name, name + "-new")
    client.delete_registered_model(name + "-new")
    assert client.search_registered_models(f"name = '{name}-new'") == []


def test_experiments_and_low_level_calls(tracking_uri: str, experiment_name: str) -> None:
    client = cairn.Client(tracking_uri)
    assert client.get_experiment_by_name(experiment_name) is None
    exp_id = client.create_experiment(experiment_name, tags={"a": "b"})
    experiment = client.get_experiment(exp_id)
    assert (experiment.name, experiment.tags) == (experiment_name, {"a": "b"})
    client.set_experiment_tag(exp_id, "c", 1)
    found = client.get_experiment_by_name(experiment_name)
    assert found is not None
    assert found.tags == {"a": "b", "c": "1"}
    names = [e.name for e in client.search_experiments(f"name = '{experiment_name}'")]
    assert names == [experiment_name]
    run = client.create_run(exp_id, run_name="low", tags={"x": "1"})
    assert run.info.run_name == "low"
    client.log_batch(
        run.info.run_id,
        metrics=[cairn.Metric("m", float(i), 1000 + i, i) for i in range(2100)],
        params={f"p{i}": i for i in range(150)},
        tags={f"t{i}": i for i in range(120)},
    )
    client.log_metric(run.info.run_id, "single", 3.5, step=7)
    client.log_param(run.info.run_id, "solo", "s")
    client.set_tag(run.info.run_id, "gone", "1")
    client.delete_tag(run.info.run_id, "gone")
    client.set_terminated(run.info.run_id, "KILLED")
    got = client.get_run(run.info.run_id)
    assert got.info.status == "KILLED"
    assert len(got.data.params) == 151
    assert len([t for t in got.data.tags if t.startswith("t")]) == 120
    assert "gone" not in got.data.tags
    assert len(client.get_metric_history(run.info.run_id, "m")) == 2100
    assert got.data.metrics["single"] == 3.5
    runs = client.search_runs([exp_id], "params.p3 = '3'")
    assert [r.info.run_id for r in runs] == [run.info.run_id]
    client.delete_run(run.info.run_id)
    assert client.search_runs([exp_id]) == []
    assert len(client.search_runs([exp_id], run_view_type="DELETED_ONLY")) == 1
