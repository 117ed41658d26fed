"""Cairn-only search_runs filters (stock MLflow rejects these): OR and parentheses, IN / NOT IN
on params and tags, IS [NOT] NULL on metrics.

The stock client passes the filter string through unchanged, so these work from mlflow 2.22 and
3.x against Cairn. Do not run this script against a stock MLflow server.
AND binds tighter than OR; keywords are case-insensitive.
"""

from __future__ import annotations

import os
import uuid

import mlflow
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

MAX_PAGES = 50
# name: (params, metrics, tags)
RUNS = {
    "rf-small": ({"model": "rf", "depth": "2"}, {"acc": 0.70}, {"team": "Vision"}),
    "rf-big": ({"model": "rf", "depth": "10"}, {"acc": 0.90}, {"team": "vision"}),
    "xgb-tuned": ({"model": "xgb", "depth": "6"}, {"acc": 0.85}, {"team": "NLP"}),
    "xgb-base": ({"model": "xgb", "depth": "4"}, {"acc": 0.60}, {}),
    "linear": ({"model": "linear"}, {}, {"team": "Vision"}),
}


class Checker:
    def __init__(self, client: MlflowClient, exp_id: str, ids: dict[str, str]) -> None:
        self.client = client
        self.exp_id = exp_id
        self.names = {v: k for k, v in ids.items()}

    def __call__(self, filter_string: str, *expected: str) -> None:
        runs = self.client.search_runs([self.exp_id], filter_string=filter_string)
        got = sorted(self.names.get(r.info.run_id, r.info.run_id) for r in runs)
        assert got == sorted(expected), f"filter {filter_string!r}: got {got}, expected {expected}"


def setup(exp_id: str) -> dict[str, str]:
    ids = {}
    for name, (params, metrics, tags) in RUNS.items():
        with mlflow.start_run(experiment_id=exp_id, run_name=name) as run:
            mlflow.log_params(params)
            if metrics:
                mlflow.log_metrics(metrics)
            if tags:
                mlflow.set_tags(tags)
        ids[name] = run.info.run_id
    return ids


def check_or(check: Checker, ids: dict[str, str]) -> None:
    check("params.model = 'rf' OR params.model = 'linear'", "rf-small", "rf-big", "linear")
    check("params.model = 'rf' or params.model = 'linear'", "rf-small", "rf-big", "linear")
    check("metrics.acc > 0.8 OR tags.team = 'NLP'", "rf-big", "xgb-tuned")
    # a run without the metric can still match through the other branch
    check("metrics.acc > 0.8 OR params.model = 'linear'", "rf-big", "xgb-tuned", "linear")
    check("tags.team IS NULL OR tags.team LIKE 'vis%'", "xgb-base", "rf-big")
    check(
        f"attributes.run_id IN ('{ids['linear']}') OR run_name ILIKE 'XGB%'",
        "linear", "xgb-tuned", "xgb-base",
    )  # fmt: skip
    check("params.model = 'none' OR params.model = 'nothing'")
    check(
        "params.depth = '2' OR params.depth = '4' OR params.depth = '6' OR params.depth = '10'",
        "rf-small", "rf-big", "xgb-tuned", "xgb-base",
    )  # fmt: skip


def check_parentheses(check: Checker) -> None:
    check("(params.model = 'rf')", "rf-small", "rf-big")
    check("((params.model = 'rf'))", "rf-small", "rf-big")
    check(
        "(params.model = 'rf' OR params.model = 'xgb') AND metrics.acc > 0.8",
        "rf-big", "xgb-tuned",
    )  # fmt: skip
    # AND binds tighter than OR
    check(
        "params.model = 'linear' OR params.model = 'rf' AND metrics.acc > 0.8",
        "linear", "rf-big",
    )  # fmt: skip
    check("(params.model = 'linear' OR params.model = 'rf') AND metrics.acc > 0.8", "rf-big")
    check(
        "(tags.team ILIKE 'vision' AND metrics.acc < 0.8) OR (tags.team = 'NLP' AND "
        "metrics.acc > 0.8)",
        "rf-small", "xgb-tuned",
    )  # fmt: skip
    check(
        "status = 'FINISHED' AND (run_name LIKE 'rf-%' OR (params.model = 'xgb' AND "
        "params.depth = '4'))",
        "rf-small", "rf-big", "xgb-base",
    )  # fmt: skip


def check_superset_comparators(check: Checker) -> None:
    check("params.model IN ('rf', 'linear')", "rf-small", "rf-big", "linear")
    check("param.depth IN ('2')", "rf-small")
    check("params.model NOT IN ('rf', 'linear')", "xgb-tuned", "xgb-base")
    check("tags.team IN ('Vision', 'NLP')", "rf-small", "xgb-tuned", "linear")
    # like != , NOT IN only matches runs that have the tag
    check("tags.team NOT IN ('Vision')", "rf-big", "xgb-tuned")
    check("metrics.acc IS NULL", "linear")
    check("metrics.acc IS NOT NULL", "rf-small", "rf-big", "xgb-tuned", "xgb-base")
    check("metrics.acc IS NULL OR metrics.acc < 0.65", "linear", "xgb-base")


def check_with_order_and_paging(client: MlflowClient, exp_id: str) -> None:
    filter_string = "params.model = 'rf' OR params.model = 'xgb'"
    runs = client.search_runs([exp_id], filter_string=filter_string, order_by=["metrics.acc DESC"])
    got = [r.info.run_name for r in runs]
    assert got == ["rf-big", "xgb-tuned", "rf-small", "xgb-base"], got

    seen: list[str] = []
    token = None
    for _ in range(MAX_PAGES):
        page = client.search_runs(
            [exp_id], filter_string=filter_string, order_by=["metrics.acc DESC"],
            max_results=1, page_token=token,
        )  # fmt: skip
        seen.extend(r.info.run_name for r in page)
        token = page.token
        if not token:
            break
    else:
        raise AssertionError("paging an OR filter did not terminate")
    assert seen == got, f"paged OR filter: {seen}, expected {got}"

    either = "(tags.team = 'NLP') OR (metrics.acc < 0.65)"
    frame = mlflow.search_runs([exp_id], filter_string=either)
    assert sorted(frame["tags.mlflow.runName"]) == ["xgb-base", "xgb-tuned"], frame


def check_errors(client: MlflowClient, exp_id: str) -> None:
    for bad in (
        "(params.model = 'rf'",
        "params.model = 'rf')",
        "params.model = 'rf' OR",
        "OR params.model = 'rf'",
        "()",
        "params.model = 'rf' OR OR params.model = 'xgb'",
        "(params.model = 'rf' AND) OR metrics.acc > 0",
    ):
        try:
            client.search_runs([exp_id], filter_string=bad)
        except MlflowException as exc:
            assert exc.error_code == "INVALID_PARAMETER_VALUE", (bad, exc.error_code)
        else:
            raise AssertionError(f"malformed filter {bad!r} was accepted")


def main() -> None:
    uri = os.environ["MLFLOW_TRACKING_URI"]
    assert uri.startswith("http://127.0.0.1:"), f"loopback http server expected, got {uri}"
    mlflow.set_tracking_uri(uri)
    client = MlflowClient()
    exp_id = client.create_experiment(f"compat-cairn-ext-{uuid.uuid4().hex[:12]}")
    mlflow.set_experiment(experiment_id=exp_id)
    ids = setup(exp_id)
    check = Checker(client, exp_id, ids)
    check_or(check, ids)
    check_parentheses(check)
    check_superset_comparators(check)
    check_with_order_and_paging(client, exp_id)
    check_errors(client, exp_id)
    print(f"cairn_extensions OK (mlflow {mlflow.__version__})")


if __name__ == "__main__":
    main()
