"""The fluent API end to end against a live server (SQLite, PostgreSQL) and embedded."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from PIL import Image

import cairn


def test_round_trip(tracking_uri: str, experiment_name: str, tmp_path: Path) -> None:
    cairn.set_tracking_uri(tracking_uri)
    experiment = cairn.set_experiment(experiment_name)
    with cairn.start_run(run_name="parent", tags={"team": "lims"}, description="notes") as run:
        assert cairn.active_run() is run
        cairn.log_param("lr", 0.1)
        cairn.log_param("lr", 0.1)  # the same value again is fine
        cairn.log_params({"depth": 8, "kind": "rf"})
        for step in range(2500):
            cairn.log_metric("loss", 1.0 / (step + 1), step=step)
        cairn.log_metrics({"acc": 0.9, "f1": math.nan}, step=3)
        cairn.log_metric("big", math.inf, step=1, timestamp=1_700_000_000_000)
        cairn.set_tag("stage", "dev")
        cairn.set_tags({"stage": "prod", "owner": "ana"})  # the last value wins
        with cairn.start_run(run_name="child", nested=True) as child:
            cairn.log_metric("child_metric", 2.0)
        assert cairn.active_run() is run
    assert cairn.active_run() is None

    client = cairn.Client()
    got = client.get_run(run.info.run_id)
    assert got.info.status == "FINISHED"
    assert got.info.experiment_id == experiment.experiment_id
    assert got.info.run_name == "parent"
    assert got.data.params == {"lr": "0.1", "depth": "8", "kind": "rf"}
    assert got.data.tags["team"] == "lims"
    assert got.data.tags["stage"] == "prod"
    assert got.data.tags["owner"] == "ana"
    assert got.data.tags["mlflow.note.content"] == "notes"
    assert got.data.metrics["acc"] == 0.9
    assert math.isnan(got.data.metrics["f1"])
    assert got.data.metrics["big"] == math.inf
    history = client.get_metric_history(run.info.run_id, "loss")
    assert [m.step for m in history] == list(range(2500))
    assert history[9].value == pytest.approx(0.1)
    big = client.get_metric_history(run.info.run_id, "big")
    assert [(m.timestamp, m.step) for m in big] == [(1_700_000_000_000, 1)]

    child_run = client.get_run(child.info.run_id)
    assert child_run.data.tags["mlflow.parentRunId"] == run.info.run_id
    assert child_run.data.metrics == {"child_metric": 2.0}
    assert child_run.info.status == "FINISHED"


def test_failed_block_marks_run_failed(tracking_uri: str, experiment_name: str) -> None:
    cairn.set_tracking_uri(tracking_uri)
    cairn.set_experiment(experiment_name)
    run = cairn.start_run()

    def fail_inside_run() -> None:
        with run:
            cairn.log_metric("x", 1)
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        fail_inside_run()
    got = cairn.Client().get_run(run.info.run_id)
    assert got.info.status == "FAILED"
    assert got.data.metrics == {"x": 1.0}


def test_usage_errors(tracking_uri: str, experiment_name: str) -> None:
    cairn.set_tracking_uri(tracking_uri)
    cairn.set_experiment(experiment_name)
    with cairn.start_run():
        cairn.log_param("p", "a")
        with pytest.raises(cairn.CairnUsageError, match="params cannot change"):
            cairn.log_param("p", "b")
        with pytest.raises(cairn.CairnUsageError, match="already active"):
            cairn.start_run()
        with pytest.raises(cairn.CairnUsageError, match="must be a number"):
            cairn.log_metric("m", "high")  # type: ignore[arg-type]
    with pytest.raises(cairn.CairnRestError) as info:
        cairn.Client().get_run("0" * 32)
    assert info.value.status == 404
    assert info.value.error_code == "RESOURCE_DOES_NOT_EXIST"


def test_artifacts(tracking_uri: str, experiment_name: str, tmp_path: Path) -> None:
    cairn.set_tracking_uri(tracking_uri)
    cairn.set_experiment(experiment_name)
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "a.txt").write_text("alpha")
    (src / "sub" / "b.bin").write_bytes(bytes(range(256)))
    fig = Figure()
    fig.add_subplot().plot([1, 2, 3], [3, 1, 2])
    with cairn.start_run() as run:
        cairn.log_artifact(src / "a.txt")
        cairn.log_artifact(src / "a.txt", artifact_path="copies")
        cairn.log_artifacts(src, artifact_path="tree")
        cairn.log_text("hello ✓", "notes/readme.md")
        cairn.log_dict({"a": [1, 2], "b": {"c": True}}, "config.json")
        cairn.log_dict({"a": 1}, "config.yaml")
        cairn.log_figure(fig, "plots/curve.png")
        cairn.log_image(np.arange(48, dtype=np.uint8).reshape(4, 4, 3), "img/int.png")
        cairn.log_image(np.linspace(0, 1, 16).reshape(4, 4), "img/float.png")
        cairn.log_image(Image.new("RGB", (3, 2), (255, 0, 0)), "img/pil.png")
        cairn.log_table({"x": [1, 2], "y": ["a", "b"]}, "tables/t.json")
        cairn.log_table(pd.DataFrame({"p": [0.5, 0.25], "q": [1, 2]}), "tables/df.json")
        with pytest.raises(cairn.CairnUsageError, match="H×W"):
            cairn.log_image(np.zeros((2, 2, 5)), "img/bad.png")

    client = cairn.Client()
    top = {f.path: f.is_dir for f in client.list_artifacts(run.info.run_id)}
    assert top == {
        "a.txt": False,
        "copies": True,
        "tree": True,
        "notes": True,
        "config.json": False,
        "config.yaml": False,
        "plots": True,
        "img": True,
        "tables": True,
    }
    out = Path(client.download_artifacts(run.info.run_id, "", tmp_path / "out"))
    assert (out / "copies" / "a.txt").read_text() == "alpha"
    assert (out / "tree" / "sub" / "b.bin").read_bytes() == bytes(range(256))
    assert (out / "notes" / "readme.md").read_text(encoding="utf-8") == "hello ✓"
    assert json.loads((out / "config.json").read_text()) == {"a": [1, 2], "b": {"c": True}}
    assert (out / "config.yaml").read_text() == "a: 1\n"
    assert (out / "plots" / "curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(out / "img" / "int.png") as im:
        assert (im.size, im.mode) == ((4, 4), "RGB")
        assert im.getpixel((1, 0)) == (3, 4, 5)
    with Image.open(out / "img" / "float.png") as im:
        assert (im.mode, im.getpixel((3, 3))) == ("L", 255)
    with Image.open(out / "img" / "pil.png") as im:
        assert im.getpixel((0, 0)) == (255, 0, 0)
    table = json.loads((out / "tables" / "t.json").read_text())
    assert table == {"columns": ["x", "y"], "data": [[1, "a"], [2, "b"]]}
    frame = json.loads((out / "tables" / "df.json").read_text())
    assert frame == {"columns": ["p", "q"], "data": [[0.5, 1], [0.25, 2]]}
    logged = json.loads(client.get_run(run.info.run_id).data.tags["mlflow.loggedArtifacts"])
    assert logged == [
        {"path": "tables/t.json", "type": "table"},
        {"path": "tables/df.json", "type": "table"},
    ]
    one = client.download_artifacts(run.info.run_id, "tree/sub/b.bin", tmp_path / "one")
    assert Path(one).read_bytes() == bytes(range(256))


def test_search_runs(tracking_uri: str, experiment_name: str) -> None:
    cairn.set_tracking_uri(tracking_uri)
    experiment = cairn.set_experiment(experiment_name)
    for depth in (2, 4, 8):
        with cairn.start_run(run_name=f"d{depth}"):
            cairn.log_param("depth", depth)
            cairn.log_metric("f1", depth / 10)
    runs = cairn.search_runs(filter_string="metrics.f1 > 0.3", output_format="list")
    assert sorted(r.data.params["depth"] for r in runs) == ["4", "8"]
    assert all(isinstance(r, cairn.Run) for r in runs)
    frame = cairn.search_runs(order_by=["metrics.f1 DESC"])
    assert isinstance(frame, pd.DataFrame)
    assert list(frame["params.depth"]) == ["8", "4", "2"]
    assert list(frame["metrics.f1"]) == [0.8, 0.4, 0.2]
    assert set(frame["experiment_id"]) == {experiment.experiment_id}
    assert frame["start_time"].dt.tz is not None
    by_name = cairn.search_runs(experiment_names=[experiment_name], output_format="list")
    assert len(by_name) == 3
    none = cairn.search_runs(filter_string="params.depth = '99'")
    assert isinstance(none, pd.DataFrame)
    assert len(none) == 0
    assert "run_id" in none.columns
    with pytest.raises(cairn.CairnRestError) as info:
        cairn.search_runs(filter_string="metrics.f1 >>> 2")
    assert info.value.status == 400


def test_resume_run(tracking_uri: str, experiment_name: str) -> None:
    cairn.set_tracking_uri(tracking_uri)
    cairn.set_experiment(experiment_name)
    with cairn.start_run() as first:
        cairn.log_metric("m", 1, step=0)
    with cairn.start_run(run_id=first.info.run_id, tags={"resumed": "yes"}) as again:
        assert again.info.status == "RUNNING"
        cairn.log_metric("m", 2, step=1)
    client = cairn.Client()
    got = client.get_run(first.info.run_id)
    assert got.info.status == "FINISHED"
    assert got.data.tags["resumed"] == "yes"
    assert [m.value for m in client.get_metric_history(first.info.run_id, "m")] == [1.0, 2.0]


def test_large_artifact_is_streamed_both_ways(
    tracking_uri: str, experiment_name: str, tmp_path: Path
) -> None:
    cairn.set_tracking_uri(tracking_uri)
    cairn.set_experiment(experiment_name)
    blob = tmp_path / "weights.bin"
    data = np.random.default_rng(1).bytes(12 * 1024 * 1024)
    blob.write_bytes(data)
    with cairn.start_run() as run:
        cairn.log_artifact(blob, artifact_path="ckpt")
    client = cairn.Client()
    (info,) = client.list_artifacts(run.info.run_id, "ckpt")
    assert (info.path, info.file_size) == ("ckpt/weights.bin", len(data))
    got = client.download_artifacts(run.info.run_id, "ckpt/weights.bin", tmp_path / "dl")
    assert Path(got).read_bytes() == data
