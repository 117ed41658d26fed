"""LIMS contamination classifier (the workflow of examples/lims_classifier).

Synthetic lab samples (pH, temperature, turbidity, processing time) → a RandomForest that
flags contaminated samples. The run records parameters, test metrics, the training and test
datasets with their profiles, a feature-importance chart, a confusion matrix and a
classification report, and governance tags; the model is logged, registered, moved
Staging → Production, and finally loaded back from ``models:/…/Production`` to score new
samples with a risk level.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import cairn
from cairn.demo.common import Report, printer, pyplot, tracking_uri_from_argv

EXPERIMENT = "lims-contamination"
MODEL_NAME = "lims_contamination_detector"
FEATURES = ["ph_level", "temperature", "turbidity", "processing_time"]
STEPS = 9
PARAMS: dict[str, Any] = {
    "n_estimators": 100,
    "max_depth": 5,
    "min_samples_split": 10,
    "min_samples_leaf": 5,
    "class_weight": "balanced",
    "random_state": 42,
}
GOVERNANCE_TAGS = {
    "Project": "Lab_Modernization",
    "Analyst": "Senior_DS_Lead",
    "Model_Type": "Random_Forest",
    "Use_Case": "Contamination_Detection",
    "Data_Source": "LIMS_Synthetic_v1",
    "PHI_Included": "No",
    "Approval_Status": "Pending_Review",
    "Reviewer": "Clinical_Director",
}


def generate_samples(n: int = 1000, contamination_rate: float = 0.15, seed: int = 42) -> Any:
    """Lab samples: contaminated ones run warmer, cloudier, slower and slightly acidic."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    contaminated = rng.random(n) < contamination_rate
    frame = pd.DataFrame(
        {
            "sample_id": [f"S{i:05d}" for i in range(n)],
            "ph_level": np.where(contaminated, rng.normal(6.5, 0.35, n), rng.normal(7.2, 0.2, n)),
            "temperature": np.where(contaminated, rng.normal(12, 3, n), rng.normal(4, 1.2, n)),
            "turbidity": np.where(contaminated, rng.gamma(6, 1.2, n), rng.gamma(1.5, 0.6, n)),
            "processing_time": np.where(
                contaminated, rng.normal(5.2, 1.0, n), rng.normal(2.5, 0.6, n)
            ),
        }
    )
    # Measurement noise: a few clean samples look suspicious and vice versa.
    flip = rng.random(n) < 0.03
    frame["is_contaminated"] = np.where(flip, ~contaminated, contaminated).astype(int)
    return frame.round({"ph_level": 2, "temperature": 1, "turbidity": 2, "processing_time": 2})


def new_samples() -> Any:
    import pandas as pd

    return pd.DataFrame(
        {
            "sample_id": ["TEST001", "TEST002", "TEST003", "TEST004", "TEST005"],
            "ph_level": [7.2, 7.1, 6.3, 7.3, 6.5],
            "temperature": [4.0, 3.8, 15.0, 4.2, 12.5],
            "turbidity": [1.2, 0.8, 8.5, 1.0, 7.2],
            "processing_time": [2.5, 2.3, 6.0, 2.4, 5.5],
        }
    )


def risk_level(probability: float) -> str:
    if probability >= 0.7:
        return "HIGH"
    if probability >= 0.3:
        return "MEDIUM"
    return "LOW"


def run(
    report: Report = printer,
    params: dict[str, Any] | None = None,
    run_name: str = "rf-contamination",
) -> dict[str, Any]:
    """Train, log, register, promote and use the model; returns ids and scores.

    ``params`` overrides some of the RandomForest's parameters (the demo trains a smaller
    baseline first, so the registry holds an archived version too)."""
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.metrics import (
        accuracy_score,
        f1_score,
        precision_score,
        recall_score,
        roc_auc_score,
    )
    from sklearn.model_selection import train_test_split

    params = {**PARAMS, **(params or {})}
    samples = generate_samples()
    train, test = train_test_split(
        samples, test_size=0.2, random_state=42, stratify=samples["is_contaminated"]
    )
    report(
        f"generated {len(samples)} samples ({samples['is_contaminated'].mean():.1%} contaminated)"
    )

    cairn.set_experiment(EXPERIMENT)
    with cairn.start_run(run_name=run_name, description="LIMS QC model") as active:
        run_id = active.info.run_id
        cairn.log_params(
            {**params, "data_source": "LIMS_Synthetic_v1", "training_samples": len(train)}
        )
        cairn.log_dataset(
            train.drop(columns=["sample_id"]), name="lims-samples-train",
            targets="is_contaminated", source="lims://silver/samples", context="training",
        )  # fmt: skip
        cairn.log_dataset(
            test.drop(columns=["sample_id"]), name="lims-samples-test",
            targets="is_contaminated", source="lims://silver/samples", context="testing",
        )  # fmt: skip
        report("logged parameters and the training/test datasets")

        model = RandomForestClassifier(**params)
        model.fit(train[FEATURES], train["is_contaminated"])
        predicted = model.predict(test[FEATURES])
        probability = model.predict_proba(test[FEATURES])[:, 1]
        truth = test["is_contaminated"]
        metrics = {
            "test_accuracy": accuracy_score(truth, predicted),
            "test_precision": precision_score(truth, predicted, zero_division=0),
            "test_recall": recall_score(truth, predicted, zero_division=0),
            "test_f1": f1_score(truth, predicted, zero_division=0),
            "test_roc_auc": roc_auc_score(truth, probability),
        }
        cairn.log_metrics({k: float(v) for k, v in metrics.items()})
        # a growing forest: test F1 as trees are added (a metric with steps)
        for trees in range(10, int(params["n_estimators"]) + 1, 10):
            partial = RandomForestClassifier(**{**params, "n_estimators": trees})
            partial.fit(train[FEATURES], train["is_contaminated"])
            partial_f1 = f1_score(truth, partial.predict(test[FEATURES]), zero_division=0)
            cairn.log_metric("f1_by_trees", float(partial_f1), step=trees)
        report(f"trained a RandomForest: test F1 {metrics['test_f1']:.3f}")

        log_evaluation_artifacts(model, truth, predicted)
        report("logged feature importance, confusion matrix and classification report")

        cairn.set_tags({**GOVERNANCE_TAGS, "Training_Date": dt.date.today().isoformat()})
        report("set governance tags")

        info = cairn.log_model(
            model, "lims_qc_model", input_example=test[FEATURES].head(3),
            registered_model_name=MODEL_NAME,
        )  # fmt: skip
        version = str(info.registered_model_version)
        report(f"logged the model and registered it as {MODEL_NAME} version {version}")

    client = cairn.Client()
    client.update_model_version(
        MODEL_NAME, version, f"RandomForest, test F1 {metrics['test_f1']:.3f} (run {run_id})"
    )
    client.set_model_version_tag(MODEL_NAME, version, "validated_by", "QA_Lab")
    client.transition_model_version_stage(MODEL_NAME, version, "Staging")
    report(f"version {version} → Staging")
    client.transition_model_version_stage(
        MODEL_NAME, version, "Production", archive_existing_versions=True
    )
    report(f"version {version} → Production (earlier Production versions archived)")

    production = cairn.load_model(f"models:/{MODEL_NAME}/Production")
    scored = score_new_samples(production)
    report(f"scored {len(scored)} new samples with the Production model")
    return {
        "run_id": run_id,
        "model_name": MODEL_NAME,
        "version": version,
        "metrics": metrics,
        "predictions": scored,
    }


def log_evaluation_artifacts(model: Any, truth: Any, predicted: Any) -> None:
    """Feature importance (PNG + CSV), confusion matrix (PNG + CSV + four metrics) and the
    classification report, as artifacts of the active run."""
    import numpy as np
    import pandas as pd
    from sklearn.metrics import classification_report, confusion_matrix

    plt = pyplot()
    importance = pd.DataFrame(
        {"feature": FEATURES, "importance": model.feature_importances_}
    ).sort_values("importance", ascending=False)
    figure, axes = plt.subplots(figsize=(6, 3.5))
    axes.barh(importance["feature"][::-1], importance["importance"][::-1], color="#2b7a78")
    axes.set_xlabel("importance (mean decrease in impurity)")
    axes.set_title("Feature importance")
    figure.tight_layout()
    cairn.log_figure(figure, "feature_importance.png")
    plt.close(figure)
    cairn.log_text(importance.to_csv(index=False), "feature_importance.csv")

    matrix = confusion_matrix(truth, predicted, labels=[0, 1])
    frame = pd.DataFrame(
        matrix, index=["actual_clean", "actual_contaminated"],
        columns=["predicted_clean", "predicted_contaminated"],
    )  # fmt: skip
    cairn.log_text(frame.to_csv(), "confusion_matrix.csv")
    figure, axes = plt.subplots(figsize=(4, 3.5))
    axes.imshow(matrix, cmap="Blues")
    for (row, col), value in np.ndenumerate(matrix):
        axes.text(col, row, str(value), ha="center", va="center")
    axes.set_xticks([0, 1], ["clean", "contaminated"])
    axes.set_yticks([0, 1], ["clean", "contaminated"])
    axes.set_xlabel("predicted")
    axes.set_ylabel("actual")
    figure.tight_layout()
    cairn.log_figure(figure, "confusion_matrix.png")
    plt.close(figure)
    cairn.log_metrics(
        {
            "true_negatives": float(matrix[0, 0]),
            "false_positives": float(matrix[0, 1]),
            "false_negatives": float(matrix[1, 0]),
            "true_positives": float(matrix[1, 1]),
        }
    )
    text = classification_report(truth, predicted, target_names=["clean", "contaminated"])
    cairn.log_text(str(text), "classification_report.txt")


def score_new_samples(model: Any) -> list[dict[str, Any]]:
    samples = new_samples()
    predicted = model.predict(samples[FEATURES])
    probability = model.predict_proba(samples[FEATURES])[:, 1]
    return [
        {
            "sample_id": sample_id,
            "predicted_contamination": int(label),
            "contamination_probability": round(float(p), 3),
            "risk_level": risk_level(float(p)),
        }
        for sample_id, label, p in zip(samples["sample_id"], predicted, probability, strict=True)
    ]


def main(argv: list[str] | None = None) -> int:
    tracking_uri_from_argv(argv, "Train, register, promote and use the LIMS classifier.")
    result = run(printer)
    print(f"\nRun {result['run_id']}: " + ", ".join(
        f"{k}={v:.3f}" for k, v in result["metrics"].items()
    ))  # fmt: skip
    print(f"\nPredictions from models:/{MODEL_NAME}/Production (version {result['version']}):")
    for row in result["predictions"]:
        flag = "  ⚠ HIGH RISK" if row["risk_level"] == "HIGH" else ""
        print(
            f"  {row['sample_id']}  contaminated={row['predicted_contamination']}  "
            f"p={row['contamination_probability']:.2f}  {row['risk_level']}{flag}"
        )
    high = [r for r in result["predictions"] if r["risk_level"] == "HIGH"]
    if high:
        print(f"\nWARNING: {len(high)} high-risk sample(s) need immediate attention.")
    cairn.flush()
    return 0
