"""``cairn import tensorboard``: a log directory written by tensorboardX (TF1-style simple
values and images, TF2-style 'scalars' and 'images' tensors, text, the hparams plugin) is
imported into a live ``cairn server`` and read back through the REST API: every point with
its step and wall time, the hparams as params, images (decoded again, pixel for pixel) and
text as artifacts; a second import writes nothing; a resumed training adds its points to the
same run; bad event files are refused by name with nothing written."""

from __future__ import annotations

import io
import math
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image
from tensorboardX import SummaryWriter
from tensorboardX.proto.summary_pb2 import Summary, SummaryMetadata
from tensorboardX.proto.tensor_pb2 import TensorProto
from tensorboardX.proto.tensor_shape_pb2 import TensorShapeProto

from cairn.sync import SyncError
from cairn.sync.imports import run_import, verify_import
from cairn.sync.tensorboard import TensorBoardSource
from tests.compat.server import REPO, CairnServer
from tests.sync.builder import env_without_cairn
from tests.sync.conftest import Requests

T0 = 1_700_000_000.0  # wall time of the first event written by the tests (seconds)


def ms(seconds: float) -> int:
    return int(round(seconds * 1000))


@dataclass
class Logdir:
    root: Path
    # run path -> metric key -> sorted (step, timestamp ms, value)
    points: dict[str, dict[str, list[tuple[int, int, float]]]] = field(default_factory=dict)
    image: Any = None  # the HWC uint8 pixels of 'samples' at step 3
    tensor_images: list[Any] = field(default_factory=list)


def _tensor_value(tag: str, plugin: str, tensor: TensorProto) -> Summary:
    meta = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(plugin_name=plugin))
    return Summary(value=[Summary.Value(tag=tag, metadata=meta, tensor=tensor)])


def _png(pixels: Any) -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG")
    return out.getvalue()


def write_logdir(root: Path, points: int = 50) -> Logdir:
    """Two runs (``train``, ``eval/b``) and the hparams session tensorboardX writes into a
    sub folder of ``train`` (``train/hp``)."""
    info = Logdir(root)
    rng = np.random.default_rng(7)
    train: dict[str, list[tuple[int, int, float]]] = {"loss": [], "tf2/acc": []}
    with SummaryWriter(str(root / "train")) as w:
        for i in range(points):
            value = math.nan if i == 7 else round(1.0 / (i + 1), 5)
            w.add_scalar("loss", value, i, walltime=T0 + i)
            train["loss"].append((i, ms(T0 + i), value))
        for i in range(0, points, 10):  # TF2 writers: a float tensor, plugin 'scalars'
            tensor = TensorProto(dtype=1, float_val=[i * 0.5], tensor_shape=TensorShapeProto())
            w.file_writer.add_summary(
                _tensor_value("tf2/acc", "scalars", tensor), i, walltime=T0 + i + 0.25
            )
            train["tf2/acc"].append((i, ms(T0 + i + 0.25), i * 0.5))
        pixels = rng.integers(0, 255, size=(3, 8, 12), dtype=np.uint8)
        w.add_image("samples", pixels, 3, walltime=T0 + 3)
        info.image = pixels.transpose(1, 2, 0)
        two = [rng.integers(0, 255, size=(4, 4, 3), dtype=np.uint8) for _ in range(2)]
        info.tensor_images = two
        strings = [b"4", b"4", _png(two[0]), _png(two[1])]
        shape = TensorShapeProto(dim=[TensorShapeProto.Dim(size=len(strings))])
        tensor = TensorProto(dtype=7, string_val=strings, tensor_shape=shape)
        w.file_writer.add_summary(_tensor_value("grid", "images", tensor), 4, walltime=T0 + 4)
        w.add_text("notes", "hello **world**", 5, walltime=T0 + 5)
        w.add_histogram("weights", rng.normal(size=100), 1, walltime=T0 + 1)
        w.add_hparams(
            {"lr": 0.1, "batch": 32, "optimizer": "adam", "nesterov": True},
            {"hparam/final": 0.9},
            name="hp",
            global_step=points,
        )
    info.points["train"] = train
    evals: dict[str, list[tuple[int, int, float]]] = {"acc (top-1)": []}
    with SummaryWriter(str(root / "eval" / "b")) as w:
        for i in range(points):
            # tensorboardX cleans tags itself; other writers (TF2) keep characters like these
            raw = Summary(value=[Summary.Value(tag="acc (top-1)", simple_value=i / points)])
            w.file_writer.add_summary(raw, i, walltime=T0 + 100 + i)
            evals["acc (top-1)"].append((i, ms(T0 + 100 + i), i / points))
    info.points["eval/b"] = evals
    return info


def _get(http: httpx.Client, url: str, **params: Any) -> Any:
    got = http.get(url, params=params)
    assert got.status_code == 200, got.text
    return got.json()


def _runs(http: httpx.Client, base: str, name: str) -> dict[str, dict[str, Any]]:
    api = f"{base}/api/2.0/mlflow"
    exp = _get(http, f"{api}/experiments/get-by-name", experiment_name=name)["experiment"]
    found = http.post(
        f"{api}/runs/search", json={"experiment_ids": [exp["experiment_id"]], "max_results": 100}
    ).json()
    return {r["info"]["run_name"]: r for r in found.get("runs", [])}


def _history(http: httpx.Client, base: str, rid: str, key: str) -> list[tuple[int, int, float]]:
    got = _get(http, f"{base}/api/2.0/mlflow/metrics/get-history", run_id=rid, metric_key=key)
    out = []
    for m in got["metrics"]:
        value = math.nan if m["value"] == "NaN" else float(m["value"])
        out.append((int(m["step"]), int(m["timestamp"]), value))
    return sorted(out)


def _download(http: httpx.Client, base: str, run: dict[str, Any], rel: str) -> bytes:
    prefix = run["info"]["artifact_uri"].split(":", 1)[1].strip("/")
    got = http.get(f"{base}/api/2.0/mlflow-artifacts/artifacts/{prefix}/{rel}")
    assert got.status_code == 200, (rel, got.text)
    return got.content


def _same(a: list[tuple[int, int, float]], b: list[tuple[int, int, float]]) -> bool:
    return len(a) == len(b) and all(
        x[:2] == y[:2] and (x[2] == y[2] or (math.isnan(x[2]) and math.isnan(y[2])))
        for x, y in zip(a, b, strict=True)
    )


def test_a_logdir_written_by_tensorboardx_imports_whole(dest: CairnServer, tmp_path: Path) -> None:
    name = f"tb-{uuid.uuid4().hex[:6]}"
    info = write_logdir(tmp_path / "logs")
    report = run_import(TensorBoardSource(info.root, experiment_name=name), dest.url)
    assert report.failures == []
    assert report.runs_created == 3  # train, train/hp (tensorboardX's hparams session), eval/b
    assert report.points == 50 + 5 + 1 + 50
    assert report.artifacts == 4  # one image, two in the TF2 image tensor, one text

    with httpx.Client(timeout=60) as http:
        runs = _runs(http, dest.url, name)
        assert set(runs) == {"train", "train/hp", "eval/b"}
        train, hp, evals = runs["train"], runs["train/hp"], runs["eval/b"]
        assert train["info"]["status"] == "FINISHED"
        assert train["info"]["start_time"] <= ms(T0)
        assert train["info"]["end_time"] >= ms(T0 + 49)
        rid = train["info"]["run_id"]
        assert _same(_history(http, dest.url, rid, "loss"), info.points["train"]["loss"])
        assert _same(_history(http, dest.url, rid, "tf2/acc"), info.points["train"]["tf2/acc"])
        # 'acc (top-1)' has characters MLflow's names do not allow
        got = _history(http, dest.url, evals["info"]["run_id"], "acc _top-1_")
        assert _same(got, info.points["eval/b"]["acc (top-1)"])
        assert {m["key"] for m in train["data"]["metrics"]} == {"loss", "tf2/acc"}  # no histogram
        params = {p["key"]: p["value"] for p in hp["data"].get("params", [])}
        assert params == {"lr": "0.1", "batch": "32", "optimizer": "adam", "nesterov": "True"}
        hp_history = _history(http, dest.url, hp["info"]["run_id"], "hparam/final")
        assert [(s, v) for s, _, v in hp_history] == [(50, pytest.approx(0.9))]
        tags = {t["key"]: t["value"] for t in train["data"]["tags"]}
        assert tags["tensorboard.run"] == "train"

        image = Image.open(
            io.BytesIO(_download(http, dest.url, train, "images/samples/step_3.png"))
        )
        assert np.array_equal(np.asarray(image), info.image)
        for i, pixels in enumerate(info.tensor_images):
            blob = _download(http, dest.url, train, f"images/grid/step_4_{i}.png")
            assert np.array_equal(np.asarray(Image.open(io.BytesIO(blob))), pixels)
        text = _download(http, dest.url, train, "text/notes/text_summary/step_5.txt")
        assert text.decode() == "hello **world**"

    assert verify_import(TensorBoardSource(info.root, experiment_name=name), dest.url) == []
    seen = Requests()
    again = run_import(
        TensorBoardSource(info.root, experiment_name=name), dest.url, request_hook=seen
    )
    assert seen.writes == 0, seen.by_path
    assert again.runs_unchanged == 3


def test_resumed_training_adds_to_the_same_run(dest: CairnServer, tmp_path: Path) -> None:
    """A training restarted in the same folder writes a second event file: its points join
    the run imported before, and only they are sent."""
    name = f"tb-resume-{uuid.uuid4().hex[:6]}"
    root = tmp_path / "logs"
    with SummaryWriter(str(root / "run")) as w:
        for i in range(30):
            w.add_scalar("loss", float(i), i, walltime=T0 + i)
    first = run_import(TensorBoardSource(root, experiment_name=name), dest.url)
    assert (first.runs_created, first.points) == (1, 30)
    # a later process: a new file (named by the second it started in, and its host and pid)
    with SummaryWriter(str(root / "run"), filename_suffix=".2") as w:
        for i in range(30, 45):
            w.add_scalar("loss", float(i), i, walltime=T0 + i)
    assert len(list((root / "run").iterdir())) == 2
    seen = Requests()
    second = run_import(TensorBoardSource(root, experiment_name=name), dest.url, request_hook=seen)
    assert (second.runs_created, second.runs_updated, second.points) == (0, 1, 15)
    assert seen.metric_points == 15
    with httpx.Client(timeout=60) as http:
        runs = _runs(http, dest.url, name)
        assert list(runs) == ["run"]
        got = _history(http, dest.url, runs["run"]["info"]["run_id"], "loss")
    assert got == [(i, ms(T0 + i), float(i)) for i in range(45)]
    assert verify_import(TensorBoardSource(root, experiment_name=name), dest.url) == []


def test_two_logdirs_with_the_same_file_names_are_two_sets_of_runs(
    dest: CairnServer, tmp_path: Path
) -> None:
    """Event files are named by second, host and pid: one process writing two log
    directories within a second names their files alike. Each still imports as its own
    runs (the first record, stamped to the microsecond, tells them apart)."""
    first = write_logdir(tmp_path / "a", points=5)
    second = write_logdir(tmp_path / "b", points=6)
    for run in ("train", "eval/b"):  # the same names, as if written in the same second
        (mine,) = sorted((second.root / run).glob("events.out.tfevents.*"))
        (theirs,) = sorted((first.root / run).glob("events.out.tfevents.*"))
        mine.rename(mine.with_name(theirs.name))
    names = [f"tb-twins-{uuid.uuid4().hex[:6]}" for _ in range(2)]
    for info, name in zip((first, second), names, strict=True):
        report = run_import(TensorBoardSource(info.root, experiment_name=name), dest.url)
        assert report.runs_created >= 2, report
    with httpx.Client(timeout=60) as http:
        for name, points in zip(names, (5, 6), strict=True):
            runs = _runs(http, dest.url, name)
            assert {"train", "eval/b"} <= set(runs), (name, sorted(runs))
            rid = runs["train"]["info"]["run_id"]
            assert len(_history(http, dest.url, rid, "loss")) == points


def test_verify_names_a_difference(dest: CairnServer, tmp_path: Path) -> None:
    name = f"tb-verify-{uuid.uuid4().hex[:6]}"
    info = write_logdir(tmp_path / "logs", points=20)
    run_import(TensorBoardSource(info.root, experiment_name=name), dest.url)
    with httpx.Client(timeout=60) as http:
        train = _runs(http, dest.url, name)["train"]
        rid = train["info"]["run_id"]
        http.post(
            f"{dest.url}/api/2.0/mlflow/runs/log-metric",
            json={"run_id": rid, "key": "loss", "value": 9.0, "timestamp": 1, "step": 999},
        ).raise_for_status()
        prefix = train["info"]["artifact_uri"].split(":", 1)[1].strip("/")
        http.put(
            f"{dest.url}/api/2.0/mlflow-artifacts/artifacts/{prefix}/text/notes/text_summary/"
            "step_5.txt",
            content=b"changed",
        ).raise_for_status()
    found = verify_import(TensorBoardSource(info.root, experiment_name=name), dest.url)
    text = "\n".join(found)
    assert f"run {rid}: metric 'loss' has 21 distinct point(s) on the destination, 20" in text
    assert f"run {rid}: artifact 'text/notes/text_summary/step_5.txt' is 7 bytes" in text
    assert len(found) == 2, found


def test_bad_input_names_the_file_and_writes_nothing(dest: CairnServer, tmp_path: Path) -> None:
    with pytest.raises(SyncError, match="is not a folder"):
        TensorBoardSource(tmp_path / "nowhere")
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    (tmp_path / "empty" / "sub" / "notes.txt").write_text("no events here")
    with pytest.raises(SyncError, match="is not a TensorBoard log directory: no folder"):
        TensorBoardSource(tmp_path / "empty")

    name = f"tb-bad-{uuid.uuid4().hex[:6]}"
    info = write_logdir(tmp_path / "logs", points=20)
    event = sorted((info.root / "eval" / "b").iterdir())[0]
    good = event.read_bytes()

    def refused(match: str) -> None:
        with pytest.raises(SyncError, match=match):
            run_import(TensorBoardSource(info.root, experiment_name=name), dest.url)
        with httpx.Client(timeout=60) as http:
            got = http.get(
                f"{dest.url}/api/2.0/mlflow/experiments/get-by-name",
                params={"experiment_name": name},
            )
        assert got.status_code == 404, "something was written"

    middle = len(good) // 2
    event.write_bytes(good[:middle] + bytes([good[middle] ^ 0xFF]) + good[middle + 1 :])
    refused(f"{event}: (corrupt|not a valid) event file \\(the record at byte \\d+ fails")
    event.write_bytes(good[:-3])
    refused(f"{event}: not a complete event file \\(the record at byte \\d+ is cut short")
    event.write_bytes(b"PK\x03\x04 this is a zip file, not TensorBoard's" * 5)
    refused(f"{event}: not a valid event file")
    event.write_bytes(good)
    with pytest.raises(SyncError, match="no experiment named 'other'"):
        run_import(
            TensorBoardSource(info.root, experiment_name=name, experiments=["other"]), dest.url
        )


def test_the_cli_dry_run_and_embedded_destination(tmp_path: Path) -> None:
    info = write_logdir(tmp_path / "logs", points=10)
    env = {**env_without_cairn(), "CAIRN_HOME": str(tmp_path / "home")}
    base = [sys.executable, "-m", "cairn", "import", "tensorboard", str(info.root)]

    def cli(*extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*base, *extra], cwd=REPO, env=env, capture_output=True, text=True, timeout=180
        )

    dry = cli("--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "runs created 3, updated 0, unchanged 0" in dry.stdout
    assert "metric points        22" in dry.stdout  # 10 loss, 1 tf2/acc, 1 hparam, 10 eval
    assert not (tmp_path / "home" / "cairn.db").exists()
    first = cli("--experiment-name", "vision", "--verify")
    assert first.returncode == 0, first.stderr
    assert "runs created 3" in first.stdout
    assert "verify: the destination matches" in first.stdout
    second = cli("--experiment-name", "vision")
    assert second.returncode == 0, second.stderr
    assert "runs created 0, updated 0, unchanged 3" in second.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "cairn", "import", "tensorboard", str(tmp_path / "home")],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert bad.returncode == 1
    assert "is not a TensorBoard log directory" in bad.stderr
