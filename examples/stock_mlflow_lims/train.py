"""The LIMS contamination classifier written with the stock mlflow client, run against
`cairn server` (start it first; see README.md).

    .venvs/mlflow3/bin/python examples/stock_mlflow_lims/train.py
    MLFLOW_TRACKING_URI=http://127.0.0.1:5001 \
        .venvs/mlflow3/bin/python examples/stock_mlflow_lims/train.py

Nothing here knows about Cairn: it is the code you would write for an MLflow server.
"""

import os
import tempfile
from datetime import date
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from mlflow import MlflowClient
from mlflow.models import infer_signature
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import (
    accuracy_score,
    classification_report,
    confusion_matrix,
    f1_score,
    precision_score,
    recall_score,
)
from sklearn.model_selection import train_test_split

MODEL_NAME = "lims_contamination_detector_stock"
FEATURES = ["ph_level", "temperature", "turbidity", "processing_time"]


def generate_training_data(n_samples=1000, contamination_rate=0.15, seed=42):
    rng = np.random.default_rng(seed)
    contaminated = rng.random(n_samples) < contamination_rate
    n = n_samples
    data = pd.DataFrame(
        {
            "sample_id": [f"S{i:05d}" for i in range(n)],
            "ph_level": np.where(contaminated, rng.normal(6.5, 0.35, n), rng.normal(7.2, 0.2, n)),
            "temperature": np.where(contaminated, rng.normal(12, 3, n), rng.normal(4, 1.2, n)),
            "turbidity": np.where(contaminated, rng.gamma(6, 1.2, n), rng.gamma(1.5, 0.6, n)),
            "processing_time": np.where(
                contaminated, rng.normal(5.2, 1.0, n), rng.normal(2.5, 0.6, n)
            ),
            "is_contaminated": contaminated.astype(int),
        }
    )
    return data


def train_with_mlflow(data):
    params = {
        "n_estimators": 100,
        "max_depth": 5,
        "min_samples_split": 10,
        "min_samples_leaf": 5,
        "class_weight": "balanced",
        "random_state": 42,
    }
    mlflow.set_experiment("lims-contamination-stock-client")
    with mlflow.start_run(run_name="rf-contamination") as run:
        print(f"MLflow Run ID: {run.info.run_id}")
        for key, value in params.items():
            mlflow.log_param(key, value)
        x_train, x_test, y_train, y_test = train_test_split(
            data[FEATURES], data["is_contaminated"], test_size=0.2, random_state=42,
            stratify=data["is_contaminated"],
        )  # fmt: skip
        mlflow.log_param("data_source", "LIMS_Synthetic_v1")
        mlflow.log_param("training_samples", len(x_train))
        mlflow.log_input(
            mlflow.data.from_pandas(
                data.drop(columns=["sample_id"]), name="lims-samples", targets="is_contaminated"
            ),
            context="training",
        )

        model = RandomForestClassifier(**params)
        model.fit(x_train, y_train)
        y_pred = model.predict(x_test)
        metrics = {
            "test_accuracy": accuracy_score(y_test, y_pred),
            "test_precision": precision_score(y_test, y_pred),
            "test_recall": recall_score(y_test, y_pred),
            "test_f1": f1_score(y_test, y_pred),
        }
        for key, value in metrics.items():
            mlflow.log_metric(key, value)
            print(f"  {key}: {value:.4f}")

        with tempfile.TemporaryDirectory() as tmp:
            importance = pd.DataFrame(
                {"feature": FEATURES, "importance": model.feature_importances_}
            ).sort_values("importance", ascending=False)
            importance.to_csv(Path(tmp) / "feature_importance.csv", index=False)
            mlflow.log_artifact(str(Path(tmp) / "feature_importance.csv"))
            matrix = pd.DataFrame(confusion_matrix(y_test, y_pred))
            matrix.to_csv(Path(tmp) / "confusion_matrix.csv")
            mlflow.log_artifact(str(Path(tmp) / "confusion_matrix.csv"))
            report = classification_report(y_test, y_pred)
            (Path(tmp) / "classification_report.txt").write_text(report)
            mlflow.log_artifact(str(Path(tmp) / "classification_report.txt"))

        mlflow.sklearn.log_model(
            model,
            name="lims_qc_model",
            signature=infer_signature(x_train, model.predict(x_train)),
            input_example=x_train.head(3),
            # mlflow 3.17 saves with skops by default, which refuses RandomForest's tree type
            # unless it is listed as trusted; cloudpickle is what earlier versions used.
            serialization_format="cloudpickle",
        )
        version = mlflow.register_model(f"runs:/{run.info.run_id}/lims_qc_model", MODEL_NAME)
        print(f"Model registered as: {MODEL_NAME} version {version.version}")

        mlflow.set_tag("Project", "Lab_Modernization")
        mlflow.set_tag("Analyst", "Senior_DS_Lead")
        mlflow.set_tag("Model_Type", "Random_Forest")
        mlflow.set_tag("Use_Case", "Contamination_Detection")
        mlflow.set_tag("Training_Date", date.today().isoformat())
        mlflow.set_tag("PHI_Included", "No")
    return run.info.run_id, version.version


def main():
    mlflow.set_tracking_uri(os.environ.get("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000"))
    print(f"Tracking URI: {mlflow.get_tracking_uri()}")
    data = generate_training_data()
    print(f"Generated {len(data)} samples, {data['is_contaminated'].mean():.2%} contaminated")
    run_id, version = train_with_mlflow(data)

    client = MlflowClient()
    client.transition_model_version_stage(name=MODEL_NAME, version=version, stage="Staging")
    client.transition_model_version_stage(
        name=MODEL_NAME, version=version, stage="Production", archive_existing_versions=True
    )
    print(f"Version {version}: Staging -> Production")

    model = mlflow.pyfunc.load_model(f"models:/{MODEL_NAME}/Production")
    test_samples = pd.DataFrame(
        {
            "ph_level": [7.2, 7.1, 6.3, 7.3, 6.5],
            "temperature": [4.0, 3.8, 15.0, 4.2, 12.5],
            "turbidity": [1.2, 0.8, 8.5, 1.0, 7.2],
            "processing_time": [2.5, 2.3, 6.0, 2.4, 5.5],
        }
    )
    predictions = model.predict(test_samples)
    sample_ids = ["TEST001", "TEST002", "TEST003", "TEST004", "TEST005"]
    for sample_id, label in zip(sample_ids, predictions, strict=True):
        print(f"  {sample_id}: {'CONTAMINATED' if label == 1 else 'clean'}")
    print(f"Done: run {run_id}, {MODEL_NAME} version {version} in Production")


if __name__ == "__main__":
    main()
