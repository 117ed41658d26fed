"""``cairn import neptune``: a Parquet set in neptune-exporter's shape (its published column
schema, project folders, ``<run>_part_<n>.parquet`` parts and a separate files folder) is
imported into a live ``cairn server`` and read back through the REST API: experiments per
project and ``sys/name``, run names, times, owner, status and fork parent, params of every
type, every metric point, string and histogram series, files, file series and file sets; a
second import writes nothing; Parquet of another shape is refused by name."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cairn.sync import SyncError
from cairn.sync.imports import run_import, verify_import
from cairn.sync.neptune import NeptuneSource, project_dir_name, run_id_for
from tests.compat.server import REPO, CairnServer
from tests.sync.builder import env_without_cairn
from tests.sync.conftest import Requests

# neptune-exporter's published Parquet schema (its README, "Parquet schema")
SCHEMA = pa.schema(
    [
        ("project_id", pa.string()),
        ("run_id", pa.string()),
        ("attribute_path", pa.string()),
        ("attribute_type", pa.string()),
        ("step", pa.decimal128(18, 6)),
        ("timestamp", pa.timestamp("ms", tz="UTC")),
        ("int_value", pa.int64()),
        ("float_value", pa.float64()),
        ("string_value", pa.string()),
        ("bool_value", pa.bool_()),
        ("datetime_value", pa.timestamp("ms", tz="UTC")),
        ("string_set_value", pa.list_(pa.string())),
        ("file_value", pa.struct([("path", pa.string())])),
        (
            "histogram_value",
            pa.struct(
                [
                    ("type", pa.string()),
                    ("edges", pa.list_(pa.float64())),
                    ("values", pa.list_(pa.float64())),
                ]
            ),
        ),
    ]
)
T0 = 1_700_000_000_000  # ms


def when(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


class RunRows:
    def __init__(self, project: str, run: str):
        self.project, self.run = project, run
        self.rows: list[dict[str, Any]] = []

    def add(self, path: str, kind: str, **values: Any) -> None:
        row: dict[str, Any] = {name: None for name in SCHEMA.names}
        row.update(project_id=self.project, run_id=self.run, attribute_path=path)
        row["attribute_type"] = kind
        row.update(values)
        self.rows.append(row)

    def write(self, folder: Path, parts: int = 1, skip_part0: bool = False) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        size = math.ceil(len(self.rows) / parts)
        safe = "".join(c if c.isalnum() or c in "_-" else "_" for c in self.run)
        for n in range(parts):
            if n == 0 and skip_part0:
                continue
            chunk = self.rows[n * size : (n + 1) * size]
            table = pa.Table.from_pylist(chunk, schema=SCHEMA)
            pq.write_table(table, folder / f"{safe}-x_part_{n}.parquet", compression="snappy")


def write_export(root: Path, project: str, points: int = 100) -> dict[str, Any]:
    data = root / "data" / project_dir_name(project)
    files = root / "files" / project_dir_name(project)
    (files / "code").mkdir(parents=True)
    (files / "code" / "train.py").write_text("print('train')\n")
    (files / "preds").mkdir()
    (files / "preds" / "1.png").write_bytes(b"\x89PNG one")
    (files / "preds" / "2.png").write_bytes(b"\x89PNG two" * 100)
    (files / "ckpt" / "sub").mkdir(parents=True)
    (files / "ckpt" / "weights.bin").write_bytes(bytes(range(256)) * 40)
    (files / "ckpt" / "sub" / "meta.json").write_text('{"epoch": 3}')

    one = RunRows(project, "VIS-1")
    one.add("sys/name", "string", string_value="baseline")
    one.add("sys/custom_run_id", "string", string_value="baseline-1")
    one.add("sys/creation_time", "datetime", datetime_value=when(T0))
    one.add("sys/modification_time", "datetime", datetime_value=when(T0 + 500_000))
    one.add("sys/owner", "string", string_value="ana")
    one.add("sys/description", "string", string_value="first try")
    one.add("sys/tags", "string_set", string_set_value=["vision", "a"])
    one.add("sys/failed", "bool", bool_value=False)
    one.add("config/lr", "float", float_value=0.001)
    one.add("config/batch", "int", int_value=32)
    one.add("config/optimizer", "string", string_value="adam")
    one.add("config/augment", "bool", bool_value=True)
    one.add("config/started", "datetime", datetime_value=when(T0))
    one.add("config/layers", "string_set", string_set_value=["conv", "bn"])
    loss = []
    for i in range(points):
        value = math.nan if i == 3 else 1.0 / (i + 1)
        one.add(
            "metrics/loss",
            "float_series",
            step=Decimal(i),
            timestamp=when(T0 + 1000 * i),
            float_value=value,
        )
        loss.append((i, T0 + 1000 * i, value))
    one.add("logs/stdout", "string_series", step=Decimal(0), timestamp=when(T0), string_value="hi")
    one.add(
        "logs/stdout", "string_series", step=Decimal(1), timestamp=when(T0 + 1), string_value="yo"
    )
    one.add(
        "weights/hist",
        "histogram_series",
        step=Decimal(2),
        timestamp=when(T0 + 2),
        histogram_value={"type": "COUNTING", "edges": [0.0, 1.0, 2.0], "values": [3.0, 4.0]},
    )
    one.add("source/code", "file", file_value={"path": "code/train.py"})
    for step in (1, 2):
        one.add(
            "images/pred",
            "file_series",
            step=Decimal(step),
            timestamp=when(T0 + step),
            file_value={"path": f"preds/{step}.png"},
        )
    one.add("model/checkpoint", "file_set", file_value={"path": "ckpt"})
    one.write(data, parts=3)

    two = RunRows(project, "VIS-2")
    two.add("sys/name", "string", string_value="baseline")
    two.add("sys/creation_time", "datetime", datetime_value=when(T0 + 600_000))
    two.add("sys/failed", "bool", bool_value=True)
    two.add("sys/forking/parent", "string", string_value="VIS-1")
    two.add("sys/forking/step", "float", float_value=50.0)
    for i in range(50, 60):
        two.add(
            "metrics/loss",
            "float_series",
            step=Decimal(i),
            timestamp=when(T0 + 600_000 + i),
            float_value=float(i),
        )
    two.write(data)

    three = RunRows(project, "VIS-3")  # a different experiment
    three.add("sys/name", "string", string_value="tuning")
    three.add("config/lr", "float", float_value=0.1)
    three.write(data)

    broken = RunRows(project, "VIS-4")  # the export stopped before part 0 was renamed
    broken.add("config/lr", "float", float_value=0.5)
    broken.add("config/lr", "float", float_value=0.5)
    broken.write(data, parts=2, skip_part0=True)
    return {"data": root / "data", "files": root / "files", "loss": loss}


def _api(http: httpx.Client, base: str, path: str, **params: Any) -> Any:
    got = http.get(f"{base}/api/2.0/mlflow/{path}", params=params)
    assert got.status_code == 200, got.text
    return got.json()


def _download(http: httpx.Client, base: str, run: dict[str, Any], rel: str) -> bytes:
    prefix = run["info"]["artifact_uri"].split(":", 1)[1].strip("/")
    got = http.get(f"{base}/api/2.0/mlflow-artifacts/artifacts/{prefix}/{rel}")
    assert got.status_code == 200, (rel, got.text)
    return got.content


def test_an_exporter_parquet_set_imports_whole(dest: CairnServer, tmp_path: Path) -> None:
    project = f"acme/vision-{uuid.uuid4().hex[:6]}"
    made = write_export(tmp_path, project)
    report = run_import(NeptuneSource(made["data"]), dest.url)
    assert report.failures == []
    assert report.runs_created == 3  # VIS-4 has no part 0
    assert report.points == 100 + 10
    assert report.artifacts == 2 + 1 + 2 + 2  # 2 series files, a file, a series, a file set

    one_id, two_id = run_id_for(project, "VIS-1"), run_id_for(project, "VIS-2")
    with httpx.Client(timeout=60) as http:
        exp = _api(http, dest.url, "experiments/get-by-name", experiment_name=f"{project}/baseline")
        assert exp["experiment"]["name"] == f"{project}/baseline"
        _api(http, dest.url, "experiments/get-by-name", experiment_name=f"{project}/tuning")
        one = _api(http, dest.url, "runs/get", run_id=one_id)["run"]
        two = _api(http, dest.url, "runs/get", run_id=two_id)["run"]
        info = one["info"]
        assert (info["run_name"], info["user_id"], info["status"]) == (
            "baseline-1",
            "ana",
            "FINISHED",
        )
        assert (info["start_time"], info["end_time"]) == (T0, T0 + 500_000)
        params = {p["key"]: p["value"] for p in one["data"]["params"]}
        assert params == {
            "config/lr": "0.001",
            "config/batch": "32",
            "config/optimizer": "adam",
            "config/augment": "True",
            "config/started": "2023-11-14T22:13:20Z",
            "config/layers": "bn,conv",
        }
        tags = {t["key"]: t["value"] for t in one["data"]["tags"]}
        assert tags["mlflow.note.content"] == "first try"
        assert tags["neptune.tags"] == "a,vision"
        assert tags["neptune.run_id"] == "VIS-1"
        history = _api(
            http, dest.url, "metrics/get-history", run_id=one_id, metric_key="metrics/loss"
        )
        got = sorted((int(m["step"]), int(m["timestamp"]), m["value"]) for m in history["metrics"])
        expected = [(s, t, "NaN" if math.isnan(v) else v) for s, t, v in made["loss"]]
        assert got == expected

        assert two["info"]["status"] == "FAILED"
        two_tags = {t["key"]: t["value"] for t in two["data"]["tags"]}
        assert two_tags["mlflow.parentRunId"] == one_id
        assert two_tags["neptune.fork_step"] == "50.0"
        assert two["info"]["run_name"] == "VIS-2"

        files = made["files"] / project_dir_name(project)
        assert _download(http, dest.url, one, "source/code/train.py") == b"print('train')\n"
        assert (
            _download(http, dest.url, one, "images/pred/step_2/2.png")
            == (files / "preds" / "2.png").read_bytes()
        )
        assert (
            _download(http, dest.url, one, "model/checkpoint/weights.bin")
            == (files / "ckpt" / "weights.bin").read_bytes()
        )
        assert _download(http, dest.url, one, "model/checkpoint/sub/meta.json") == b'{"epoch": 3}'
        stdout = _download(http, dest.url, one, "logs/stdout.txt").decode()
        assert stdout.splitlines()[1].endswith("\tyo")
        hist = json.loads(_download(http, dest.url, one, "weights/hist.jsonl"))
        assert (hist["edges"], hist["values"]) == ([0.0, 1.0, 2.0], [3.0, 4.0])

    assert verify_import(NeptuneSource(made["data"]), dest.url) == []
    seen = Requests()
    again = run_import(NeptuneSource(made["data"]), dest.url, request_hook=seen)
    assert seen.writes == 0, seen.by_path
    assert again.runs_unchanged == 3


def test_bad_input_names_the_file_and_writes_nothing(dest: CairnServer, tmp_path: Path) -> None:
    with pytest.raises(SyncError, match="is not a folder"):
        NeptuneSource(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(SyncError, match="is not a neptune-exporter data folder"):
        NeptuneSource(tmp_path / "empty")

    project = f"acme/bad-{uuid.uuid4().hex[:6]}"
    made = write_export(tmp_path / "x", project, points=5)

    def refused(match: str, **kwargs: Any) -> None:
        with pytest.raises(SyncError, match=match):
            run_import(NeptuneSource(made["data"], **kwargs), dest.url)
        with httpx.Client(timeout=60) as http:
            got = http.get(
                f"{dest.url}/api/2.0/mlflow/experiments/get-by-name",
                params={"experiment_name": f"{project}/baseline"},
            )
        assert got.status_code == 404, "something was written"

    folder = made["data"] / project_dir_name(project)
    other = folder / "other_part_0.parquet"
    pq.write_table(pa.table({"a": [1], "b": ["x"]}), other)
    refused(f"{other} is not a neptune-exporter Parquet file: it has no column\\(s\\) project_id, ")
    other.write_bytes(b"PAR1 not really")
    refused(f"{other} is not a Parquet file")
    other.unlink()

    missing = made["files"] / project_dir_name(project) / "preds" / "1.png"
    missing.unlink()
    refused(f"'images/pred': its file {missing} is missing")
    elsewhere = tmp_path / "empty"
    refused(
        f"'source/code': its file {elsewhere / 'code' / 'train.py'} is missing", files_dir=elsewhere
    )
    missing.write_bytes(b"back")

    odd = RunRows(project, "VIS-9")
    odd.add("sys/name", "string", string_value="baseline")
    odd.add("m", "float_series", step=Decimal("0.5"), timestamp=when(T0), float_value=1.0)
    odd.write(folder)
    refused("'m' has step 0.500000, not a whole number: import with --step-multiplier")
    report = run_import(NeptuneSource(made["data"], step_multiplier=1000), dest.url)
    assert report.failures == []
    with httpx.Client(timeout=60) as http:
        history = _api(
            http,
            dest.url,
            "metrics/get-history",
            run_id=run_id_for(project, "VIS-9"),
            metric_key="m",
        )["metrics"]
    assert [int(m["step"]) for m in history] == [500]


def test_the_cli_dry_run_filter_and_embedded_destination(tmp_path: Path) -> None:
    project = "acme/cli"
    made = write_export(tmp_path, project, points=10)
    env = {**env_without_cairn(), "CAIRN_HOME": str(tmp_path / "home")}
    base = [sys.executable, "-m", "cairn", "import", "neptune", str(made["data"])]

    def cli(*extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*base, *extra], cwd=REPO, env=env, capture_output=True, text=True, timeout=180
        )

    dry = cli("--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "runs created 3, updated 0, unchanged 0" in dry.stdout
    assert "metric points        20" in dry.stdout
    assert not (tmp_path / "home" / "cairn.db").exists()
    first = cli("--experiment", f"{project}/baseline", "--files", str(made["files"]), "--verify")
    assert first.returncode == 0, first.stderr
    assert "runs created 2," in first.stdout
    assert "verify: the destination matches" in first.stdout
    second = cli()
    assert second.returncode == 0, second.stderr
    assert "runs created 1, updated 0, unchanged 2" in second.stdout
    none = cli("--experiment", "absent")
    assert none.returncode == 1
    assert "no experiment named 'absent'" in none.stderr
