"""search_runs filters: metrics, params, tags, attributes, aliases, backticks, LIKE/ILIKE, IN.

Run with the stock mlflow client (2.22 or 3.x); MLFLOW_TRACKING_URI must point at the server.
"""

from __future__ import annotations

import os
import time
import uuid

import mlflow
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

# name, status, params, metrics, tags
RUNS = [
    ("rf-small", "FINISHED", {"model": "rf", "depth": "2", "lr": "0.1"},
     {"acc": 0.70, "loss": 0.5}, {"team": "Vision", "env": "prod"}),
    ("rf-big", "FINISHED", {"model": "rf", "depth": "10", "lr": "0.01"},
     {"acc": 0.90, "loss": 0.2}, {"team": "vision", "env": "dev"}),
    ("XGB-tuned", "FAILED", {"model": "xgb", "depth": "6"},
     {"acc": 0.85}, {"team": "NLP"}),
    ("xgb-base", "RUNNING", {"model": "xgb", "depth": "4", "my-param": "a"},
     {"acc": 0.60, "loss": 0.9, "val loss": 0.3}, {"odd key": "yes"}),
    ("linear", "KILLED", {"model": "linear"},
     {}, {"team": "Vision"}),
]  # fmt: skip


def setup(client: MlflowClient, exp_id: str) -> tuple[dict[str, str], int]:
    """Create the runs; return {name: run_id} and a time between the 2nd and 3rd start."""
    ids: dict[str, str] = {}
    middle = 0
    for i, (name, status, params, metrics, tags) in enumerate(RUNS):
        if i == 2:
            time.sleep(0.02)
            middle = int(time.time() * 1000)
            time.sleep(0.02)
        if status == "RUNNING":  # never ended: end_time stays unset
            run_id = client.create_run(
                exp_id, run_name=name, tags={"mlflow.user": "alice"}
            ).info.run_id
            for key, value in params.items():
                client.log_param(run_id, key, value)
            for key, value in metrics.items():
                client.log_metric(run_id, key, value)
            for key, value in tags.items():
                client.set_tag(run_id, key, value)
        else:
            with mlflow.start_run(experiment_id=exp_id, run_name=name) as run:
                mlflow.log_params(params)
                if metrics:
                    mlflow.log_metrics(metrics)
                mlflow.set_tags(tags)
            run_id = run.info.run_id
            if status != "FINISHED":
                client.update_run(run_id, status=status)
        ids[name] = run_id
    return ids, middle


class Checker:
    def __init__(self, client: MlflowClient, exp_id: str, ids: dict[str, str]) -> None:
        self.client = client
        self.exp_id = exp_id
        self.ids = ids
        self.names = {v: k for k, v in ids.items()}

    def __call__(self, filter_string: str, *expected: str) -> None:
        runs = self.client.search_runs([self.exp_id], filter_string=filter_string)
        got = sorted(self.names.get(r.info.run_id, r.info.run_id) for r in runs)
        assert got == sorted(expected), f"filter {filter_string!r}: got {got}, expected {expected}"


def check_metrics(check: Checker) -> None:
    check("metrics.acc > 0.8", "rf-big", "XGB-tuned")
    check("metrics.acc >= 0.85", "rf-big", "XGB-tuned")
    check("metrics.acc < 0.7", "xgb-base")
    check("metrics.acc <= 0.7", "rf-small", "xgb-base")
    check("metrics.acc = 0.9", "rf-big")
    check("metrics.acc != 0.9", "rf-small", "XGB-tuned", "xgb-base")  # no acc: excluded
    check("metric.loss < 0.6", "rf-small", "rf-big")
    check("metrics.loss > 0", "rf-small", "rf-big", "xgb-base")
    check("metrics.`val loss` < 1", "xgb-base")
    check('metrics."val loss" < 1', "xgb-base")
    check("metrics.acc > 8e-1", "rf-big", "XGB-tuned")
    check("metrics.acc > 1")
    check("metrics.nosuch > 0")


def check_params(check: Checker) -> None:
    check("params.model = 'rf'", "rf-small", "rf-big")
    check("param.model != 'rf'", "XGB-tuned", "xgb-base", "linear")
    check("parameter.depth = '10'", "rf-big")
    check("parameters.depth = '6'", "XGB-tuned")
    check("params.model LIKE 'x%'", "XGB-tuned", "xgb-base")
    check("params.model ILIKE 'X%'", "XGB-tuned", "xgb-base")
    check("params.model LIKE 'X%'")
    check("params.model LIKE '%i%'", "linear")
    check("params.depth LIKE '_'", "rf-small", "XGB-tuned", "xgb-base")
    check("params.`my-param` = 'a'", "xgb-base")
    check("params.lr IS NULL", "XGB-tuned", "xgb-base", "linear")
    check("params.lr IS NOT NULL", "rf-small", "rf-big")


def check_tags(check: Checker) -> None:
    check("tags.team = 'Vision'", "rf-small", "linear")
    check("tag.env = 'prod'", "rf-small")
    check("tags.team != 'NLP'", "rf-small", "rf-big", "linear")
    check("tags.team LIKE 'vis%'", "rf-big")
    check("tags.team ILIKE 'vis%'", "rf-small", "rf-big", "linear")
    check("tags.team ILIKE '%LP'", "XGB-tuned")
    check("tags.`odd key` = 'yes'", "xgb-base")
    check("tags.`mlflow.runName` = 'linear'", "linear")
    check("tags.mlflow.runName = 'linear'", "linear")
    check("tags.team IS NULL", "xgb-base")
    check("tags.team IS NOT NULL", "rf-small", "rf-big", "XGB-tuned", "linear")


def check_attributes(check: Checker, ids: dict[str, str], middle: int, user: str) -> None:
    check("attributes.status = 'FAILED'", "XGB-tuned")
    check("status = 'FINISHED'", "rf-small", "rf-big")
    check("attr.status != 'FINISHED'", "XGB-tuned", "xgb-base", "linear")
    check("attribute.status = 'KILLED'", "linear")
    check("run.status = 'RUNNING'", "xgb-base")
    check("run_name = 'linear'", "linear")
    check("attributes.run_name LIKE 'rf-%'", "rf-small", "rf-big")
    check("attributes.run_name ILIKE 'xgb%'", "XGB-tuned", "xgb-base")
    check("run_name LIKE 'xgb%'", "xgb-base")
    check(f"attributes.run_id = '{ids['rf-big']}'", "rf-big")
    check(f"attributes.run_id IN ('{ids['rf-small']}', '{ids['linear']}')", "rf-small", "linear")
    check(
        f"attributes.run_id NOT IN ('{ids['rf-small']}', '{ids['linear']}')",
        "rf-big", "XGB-tuned", "xgb-base",
    )  # fmt: skip
    check(f"run_id IN ('{ids['xgb-base']}')", "xgb-base")
    check(f"attributes.start_time > {middle}", "XGB-tuned", "xgb-base", "linear")
    check(f"attributes.start_time < {middle}", "rf-small", "rf-big")
    check("attributes.end_time > 0", "rf-small", "rf-big", "XGB-tuned", "linear")
    check(f"attributes.user_id = '{user}'", *(n for n in ids if n != "xgb-base"))
    check("attributes.user_id = 'alice'", "xgb-base")
    check("", *ids)


def check_combined(check: Checker) -> None:
    check("params.model = 'rf' AND metrics.acc > 0.8", "rf-big")
    check("params.model = 'rf' and metrics.acc > 0.8", "rf-big")
    check("tags.team ILIKE 'vision' AND attributes.status = 'FINISHED'", "rf-small", "rf-big")
    check(
        "metrics.acc > 0.5 AND params.model != 'linear' AND tags.team IS NOT NULL "
        "AND run_name LIKE '%-%'",
        "rf-small", "rf-big", "XGB-tuned",
    )  # fmt: skip
    check("params.model = 'rf' AND params.model = 'xgb'")


def check_multi_experiment(client: MlflowClient, exp_id: str, prefix: str) -> None:
    other = client.create_experiment(f"{prefix}-other")
    with mlflow.start_run(experiment_id=other, run_name="elsewhere") as run:
        mlflow.log_param("model", "rf")
    both = client.search_runs([exp_id, other], filter_string="params.model = 'rf'")
    assert len(both) == 3 and run.info.run_id in {r.info.run_id for r in both}, both
    frame = mlflow.search_runs(
        experiment_names=[f"{prefix}", f"{prefix}-other"], filter_string="params.model = 'rf'"
    )
    assert len(frame) == 3, frame


def check_errors(client: MlflowClient, exp_id: str) -> None:
    # (IN on params/tags and IS NULL on metrics are Cairn extensions: see cairn_extensions.py)
    bad_filters = [
        "metrics.acc >",
        "metrics.acc > 'high'",
        "params.model > 'a'",
        "params.model = rf",
        "foo.bar = 1",
        "attributes.nosuch = 'x'",
        "metrics.acc LIKE '0.%'",
        "tags.team",
        "attributes.start_time = 'yesterday'",
    ]
    for filter_string in bad_filters:
        try:
            client.search_runs([exp_id], filter_string=filter_string)
        except MlflowException as exc:
            assert exc.error_code == "INVALID_PARAMETER_VALUE", (
                f"{filter_string!r}: expected INVALID_PARAMETER_VALUE, got {exc.error_code}"
            )
        else:
            raise AssertionError(f"malformed filter {filter_string!r} was accepted")


def main() -> None:
    uri = os.environ["MLFLOW_TRACKING_URI"]
    assert uri.startswith("http://127.0.0.1:"), f"loopback http server expected, got {uri}"
    mlflow.set_tracking_uri(uri)
    client = MlflowClient()
    prefix = f"compat-filters-{uuid.uuid4().hex[:12]}"
    exp_id = client.create_experiment(prefix)
    mlflow.set_experiment(experiment_id=exp_id)
    ids, middle = setup(client, exp_id)
    user = client.get_run(ids["linear"]).info.user_id
    check = Checker(client, exp_id, ids)
    check_metrics(check)
    check_params(check)
    check_tags(check)
    check_attributes(check, ids, middle, user)
    check_combined(check)
    check_multi_experiment(client, exp_id, prefix)
    check_errors(client, exp_id)
    print(f"search_runs_filters OK (mlflow {mlflow.__version__})")


if __name__ == "__main__":
    main()
