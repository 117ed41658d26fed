"""GET /api/v1/metrics/downsample over HTTP on SQLite and PostgreSQL: buckets, zoom, axes,
several runs × keys, non-finite values, and a 4xx naming the field for every bad input."""

from __future__ import annotations

import time
from typing import Any

import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from cairn.store.db import Database
from cairn.store.schema import metric_blocks
from tests.api import root_app

API = "/api/2.0/mlflow"
URL = "/api/v1/metrics/downsample"


def _run(client: TestClient, start: int) -> str:
    body = {"experiment_id": "0", "start_time": start}
    run_id: str = client.post(f"{API}/runs/create", json=body).json()["run"]["info"]["run_id"]
    return run_id


def _log(client: TestClient, run_id: str, points: list[dict[str, Any]]) -> None:
    for i in range(0, len(points), 1000):
        body = {"run_id": run_id, "metrics": points[i : i + 1000]}
        client.post(f"{API}/runs/log-batch", json=body).raise_for_status()


def _get(client: TestClient, **params: Any) -> dict[str, Any]:
    response = client.get(URL, params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_buckets_zoom_and_spike(any_client: TestClient) -> None:
    client = any_client
    run_id = _run(client, 1_000)
    points = [
        {"key": "loss", "value": 500.0 if i == 3_210 else (i % 10) / 10, "timestamp": i, "step": i}
        for i in range(5_000)
    ]
    _log(client, run_id, points)

    body = _get(client, run_id=run_id, key="loss", width=100)
    assert (body["x"], body["x_min"], body["x_max"], body["bucket_count"]) == ("step", 0, 4999, 100)
    (series,) = body["series"]
    # 50 steps a bucket: the edges snap to blocks of 16 steps (docs/api.md), so a bucket
    # holds 48 or 64 points (the last, to step 4,999: 56) and every block lies in one bucket
    assert series["count"][:5] == [48, 48, 48, 48, 64]
    assert set(series["count"]) <= {48, 56, 64}
    assert series["point_count"] == 5_000
    assert series["x_first"][:3] == [0, 48, 96]
    assert series["x_last"][:3] == [47, 95, 143]
    assert all(x % 16 == 0 for x in series["x_first"])
    assert series["min"] == [0.0] * 100
    spiky = series["x_first"].index(3_200)
    assert series["max"][spiky] == 500.0
    assert max(series["max"][:spiky] + series["max"][spiky + 1 :]) == 0.9
    assert series["mean"][0] == pytest.approx(sum((i % 10) / 10 for i in range(48)) / 48)

    # zoom into the spike: finer buckets, down to single points
    zoom = _get(client, run_id=run_id, key="loss", width=100, x_min=3_205.5, x_max=3_215)
    assert (zoom["x_min"], zoom["x_max"], zoom["bucket_count"]) == (3_206, 3_215, 10)
    (z,) = zoom["series"]
    assert z["x_first"] == list(range(3_206, 3_216))
    assert z["max"][4] == 500.0
    assert z["count"] == [1] * 10

    # only one end given: the other comes from the data
    tail = _get(client, run_id=run_id, key="loss", width=10, x_min=4_990)
    assert (tail["x_min"], tail["x_max"]) == (4_990, 4_999)


def test_runs_by_keys_and_time_axes(any_client: TestClient) -> None:
    client = any_client
    a, b = _run(client, 10_000), _run(client, 20_000)
    _log(
        client,
        a,
        [
            {"key": "acc", "value": float(i), "timestamp": 10_000 + i * 100, "step": i}
            for i in range(10)
        ],
    )
    _log(
        client,
        b,
        [
            {"key": "acc", "value": 2.0 * i, "timestamp": 20_500 + i * 100, "step": i}
            for i in range(10)
        ]
        + [{"key": "loss", "value": 1.0, "timestamp": 20_000, "step": 0}],
    )

    body = _get(client, run_id=[a, b], key=["acc", "loss"], x="relative", width=1000)
    assert [(s["run_id"], s["key"]) for s in body["series"]] == [
        (a, "acc"),
        (a, "loss"),
        (b, "acc"),
        (b, "loss"),
    ]
    assert (body["x_min"], body["x_max"]) == (0, 1_400)
    acc_a, loss_a, acc_b, loss_b = body["series"]
    assert acc_a["x_offset"] == 10_000
    assert acc_a["x_first"] == [i * 100 for i in range(10)]
    assert acc_b["x_first"] == [500 + i * 100 for i in range(10)]
    assert acc_b["max"] == [2.0 * i for i in range(10)]
    assert loss_a["count"] == []
    assert loss_a["point_count"] == 0
    assert loss_b["x_first"] == [0]

    # points logged with timestamps far from the run's start time (a replay of old logs, a
    # clock that is off): the relative axis still starts at the run's first point, not at
    # hours below zero
    c = _run(client, 10_000_000_000)
    _log(
        client,
        c,
        [{"key": "acc", "value": 1.0, "timestamp": 50_000 + i * 1_000, "step": i} for i in range(5)]
        + [{"key": "loss", "value": 1.0, "timestamp": 52_000, "step": 0}],
    )
    late = _get(client, run_id=c, key=["acc", "loss"], x="relative", width=1000)
    assert (late["x_min"], late["x_max"]) == (0, 4_000)
    acc_c, loss_c = late["series"]
    assert acc_c["x_offset"] == loss_c["x_offset"] == 50_000  # one offset per run
    assert acc_c["x_first"] == [i * 1_000 for i in range(5)]
    assert loss_c["x_first"] == [2_000]

    wall = _get(client, run_id=[a, b], key="acc", x="wall", width=2)
    assert (wall["x_min"], wall["x_max"]) == (10_000, 21_400)
    assert [s["x_offset"] for s in wall["series"]] == [0, 0]
    assert wall["series"][0]["count"] == [10]  # 10,000..10,900 all in the first half
    assert wall["series"][1]["count"] == [10]  # 20,500..21,400 all in the second
    assert wall["series"][1]["x_first"] == [20_500]

    # duplicates in the request are one series
    assert len(_get(client, run_id=[a, a], key=["acc", "acc"])["series"]) == 1


def test_nan_and_infinity(any_client: TestClient) -> None:
    client = any_client
    run_id = _run(client, 0)
    values = [1.0, "NaN", "Infinity", 3.0, "-Infinity", "Infinity"]
    _log(
        client,
        run_id,
        [{"key": "v", "value": v, "timestamp": 5, "step": i} for i, v in enumerate(values)],
    )
    (series,) = _get(client, run_id=run_id, key="v", width=1)["series"]
    assert (series["min"], series["max"], series["mean"], series["count"]) == (
        [1.0],
        [3.0],
        [2.0],
        [2],
    )
    assert (series["nan_count"], series["pos_inf_count"], series["neg_inf_count"]) == (1, 2, 1)


def test_empty_and_unknown_keys(any_client: TestClient) -> None:
    client = any_client
    run_id = _run(client, 0)
    body = _get(client, run_id=run_id, key="nothing")
    assert (body["x_min"], body["x_max"], body["bucket_count"]) == (None, None, 0)
    assert body["series"][0]["count"] == []


@pytest.mark.parametrize(
    ("params", "status", "code", "named"),
    [
        ({"key": "k"}, 400, "INVALID_PARAMETER_VALUE", "'run_id'"),
        ({"run_id": "R"}, 400, "INVALID_PARAMETER_VALUE", "'key'"),
        ({"run_id": "R", "key": "k", "width": 0}, 400, "INVALID_PARAMETER_VALUE", "'width'"),
        ({"run_id": "R", "key": "k", "width": 5001}, 400, "INVALID_PARAMETER_VALUE", "'width'"),
        ({"run_id": "R", "key": "k", "width": "wide"}, 400, "INVALID_PARAMETER_VALUE", "'width'"),
        ({"run_id": "R", "key": "k", "x": "epoch"}, 400, "INVALID_PARAMETER_VALUE", "'x'"),
        (
            {"run_id": "R", "key": "k", "x_min": 5, "x_max": 4},
            400,
            "INVALID_PARAMETER_VALUE",
            "'x_min'",
        ),
        ({"run_id": "R", "key": "k", "x_min": "soon"}, 400, "INVALID_PARAMETER_VALUE", "'x_min'"),
        ({"run_id": "R", "key": "k", "x_max": "inf"}, 400, "INVALID_PARAMETER_VALUE", "'x_max'"),
        ({"run_id": "R", "key": "k", "x_max": 1e300}, 400, "INVALID_PARAMETER_VALUE", "'x_max'"),
        (
            {"run_id": "R", "key": [f"k{i}" for i in range(101)]},
            400,
            "INVALID_PARAMETER_VALUE",
            "series",
        ),
        ({"run_id": "nope", "key": "k"}, 404, "RESOURCE_DOES_NOT_EXIST", "'run_id'"),
    ],
)
def test_bad_input_names_the_field(
    client: TestClient, params: dict[str, Any], status: int, code: str, named: str
) -> None:
    run_id = _run(client, 0)
    given = {k: (run_id if v == "R" else v) for k, v in params.items()}
    response = client.get(URL, params=given)
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error_code"] == code
    assert named in body["message"]


def test_documented_in_openapi(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    op = doc["paths"][URL]["get"]
    names = {p["name"] for p in op["parameters"]}
    assert names == {"run_id", "key", "x", "width", "x_min", "x_max"}
    assert "DownsampleOut" in doc["components"]["schemas"]


def test_halves_and_non_finite_values_over_many_buckets(any_client: TestClient) -> None:
    """Enough buckets that SQLite computes each series in two parts at once: the parts join
    seamlessly and each counts the non-finite values of its own half."""
    client = any_client
    run_id = _run(client, 0)
    odd = {20: "Infinity", 150: "NaN", 151: "NaN", 180: "-Infinity"}
    points = [
        {"key": "v", "value": odd.get(i, float(i)), "timestamp": i, "step": i} for i in range(200)
    ]
    _log(client, run_id, points)
    (series,) = _get(client, run_id=run_id, key="v", width=100)["series"]
    present = [i for i in range(100) if i != 75]  # steps 150 and 151 are both NaN
    assert series["count"] == [1 if i in (10, 90) else 2 for i in present]
    assert series["x_first"] == [2 * i + (1 if i in (10, 90) else 0) for i in present]
    assert series["x_last"] == [2 * i + 1 for i in present]
    assert series["min"] == [float(2 * i + (1 if i in (10, 90) else 0)) for i in present]
    assert series["max"] == [float(2 * i + 1) for i in present]
    assert (series["nan_count"], series["pos_inf_count"], series["neg_inf_count"]) == (2, 1, 1)
    assert series["point_count"] == 196


BATCH = "/api/v1/metrics/downsample/batch"


def test_batch_many_runs_one_request(any_client: TestClient) -> None:
    """Many runs × keys in one POST: the same buckets as asking series by series, over one
    shared window, in run-major order; a zoom window narrows them all."""
    client = any_client
    runs = [_run(client, 1_000 * i) for i in range(12)]
    for n, run_id in enumerate(runs):
        _log(
            client,
            run_id,
            [
                {"key": k, "value": float(n * 100 + i), "timestamp": i, "step": i}
                for k in ("loss", "system/cpu")
                for i in range(50 + n)
            ],
        )
    response = client.post(
        BATCH,
        json={"run_ids": [*runs, runs[0]], "keys": ["loss", "system/cpu", "nope"], "width": 20},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["x"], body["x_min"], body["x_max"]) == ("step", 0, 60)
    assert [(s["run_id"], s["key"]) for s in body["series"]] == [
        (r, k) for r in runs for k in ("loss", "system/cpu", "nope")
    ]
    single = _get(client, run_id=runs[3], key="loss", width=20, x_min=0, x_max=60)
    assert body["series"][9]["max"] == single["series"][0]["max"]
    assert body["series"][9]["point_count"] == 53
    assert body["series"][2]["count"] == []

    zoom = client.post(
        BATCH, json={"run_ids": runs, "keys": ["loss"], "width": 5, "x_min": 10, "x_max": 14}
    )
    assert zoom.status_code == 200, zoom.text
    z = zoom.json()
    assert (z["x_min"], z["x_max"], z["bucket_count"]) == (10, 14, 5)
    assert all(s["count"] == [1] * 5 for s in z["series"])


@pytest.mark.parametrize(
    ("body", "status", "named"),
    [
        ({"keys": ["k"]}, 400, "run_ids"),
        ({"run_ids": "R", "keys": ["k"]}, 400, "run_ids"),
        ({"run_ids": ["R"], "keys": []}, 400, "'keys'"),
        ({"run_ids": ["R"], "keys": [""]}, 400, "'keys'"),
        ({"run_ids": ["R"], "keys": ["k"], "width": 0}, 400, "'width'"),
        ({"run_ids": ["R"], "keys": ["k"], "width": "wide"}, 400, "width"),
        ({"run_ids": ["R"], "keys": ["k"], "x": "epoch"}, 400, "'x'"),
        ({"run_ids": ["R"], "keys": ["k"], "x_min": 5, "x_max": 4}, 400, "'x_min'"),
        ({"run_ids": ["R"], "keys": ["k"], "x_max": 1e300}, 400, "'x_max'"),
        ({"run_ids": ["R"], "keys": [f"k{i}" for i in range(51)]}, 400, "keys"),
        ({"run_ids": ["R"] * 1001, "keys": ["k"]}, 400, "run_ids"),
        ({"run_ids": ["R"], "keys": ["k"], "width": 5000, "extra": 1}, 400, "extra"),
        ({"run_ids": ["../../etc/passwd"], "keys": ["k"]}, 404, "run_id"),
        ({"run_ids": ["nope", "R"], "keys": ["k"]}, 404, "'run_id'"),
    ],
)
def test_batch_bad_input_names_the_field(
    client: TestClient, body: dict[str, Any], status: int, named: str
) -> None:
    run_id = _run(client, 0)

    def fill(v: Any) -> Any:
        if v == "R":
            return run_id
        if isinstance(v, list):
            return [fill(x) for x in v]
        return v

    response = client.post(BATCH, json={k: fill(v) for k, v in body.items()})
    assert response.status_code == status, response.text
    assert named in response.json()["message"]
    assert response.json()["error_code"]


def test_batch_bounds_series_and_buckets(client: TestClient) -> None:
    """More than 2,000 series, or series × width past the bucket bound, is a 400 naming the
    field, before anything is read."""
    runs = [_run(client, i) for i in range(41)]
    keys = [f"k{i}" for i in range(50)]
    too_many = client.post(BATCH, json={"run_ids": runs, "keys": keys})
    assert too_many.status_code == 400
    assert "series" in too_many.json()["message"]
    too_wide = client.post(BATCH, json={"run_ids": runs[:20], "keys": keys, "width": 1000})
    assert too_wide.status_code == 400
    assert "'width'" in too_wide.json()["message"]


def test_a_series_second_chart_reads_its_blocks(any_client: TestClient) -> None:
    """The first chart of a long series reads its points and has its blocks built after the
    answer; the next reads the blocks, with the same buckets; a new point makes them stale,
    and the answer shows it at once."""
    client = any_client
    run_id = _run(client, 0)
    points = [
        {"key": "m", "value": float((i * 37) % 101), "timestamp": i, "step": i}
        for i in range(4_000)
    ]
    _log(client, run_id, points)
    db: Database = root_app(client.app).state.db

    def blocks() -> int:
        q = select(func.count()).select_from(metric_blocks)
        return int(db.read(lambda c: c.execute(q).scalar_one()))

    first = _get(client, run_id=run_id, key="m", width=100)
    for _ in range(200):  # bounded: the build is one write after the answer
        if blocks():
            break
        time.sleep(0.05)
    assert blocks() == 4_000 // 16
    second = _get(client, run_id=run_id, key="m", width=100)
    (a,), (b,) = first["series"], second["series"]
    assert {k: v for k, v in a.items() if k != "mean"} == {
        k: v for k, v in b.items() if k != "mean"
    }
    assert b["mean"] == pytest.approx(a["mean"], rel=1e-12)

    # a new value at an existing step: the blocks are stale, the answer has it
    _log(client, run_id, [{"key": "m", "value": 1e9, "timestamp": 7, "step": 7}])
    third = _get(client, run_id=run_id, key="m", width=100)
    assert third["series"][0]["max"][0] == 1e9
    assert third["series"][0]["point_count"] == 4_001
