"""Provider ``cairn``: a Cairn-registered model scored on a table of labelled rows.

The request's model is a ``models:/`` URI (``models:/NAME/3``, ``/Production``, ``/latest``,
``@alias``); its files are fetched through :class:`~cairn.evals.provider.Resources` and loaded
with Cairn's own model loader (:func:`cairn.ml.models.load_model_dir`: scikit-learn models
written by Cairn or by the stock mlflow client). The rows come from a CSV, JSON Lines or
Parquet file under the evaluation data root (``dataset_path``) or from a logged dataset
(``dataset``, by name or digest); ``target`` names the label column, every other column is a
model input (the model's signature picks and orders its columns).

Benchmarks:

- ``classification``: ``accuracy``, ``precision``, ``recall``, ``f1`` (``average`` macro,
  weighted or micro; binary on ``positive_label`` when given), per class
  ``precision_<class>``, ``recall_<class>``, ``f1_<class>`` and ``support_<class>``; the
  confusion matrix as ``confusion_matrix.json`` (and ``confusion_matrix.png`` when matplotlib
  is installed). Primary metric ``f1``.
- ``regression``: ``mae``, ``mse``, ``rmse``, ``r2``. Primary metric ``rmse`` (lower is
  better).

Both write ``predictions.csv`` (the inputs, the target and the prediction).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from cairn.entities.errors import CairnError
from cairn.evals import tables
from cairn.evals.child import TIMEOUT_PARAM
from cairn.evals.provider import (
    BenchmarkContext,
    BenchmarkInfo,
    BenchmarkResult,
    Cancelled,
    Collection,
    ModelSpec,
    ParamSpec,
    register,
)

AVERAGES = ("macro", "weighted", "micro")
MAX_PER_CLASS = 100
"""Per-class metrics are logged for at most this many classes (the confusion matrix has all)."""
PREDICTION = "prediction"

_DATA = {
    "dataset_path": ParamSpec(
        "str",
        "A CSV, JSON Lines or Parquet file, relative to the evaluation data root "
        "(CAIRN_EVAL_DATA_ROOT); give this or `dataset`",
    ),
    "dataset": ParamSpec(
        "str",
        "A dataset logged with a run, by name or digest, whose source is a file in Cairn's "
        "artifact store or under the data root; give this or `dataset_path`",
    ),
    "target": ParamSpec("str", "The label column", required=True),
    "max_rows": ParamSpec("int", "Score only the first N rows", None),
    "timeout_seconds": TIMEOUT_PARAM,
}
CLASSIFICATION = BenchmarkInfo(
    id="classification",
    name="Classification",
    description="Accuracy, precision, recall, F1 (overall and per class) and the confusion "
    "matrix of a registered classifier on labelled rows",
    category="classification",
    metrics=("accuracy", "precision", "recall", "f1"),
    primary_metric="f1",
    parameters={
        **_DATA,
        "positive_label": ParamSpec(
            "str", "Binary scoring: precision/recall/F1 of this label only", None
        ),
        "average": ParamSpec("str", "macro, weighted or micro (multi-class averaging)", "macro"),
    },
)
REGRESSION = BenchmarkInfo(
    id="regression",
    name="Regression",
    description="MAE, MSE, RMSE and R² of a registered regressor on labelled rows",
    category="regression",
    metrics=("mae", "mse", "rmse", "r2"),
    primary_metric="rmse",
    lower_is_better=True,
    parameters=dict(_DATA),
)


class CairnModelProvider:
    id = "cairn"
    name = "Cairn registered models"
    description = (
        "Scores a model from Cairn's registry (models:/NAME/VERSION|STAGE|latest, "
        "models:/NAME@ALIAS) on a labelled table: classification or regression metrics, "
        "predictions as an artifact"
    )
    runs_in_cairn = True

    def benchmarks(self) -> Sequence[BenchmarkInfo]:
        return (CLASSIFICATION, REGRESSION)

    def collections(self) -> Sequence[Collection]:
        return ()

    def validate(self, benchmark_id: str, config: Mapping[str, Any], model: ModelSpec) -> None:
        info = _info(benchmark_id)
        check_config(info, config)
        require_registered(self.id, model)

    def run(self, ctx: BenchmarkContext) -> BenchmarkResult:
        info = _info(ctx.benchmark_id)
        check_config(info, ctx.config)
        ctx.progress("loading", 0.0)
        frame, model, target = load_inputs(ctx)
        _check_cancel(ctx)
        ctx.progress("predicting", 0.4)
        features = frame.drop(columns=[target])
        try:
            predicted = list(model.predict(features))
        except (ValueError, KeyError, TypeError) as exc:
            raise CairnError.invalid(
                f"config.target: the model cannot score these rows: {exc}"[:600]
            ) from None
        _check_cancel(ctx)
        ctx.progress("scoring", 0.8)
        out = ctx.workdir / "out"
        out.mkdir(parents=True, exist_ok=True)
        frame = frame.assign(**{PREDICTION: predicted})
        frame.to_csv(out / "predictions.csv", index=False)
        truth = list(frame[target])
        if info is CLASSIFICATION:
            result = classification(truth, predicted, ctx.config, out)
        else:
            result = regression(truth, predicted)
        result.artifacts["predictions.csv"] = out / "predictions.csv"
        result.params.update({"rows": str(len(frame)), "target": target})
        result.primary_metric = info.primary_metric
        ctx.log(
            f"{ctx.benchmark_id}: {len(frame)} rows, "
            + ", ".join(f"{k}={v:.4g}" for k, v in list(result.metrics.items())[:4])
        )
        ctx.progress("done", 1.0)
        return result

    def report(self, path: Path) -> BenchmarkResult:
        raise CairnError.invalid(
            "result_file: provider 'cairn' runs inside Cairn and has no result file format"
        )


def _info(benchmark_id: str) -> BenchmarkInfo:
    for info in (CLASSIFICATION, REGRESSION):
        if info.id == benchmark_id:
            return info
    raise CairnError.invalid(
        f"benchmark_id: provider 'cairn' has no benchmark {benchmark_id!r} "
        "(classification, regression)"
    )


def _check_cancel(ctx: BenchmarkContext) -> None:
    if ctx.cancelled():
        raise Cancelled()


def check_config(info: BenchmarkInfo, config: Mapping[str, Any]) -> None:
    tables.check_keys(config, set(info.parameters))
    path, name = tables.text_value(config, "dataset_path"), tables.text_value(config, "dataset")
    if (path is None) == (name is None):
        raise CairnError.invalid("config.dataset_path: give exactly one of dataset_path, dataset")
    tables.text_value(config, "target", required=True)
    tables.int_value(config, "max_rows")
    if info is CLASSIFICATION:
        average = config.get("average", "macro")
        if average not in AVERAGES:
            raise CairnError.invalid(f"config.average: expected one of {', '.join(AVERAGES)}")
        label = config.get("positive_label")
        if label is not None and (isinstance(label, bool) or not isinstance(label, str | int)):
            raise CairnError.invalid("config.positive_label: expected a string or an integer")


def load_inputs(ctx: BenchmarkContext) -> tuple[Any, Any, str]:
    """(rows, loaded model, target column) for a benchmark of this provider."""
    config = ctx.config
    path, name = config.get("dataset_path"), config.get("dataset")
    field = "dataset_path" if path is not None else "dataset"
    ref = str(path) if path is not None else f"dataset:{name}"
    file = ctx.resources.dataset_file(ref, ctx.workdir / "data")
    frame = tables.read_table(file, f"config.{field}", config.get("max_rows"))
    target = str(config["target"])
    if target not in frame.columns:
        shown = ", ".join(map(str, list(frame.columns)[:20]))
        raise CairnError.invalid(f"config.target: no column {target!r} in the data ({shown})")
    if len(frame.columns) < 2:
        raise CairnError.invalid(f"config.{field}: the data has no input columns besides target")
    return frame, load_registered(ctx), target


def require_registered(provider_id: str, model: ModelSpec) -> None:
    """400 naming ``model.name`` unless the model is (or names) a registered version."""
    if not model.registered_name and not str(model.name).startswith("models:/"):
        raise CairnError.invalid(
            f"model.name: provider '{provider_id}' evaluates registered models; "
            f"{model.name!r} is not a models:/ URI (models:/NAME/VERSION, /STAGE, /latest or "
            "@ALIAS)"
        )


def load_registered(ctx: BenchmarkContext) -> Any:
    """The benchmark's registered model version, fetched into the work folder and loaded
    with Cairn's loader (:func:`cairn.ml.models.load_model_dir`)."""
    from cairn.ml.models import load_model_dir

    folder = ctx.resources.model_dir(ctx.model, ctx.workdir / "model")
    try:
        return load_model_dir(folder)
    except ValueError as exc:
        raise CairnError.invalid(f"model.name: {exc}") from None


def _comparable(truth: list[Any], predicted: list[Any]) -> tuple[list[Any], list[Any]]:
    """Labels as one type: when the data and the model disagree (``1`` vs ``"1"``), as text."""
    kinds = {type(v).__name__ for v in truth} | {type(v).__name__ for v in predicted}
    numeric = {"int", "int64", "int32", "float", "float64", "bool", "bool_"}
    if kinds <= numeric or kinds <= {"str"}:
        return truth, predicted
    return [str(v) for v in truth], [str(v) for v in predicted]


def _finite(value: float) -> float:
    return float(value) if math.isfinite(float(value)) else float("nan")


def classification(
    truth: list[Any], predicted: list[Any], config: Mapping[str, Any], out: Path
) -> BenchmarkResult:
    from sklearn.metrics import (
        accuracy_score,
        confusion_matrix,
        precision_recall_fscore_support,
    )

    truth, predicted = _comparable(truth, predicted)
    labels = sorted(set(truth) | set(predicted), key=lambda v: (str(type(v)), v))
    positive = config.get("positive_label")
    metrics = {"accuracy": float(accuracy_score(truth, predicted))}
    if positive is not None:
        matches = [lab for lab in labels if str(lab) == str(positive)]
        if not matches:
            shown = ", ".join(map(str, labels[:20]))
            raise CairnError.invalid(
                f"config.positive_label: {positive!r} is not a label in the data ({shown})"
            )
        p, r, f, _ = precision_recall_fscore_support(
            truth, predicted, average="binary", pos_label=matches[0], zero_division=0
        )
        average = "binary"
    else:
        average = str(config.get("average", "macro"))
        p, r, f, _ = precision_recall_fscore_support(
            truth, predicted, average=average, labels=labels, zero_division=0
        )
    metrics.update(precision=_finite(p), recall=_finite(r), f1=_finite(f))
    per_p, per_r, per_f, support = precision_recall_fscore_support(
        truth, predicted, labels=labels, average=None, zero_division=0
    )
    for i, label in enumerate(labels[:MAX_PER_CLASS]):
        suffix = tables.metric_suffix(label)
        metrics[f"precision_{suffix}"] = _finite(per_p[i])
        metrics[f"recall_{suffix}"] = _finite(per_r[i])
        metrics[f"f1_{suffix}"] = _finite(per_f[i])
        metrics[f"support_{suffix}"] = float(support[i])
    matrix = confusion_matrix(truth, predicted, labels=labels)
    data = {
        "labels": [str(v) for v in labels],
        "matrix": matrix.tolist(),
        "rows": "true label",
        "columns": "predicted label",
    }
    (out / "confusion_matrix.json").write_text(json.dumps(data, indent=2), encoding="utf-8")
    artifacts = {"confusion_matrix.json": out / "confusion_matrix.json"}
    png = confusion_png(data, out / "confusion_matrix.png")
    if png is not None:
        artifacts["confusion_matrix.png"] = png
    return BenchmarkResult(
        metrics=metrics,
        params={"average": average, "classes": str(len(labels))},
        artifacts=artifacts,
        details={"labels": data["labels"], "confusion_matrix": data["matrix"]}
        if len(labels) <= 20
        else {},
    )


def confusion_png(data: dict[str, Any], target: Path) -> Path | None:
    """A heat map of the confusion matrix, when matplotlib is installed (no pyplot: the
    figure is private to this call, safe in a worker thread)."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        return None
    labels, matrix = data["labels"], data["matrix"]
    size = min(2 + 0.6 * len(labels), 12)
    figure = Figure(figsize=(size, size))
    axes = figure.add_subplot()
    axes.imshow(matrix, cmap="Blues")
    axes.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    axes.set_yticks(range(len(labels)), labels)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    axes.set_title("Confusion matrix")
    if len(labels) <= 20:
        dark = max((max(row) for row in matrix), default=0) / 2
        for i, row in enumerate(matrix):
            for j, count in enumerate(row):
                colour = "white" if count > dark else "black"
                axes.text(j, i, str(count), ha="center", va="center", fontsize=8, color=colour)
    figure.tight_layout()
    figure.savefig(target, dpi=80)
    return target


def regression(truth: list[Any], predicted: list[Any]) -> BenchmarkResult:
    from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

    try:
        y = [float(v) for v in truth]
        yhat = [float(v) for v in predicted]
    except (TypeError, ValueError):
        raise CairnError.invalid(
            "config.target: regression needs numbers in the target column and predictions"
        ) from None
    mse = float(mean_squared_error(y, yhat))
    r2 = float(r2_score(y, yhat)) if len(y) > 1 else float("nan")
    return BenchmarkResult(
        metrics={
            "mae": float(mean_absolute_error(y, yhat)),
            "mse": mse,
            "rmse": math.sqrt(mse),
            "r2": r2,
        }
    )


PROVIDER = register(CairnModelProvider())
