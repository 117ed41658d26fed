"""search_runs: order_by (incl. null/NaN placement), max_results, paging, view types, DataFrame.

Run with the stock mlflow client (2.22 or 3.x); MLFLOW_TRACKING_URI must point at the server.
"""

from __future__ import annotations

import math
import os
import time
import uuid

import mlflow
import pandas as pd
from mlflow import MlflowClient
from mlflow.entities import ViewType
from mlflow.exceptions import MlflowException

MAX_PAGES = 100
# run name -> score (None: never logged); depth params compare as strings
SCORES = {
    "r00": 0.5, "r01": None, "r02": 0.9, "r03": float("nan"), "r04": 0.1, "r05": None,
    "r06": 0.7, "r07": float("inf"), "r08": float("-inf"), "r09": 0.3, "r10": 0.9, "r11": 0.2,
}  # fmt: skip
DEPTHS = ["2", "4", "6", "8", "10", "12"]


def setup(client: MlflowClient, exp_id: str) -> dict[str, str]:
    ids = {}
    for i, (name, score) in enumerate(SCORES.items()):
        time.sleep(0.005)  # distinct start times: start_time DESC is the tie-breaker
        with mlflow.start_run(experiment_id=exp_id, run_name=name) as run:
            mlflow.log_param("depth", DEPTHS[i % len(DEPTHS)])
            mlflow.log_param("group", "even" if i % 2 == 0 else "odd")
            if score is not None:
                mlflow.log_metric("score", score)
            if i % 3 == 0:
                mlflow.set_tag("flag", f"f{i:02d}")
        ids[name] = run.info.run_id
    return ids


def ordered(client: MlflowClient, exp_id: str, order_by: list[str], **kwargs) -> list[str]:
    runs = client.search_runs([exp_id], order_by=order_by, **kwargs)
    return [r.info.run_name for r in runs]


def check_order(client: MlflowClient, exp_id: str) -> None:
    newest_first = list(SCORES)[::-1]
    assert ordered(client, exp_id, []) == newest_first, "default order is start_time DESC"
    got = ordered(client, exp_id, ["attributes.start_time ASC"])
    assert got == list(SCORES), f"start_time ASC: {got}"
    got = ordered(client, exp_id, ["start_time DESC"])
    assert got == newest_first, f"start_time DESC: {got}"

    numbers = {n: s for n, s in SCORES.items() if s is not None and not math.isnan(s)}
    tail = ["r03", "r05", "r01"]  # NaN first, then missing (ties: start_time DESC)
    # ties on score (r02/r10 = 0.9) are broken by start_time DESC
    desc = sorted(numbers, key=lambda n: (-numbers[n], -int(n[1:])))
    got = ordered(client, exp_id, ["metrics.score DESC"])
    assert got == desc + tail, f"metrics.score DESC: {got}, expected {desc + tail}"
    asc = sorted(numbers, key=lambda n: (numbers[n], -int(n[1:])))
    got = ordered(client, exp_id, ["metrics.score ASC"])
    assert got == asc + tail, f"metrics.score ASC: {got}, expected {asc + tail}"
    got = ordered(client, exp_id, ["metrics.score"])
    assert got == asc + tail, f"metrics.score (default ASC): {got}"

    # params order as strings: 8, 6, 4, 2, 12, 10
    runs = client.search_runs([exp_id], order_by=["params.depth DESC"])
    depths = [r.data.params["depth"] for r in runs]
    assert depths == sorted(depths, reverse=True), f"params.depth DESC: {depths}"
    assert depths[:2] == ["8", "8"] and depths[-2:] == ["10", "10"], depths

    # tags: missing values last in both directions
    for direction in ("ASC", "DESC"):
        runs = client.search_runs([exp_id], order_by=[f"tags.flag {direction}"])
        flags = [r.data.tags.get("flag") for r in runs]
        present = [f for f in flags if f is not None]
        assert flags[: len(present)] == present, f"tags.flag {direction}: nulls not last {flags}"
        assert present == sorted(present, reverse=direction == "DESC"), flags

    got = ordered(client, exp_id, ["attributes.run_name DESC"])
    assert got == sorted(SCORES, reverse=True), f"run_name DESC: {got}"
    got = ordered(client, exp_id, ["run_name"])
    assert got == sorted(SCORES), f"run_name: {got}"

    # several keys
    runs = client.search_runs([exp_id], order_by=["params.group ASC", "metrics.score DESC"])
    got = [r.info.run_name for r in runs]
    expected = ["r10", "r02", "r06", "r00", "r04", "r08", "r07", "r09", "r11", "r03", "r05", "r01"]
    assert got == expected, f"params.group ASC, metrics.score DESC: {got}, expected {expected}"

    for bad in (["metrics.score SIDEWAYS"], ["nosuch.key DESC"], ["attributes.nosuch"]):
        try:
            client.search_runs([exp_id], order_by=bad)
        except MlflowException as exc:
            assert exc.error_code == "INVALID_PARAMETER_VALUE", (bad, exc.error_code)
        else:
            raise AssertionError(f"invalid order_by {bad} was accepted")


def page_through(
    client: MlflowClient, exp_id: str, page_size: int, order_by: list[str], filter_string: str
) -> list[str]:
    seen: list[str] = []
    token = None
    for _ in range(MAX_PAGES):
        page = client.search_runs(
            [exp_id], filter_string=filter_string, max_results=page_size, order_by=order_by,
            page_token=token,
        )  # fmt: skip
        assert len(page) <= page_size, f"page of {len(page)} for max_results={page_size}"
        seen.extend(r.info.run_name for r in page)
        token = page.token
        if not token:
            return seen
    raise AssertionError(f"paging with max_results={page_size} did not terminate")


def check_paging(client: MlflowClient, exp_id: str) -> None:
    first = client.search_runs([exp_id], max_results=3, order_by=["metrics.score DESC"])
    assert len(first) == 3 and first.token, (len(first), first.token)
    last = client.search_runs([exp_id], max_results=len(SCORES))
    assert len(last) == len(SCORES), len(last)

    # finite sort keys first, then the same with +/-inf, NaN and missing values in the mix
    finite = "metrics.score > -1 AND metrics.score < 1"
    for filter_string in (finite, ""):
        for order_by in ([], ["metrics.score DESC"], ["metrics.score ASC"], ["params.depth"]):
            full = ordered(client, exp_id, order_by, filter_string=filter_string)
            for page_size in (1, 5, 12, 50):
                seen = page_through(client, exp_id, page_size, order_by, filter_string)
                assert seen == full, (
                    f"pages of {page_size}, order_by={order_by}, filter={filter_string!r}: "
                    f"{seen}, expected {full}"
                )

    try:
        client.search_runs([exp_id], max_results=2, page_token="not-a-token")
    except MlflowException as exc:
        assert exc.error_code == "INVALID_PARAMETER_VALUE", exc.error_code
    else:
        raise AssertionError("a garbage page_token was accepted")
    for bad in (0, 50001):
        try:
            client.search_runs([exp_id], max_results=bad)
        except MlflowException as exc:
            assert exc.error_code == "INVALID_PARAMETER_VALUE", (bad, exc.error_code)
        else:
            raise AssertionError(f"max_results={bad} was accepted")


def check_view_types(client: MlflowClient, exp_id: str, ids: dict[str, str]) -> None:
    client.delete_run(ids["r00"])
    client.delete_run(ids["r01"])
    active = ordered(client, exp_id, [], run_view_type=ViewType.ACTIVE_ONLY)
    deleted = ordered(client, exp_id, [], run_view_type=ViewType.DELETED_ONLY)
    every = ordered(client, exp_id, [], run_view_type=ViewType.ALL)
    assert sorted(deleted) == ["r00", "r01"], deleted
    assert sorted(active) == sorted(set(SCORES) - {"r00", "r01"}), active
    assert sorted(every) == sorted(SCORES), every
    frame = mlflow.search_runs([exp_id], run_view_type=ViewType.DELETED_ONLY)
    assert sorted(frame["tags.mlflow.runName"]) == ["r00", "r01"], frame
    client.restore_run(ids["r00"])
    client.restore_run(ids["r01"])


def check_dataframe(exp_id: str, ids: dict[str, str]) -> None:
    frame = mlflow.search_runs(experiment_ids=[exp_id])
    assert isinstance(frame, pd.DataFrame), type(frame)
    assert len(frame) == len(SCORES), len(frame)
    for column in (
        "run_id", "experiment_id", "status", "artifact_uri", "start_time", "end_time",
        "metrics.score", "params.depth", "params.group", "tags.flag", "tags.mlflow.runName",
    ):  # fmt: skip
        assert column in frame.columns, f"missing column {column}: {list(frame.columns)}"
    assert list(frame["run_id"]) == [ids[n] for n in list(SCORES)[::-1]], "DataFrame order"
    assert set(frame["experiment_id"]) == {exp_id}, set(frame["experiment_id"])
    assert set(frame["status"]) == {"FINISHED"}, set(frame["status"])
    by_name = frame.set_index("tags.mlflow.runName")
    assert by_name.loc["r02", "metrics.score"] == 0.9
    assert pd.isna(by_name.loc["r01", "metrics.score"]), "missing metric must be NaN"
    assert pd.isna(by_name.loc["r03", "metrics.score"]), "NaN metric must be NaN"
    assert by_name.loc["r04", "params.depth"] == "10", by_name.loc["r04", "params.depth"]
    assert pd.api.types.is_datetime64_any_dtype(frame["start_time"]), frame["start_time"].dtype

    top = mlflow.search_runs(
        [exp_id], filter_string="params.group = 'even'", order_by=["metrics.score DESC"],
        max_results=2,
    )  # fmt: skip
    assert list(top["tags.mlflow.runName"]) == ["r10", "r02"], list(top["tags.mlflow.runName"])

    runs = mlflow.search_runs([exp_id], output_format="list", max_results=4)
    assert len(runs) == 4 and all(r.info.experiment_id == exp_id for r in runs), runs

    empty = mlflow.search_runs([exp_id], filter_string="params.depth = 'none'")
    assert isinstance(empty, pd.DataFrame) and len(empty) == 0, empty


def main() -> None:
    uri = os.environ["MLFLOW_TRACKING_URI"]
    # a loopback server, or the scale-out tests' nginx over TLS in front of several
    assert uri.startswith(("http://127.0.0.1:", "https://127.0.0.1:")), f"loopback expected: {uri}"
    mlflow.set_tracking_uri(uri)
    client = MlflowClient()
    exp_id = client.create_experiment(f"compat-order-{uuid.uuid4().hex[:12]}")
    mlflow.set_experiment(experiment_id=exp_id)
    ids = setup(client, exp_id)
    check_order(client, exp_id)
    check_paging(client, exp_id)
    check_view_types(client, exp_id, ids)
    check_dataframe(exp_id, ids)
    print(f"search_runs_order_paging OK (mlflow {mlflow.__version__})")


if __name__ == "__main__":
    main()
