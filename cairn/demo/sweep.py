"""Hyper-parameter sweep (the workflow of examples/sweep).

A parent run holds one nested run per (n_estimators, max_depth) combination of a
RandomForest on the LIMS samples. Every child logs its parameters and test metrics (F1,
accuracy, ROC AUC and a business score that weighs a missed contamination five times a
false alarm). The best child by F1 is found with a search over the parent's children, tagged
``best_run=true``, its model is logged and registered, and the parent records the winner.
"""

from __future__ import annotations

from itertools import product
from typing import Any

import cairn
from cairn.demo.common import Report, printer, tracking_uri_from_argv
from cairn.demo.lims import FEATURES, generate_samples

EXPERIMENT = "lims-sweep"
MODEL_NAME = "lims_sweep_best"
GRID = {"n_estimators": [25, 50, 100], "max_depth": [3, 5, 8]}
STEPS = 3 + len(GRID["n_estimators"]) * len(GRID["max_depth"])


def business_score(truth: Any, predicted: Any) -> float:
    """1 minus the cost of the errors per sample: a missed contamination costs 5, a false
    alarm 1 (normalised by the worst case, missing every contaminated sample)."""
    import numpy as np

    missed = int(np.sum((truth == 1) & (predicted == 0)))
    false_alarms = int(np.sum((truth == 0) & (predicted == 1)))
    worst = 5 * int(np.sum(truth == 1)) or 1
    return 1.0 - (5 * missed + false_alarms) / worst


def run(report: Report = printer) -> dict[str, Any]:
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.metrics import accuracy_score, f1_score, roc_auc_score
    from sklearn.model_selection import train_test_split

    samples = generate_samples(n=1500, seed=11)
    train, test = train_test_split(
        samples, test_size=0.25, random_state=11, stratify=samples["is_contaminated"]
    )
    truth = test["is_contaminated"].to_numpy()
    cairn.set_experiment(EXPERIMENT)
    models: dict[str, Any] = {}
    with cairn.start_run(run_name="rf-grid-search") as parent:
        parent_id = parent.info.run_id
        cairn.log_params({"search": "grid", "candidates": len(GRID["n_estimators"]) * 3})
        cairn.log_dict(GRID, "grid.json")
        cairn.log_dataset(
            train.drop(columns=["sample_id"]), name="lims-sweep-train",
            targets="is_contaminated", context="training",
        )  # fmt: skip
        report(f"parent run {parent_id[:8]}: grid of {STEPS - 3} candidates")
        for n_estimators, max_depth in product(GRID["n_estimators"], GRID["max_depth"]):
            name = f"rf-n{n_estimators}-d{max_depth}"
            with cairn.start_run(run_name=name, nested=True) as child:
                params = {"n_estimators": n_estimators, "max_depth": max_depth}
                cairn.log_params({**params, "class_weight": "balanced"})
                model = RandomForestClassifier(
                    **params, class_weight="balanced", random_state=0, n_jobs=1
                ).fit(train[FEATURES], train["is_contaminated"])
                predicted = model.predict(test[FEATURES])
                f1 = float(f1_score(truth, predicted))
                cairn.log_metrics(
                    {
                        "f1": f1,
                        "accuracy": float(accuracy_score(truth, predicted)),
                        "roc_auc": float(
                            roc_auc_score(truth, model.predict_proba(test[FEATURES])[:, 1])
                        ),
                        "business_score": business_score(truth, predicted),
                    }
                )
                models[child.info.run_id] = model
            report(f"{name}: F1 {f1:.3f}")

        cairn.flush()
        children = cairn.search_runs(
            filter_string=f"tags.mlflow.parentRunId = '{parent_id}'",
            order_by=["metrics.f1 DESC", "metrics.business_score DESC"],
            output_format="list",
        )
        best = children[0]
        best_f1 = best.data.metrics["f1"]
        client = cairn.Client()
        client.set_tag(best.info.run_id, "best_run", "true")
        cairn.set_tags({"best_run_id": best.info.run_id, "best_run_name": best.info.run_name})
        cairn.log_metric("best_f1", best_f1)
        report(f"best by F1: {best.info.run_name} ({best_f1:.3f}), tagged best_run=true")

    with cairn.start_run(run_id=best.info.run_id):
        info = cairn.log_model(
            models[best.info.run_id], "model", registered_model_name=MODEL_NAME,
            input_example=test[FEATURES].head(3),
        )  # fmt: skip
    version = str(info.registered_model_version)
    client.set_model_version_tag(MODEL_NAME, version, "selected_by", "grid-search F1")
    client.update_model_version(
        MODEL_NAME, version, f"{best.info.run_name}, best of {len(children)} by F1 {best_f1:.3f}"
    )
    report(f"registered {MODEL_NAME} version {version}")
    return {
        "parent_run_id": parent_id,
        "best_run_id": best.info.run_id,
        "best_run_name": best.info.run_name,
        "best_f1": best_f1,
        "children": len(children),
        "model_name": MODEL_NAME,
        "version": version,
    }


def main(argv: list[str] | None = None) -> int:
    tracking_uri_from_argv(argv, "Grid-search a RandomForest with nested runs.")
    result = run(printer)
    print(
        f"\nBest of {result['children']} runs: {result['best_run_name']} "
        f"(F1 {result['best_f1']:.3f}, run {result['best_run_id']}), registered as "
        f"{result['model_name']} version {result['version']}"
    )
    cairn.flush()
    return 0
