"""Run values: NaN/inf, float edge cases, long values, param immutability, key validation.

Run with the stock mlflow client (2.22 or 3.x); MLFLOW_TRACKING_URI must point at the server.
Cairn returns +/-inf as infinity, MLflow as +/-1.7976931348623157e308: both are accepted.
"""

from __future__ import annotations

import math
import os
import sys
import time
import uuid

import mlflow
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag
from mlflow.exceptions import MlflowException

MAX_FLOAT = sys.float_info.max


def expect_error(code: str, fn, *args, **kwargs) -> MlflowException:
    """Call fn and require an MlflowException carrying the given error code."""
    try:
        fn(*args, **kwargs)
    except MlflowException as exc:
        assert exc.error_code == code, (
            f"{fn.__name__}{str(args)[:120]}: expected error {code}, got {exc.error_code}: {exc}"
        )
        return exc
    raise AssertionError(f"{fn.__name__}{str(args)[:120]} succeeded, expected {code}")


def is_pos_inf(value: float) -> bool:
    return value == math.inf or value == MAX_FLOAT


def is_neg_inf(value: float) -> bool:
    return value == -math.inf or value == -MAX_FLOAT


def check_special_floats(client: MlflowClient, exp_id: str) -> None:
    run_id = client.create_run(exp_id).info.run_id
    client.log_metric(run_id, "nan", float("nan"))
    client.log_metric(run_id, "pinf", float("inf"))
    client.log_metric(run_id, "ninf", float("-inf"))
    client.log_metric(run_id, "tiny", 5e-324)
    client.log_metric(run_id, "negzero", -0.0)
    client.log_metric(run_id, "huge", 1.5e308)
    client.log_metric(run_id, "int", 2**53)
    ts = int(time.time() * 1000)
    client.log_batch(
        run_id,
        metrics=[
            Metric("b_nan", float("nan"), ts, 0),
            Metric("b_pinf", float("inf"), ts, 0),
            Metric("b_ninf", float("-inf"), ts, 0),
        ],
    )
    metrics = client.get_run(run_id).data.metrics
    assert math.isnan(metrics["nan"]) and math.isnan(metrics["b_nan"]), metrics
    assert is_pos_inf(metrics["pinf"]) and is_pos_inf(metrics["b_pinf"]), metrics
    assert is_neg_inf(metrics["ninf"]) and is_neg_inf(metrics["b_ninf"]), metrics
    assert metrics["tiny"] == 5e-324, f"denormal lost: {metrics['tiny']!r}"
    # -0.0 comes back equal to 0 (stock MLflow drops the sign, so the sign is not checked)
    assert metrics["negzero"] == 0.0, metrics["negzero"]
    assert metrics["huge"] == 1.5e308 and metrics["int"] == float(2**53), metrics

    (nan_point,) = client.get_metric_history(run_id, "nan")
    assert math.isnan(nan_point.value), nan_point
    (inf_point,) = client.get_metric_history(run_id, "pinf")
    assert is_pos_inf(inf_point.value), inf_point
    (ninf_point,) = client.get_metric_history(run_id, "ninf")
    assert is_neg_inf(ninf_point.value), ninf_point

    # NaN next to regular values: latest is still by step
    client.log_metric(run_id, "mixed", 1.0, step=0)
    client.log_metric(run_id, "mixed", float("nan"), step=1)
    assert math.isnan(client.get_run(run_id).data.metrics["mixed"])
    client.log_metric(run_id, "mixed", 3.0, step=2)
    assert client.get_run(run_id).data.metrics["mixed"] == 3.0
    assert len(client.get_metric_history(run_id, "mixed")) == 3


def check_long_values(client: MlflowClient, exp_id: str) -> None:
    run_id = client.create_run(exp_id).info.run_id
    client.log_param(run_id, "long", "p" * 6001)
    client.log_param(run_id, "exact", "e" * 6000)
    client.log_param(run_id, "unicode", "é" * 6001)
    client.log_batch(run_id, params=[Param("batch_long", "b" * 6001)])
    client.set_tag(run_id, "long_tag", "t" * 8001)
    client.set_tag(run_id, "exact_tag", "x" * 8000)
    client.log_batch(run_id, tags=[RunTag("batch_tag", "u" * 8001)])
    data = client.get_run(run_id).data
    assert data.params["long"] == "p" * 6000, f"param not truncated: {len(data.params['long'])}"
    assert data.params["exact"] == "e" * 6000, len(data.params["exact"])
    assert data.params["unicode"] == "é" * 6000, f"unicode: {len(data.params['unicode'])} chars"
    assert data.params["batch_long"] == "b" * 6000, len(data.params["batch_long"])
    assert data.tags["long_tag"] == "t" * 8000, f"tag not truncated: {len(data.tags['long_tag'])}"
    assert data.tags["exact_tag"] == "x" * 8000, len(data.tags["exact_tag"])
    assert data.tags["batch_tag"] == "u" * 8000, len(data.tags["batch_tag"])
    # the truncated value counts as the stored value: re-logging the same long value is fine
    client.log_param(run_id, "long", "p" * 6001)
    # unicode and odd-but-valid characters round-trip
    text = "αβγ ✓ 日本語 \"quotes\" 'single' \\ back\nline"
    client.log_param(run_id, "text", text)
    client.set_tag(run_id, "text", text)
    data = client.get_run(run_id).data
    assert data.params["text"] == text and data.tags["text"] == text, (data.params, data.tags)


def check_param_immutability(client: MlflowClient, exp_id: str) -> None:
    run_id = client.create_run(exp_id).info.run_id
    client.log_param(run_id, "alpha", "0.5")
    client.log_param(run_id, "alpha", "0.5")  # same value: accepted
    client.log_batch(run_id, params=[Param("alpha", "0.5")])  # same value in a batch: accepted
    expect_error("INVALID_PARAMETER_VALUE", client.log_param, run_id, "alpha", "0.6")
    expect_error(
        "INVALID_PARAMETER_VALUE", client.log_batch, run_id, params=[Param("alpha", "0.7")]
    )
    expect_error(
        "INVALID_PARAMETER_VALUE",
        client.log_batch,
        run_id,
        params=[Param("dup", "1"), Param("dup", "2")],
    )
    with mlflow.start_run(run_id=run_id):
        try:
            mlflow.log_param("alpha", 0.8)
        except MlflowException as exc:
            assert exc.error_code == "INVALID_PARAMETER_VALUE", exc.error_code
        else:
            raise AssertionError("fluent log_param with a changed value must fail")
    params = client.get_run(run_id).data.params
    assert params["alpha"] == "0.5", f"param changed: {params}"
    assert "dup" not in params, f"rejected batch must not be half-applied: {params}"


def check_key_validation(client: MlflowClient, exp_id: str) -> None:
    run_id = client.create_run(exp_id).info.run_id
    long_key = "k" * 251
    bad_keys = [long_key, "a/../b", "../up", "/abs", "trail/", "bad!char", "semi;colon"]
    for key in bad_keys:
        expect_error("INVALID_PARAMETER_VALUE", client.log_metric, run_id, key, 1.0)
        expect_error("INVALID_PARAMETER_VALUE", client.log_param, run_id, key, "1")
        expect_error("INVALID_PARAMETER_VALUE", client.set_tag, run_id, key, "1")
    expect_error(
        "INVALID_PARAMETER_VALUE",
        client.log_batch,
        run_id,
        metrics=[Metric("fine", 1.0, 0, 0), Metric(long_key, 1.0, 0, 0)],
    )
    good_keys = ["k" * 250, "a/b", "a.b", "a-b", "a b", "a:b", "under_score", "précision"]
    for key in good_keys:
        client.log_metric(run_id, key, 1.0)
        client.log_param(run_id, key, "1")
        client.set_tag(run_id, key, "1")
    data = client.get_run(run_id).data
    for key in good_keys:
        assert data.metrics.get(key) == 1.0, f"metric {key!r} missing: {sorted(data.metrics)}"
        assert data.params.get(key) == "1", f"param {key!r} missing"
        assert data.tags.get(key) == "1", f"tag {key!r} missing"
    for key in bad_keys:
        assert key not in data.metrics and key not in data.params and key not in data.tags, key
    # steps are int64: negative and large steps round-trip
    client.log_metric(run_id, "steps", 1.0, step=-5)
    client.log_metric(run_id, "steps", 2.0, step=2**40)
    steps = sorted(m.step for m in client.get_metric_history(run_id, "steps"))
    assert steps == [-5, 2**40], steps


def main() -> None:
    uri = os.environ["MLFLOW_TRACKING_URI"]
    assert uri.startswith("http://127.0.0.1:"), f"loopback http server expected, got {uri}"
    mlflow.set_tracking_uri(uri)
    client = MlflowClient()
    exp_id = client.create_experiment(f"compat-values-{uuid.uuid4().hex[:12]}")
    mlflow.set_experiment(experiment_id=exp_id)
    check_special_floats(client, exp_id)
    check_long_values(client, exp_id)
    check_param_immutability(client, exp_id)
    check_key_validation(client, exp_id)
    print(f"runs_values OK (mlflow {mlflow.__version__})")


if __name__ == "__main__":
    main()
