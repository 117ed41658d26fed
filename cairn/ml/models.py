"""MLflow model directories: write one for a scikit-learn estimator, load one back.

``save_model`` writes the layout MLflow's model format defines, so the stock
``mlflow.pyfunc.load_model`` (and ``mlflow.sklearn.load_model``) read it::

    MLmodel              flavors (python_function + sklearn), signature, input example info
    model.pkl            the estimator, serialised with cloudpickle
    input_example.json   when an input example is given (+ serving_input_example.json)
    requirements.txt, python_env.yaml, conda.yaml

``load_model_dir`` reads a directory written by Cairn or by the stock client's
``mlflow.sklearn.save_model``/``log_model`` (pickle, cloudpickle, or skops when the skops
package is installed) and returns a ``PyFuncModel``.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

MLMODEL = "MLmodel"
MODEL_FILE = "model.pkl"
INPUT_EXAMPLE = "input_example.json"
SERVING_INPUT_EXAMPLE = "serving_input_example.json"
SKLEARN_LOADER = "mlflow.sklearn"
REQUIREMENT_PACKAGES = ("cloudpickle", "numpy", "pandas", "scikit-learn", "scipy")


@dataclass(frozen=True)
class ModelDescription:
    """What ``save_model`` wrote: the directory, its MLmodel contents and a few key fields."""

    path: str
    mlmodel: dict[str, Any]
    model_uuid: str
    signature: dict[str, Any] | None
    size_bytes: int
    flavors: tuple[str, ...] = field(default=("python_function", "sklearn"))


@dataclass(frozen=True)
class ModelMetadata:
    """A model directory's MLmodel file, parsed (``raw`` holds every field as read)."""

    raw: dict[str, Any]

    @property
    def flavors(self) -> dict[str, Any]:
        return dict(self.raw.get("flavors") or {})

    @property
    def model_uuid(self) -> str | None:
        return self.raw.get("model_uuid")

    @property
    def run_id(self) -> str | None:
        return self.raw.get("run_id")

    @property
    def signature(self) -> dict[str, Any] | None:
        """``{"inputs": [...], "outputs": [...]}`` with the JSON strings decoded."""
        stored = self.raw.get("signature")
        if not stored:
            return None
        decoded = {k: json.loads(v) if isinstance(v, str) else v for k, v in stored.items()}
        if decoded.get("params") is None:
            decoded.pop("params", None)
        return decoded


class PyFuncModel:
    """A loaded model: ``predict(data)`` like MLflow's pyfunc, plus the estimator itself."""

    def __init__(self, model: Any, metadata: ModelMetadata, predict_fn: str = "predict"):
        self._model = model
        self.metadata = metadata
        self._predict_fn = predict_fn

    def __repr__(self) -> str:
        return f"PyFuncModel({type(self._model).__name__}, uuid={self.metadata.model_uuid})"

    def get_raw_model(self) -> Any:
        """The underlying estimator (for ``predict_proba``, ``feature_importances_``, …)."""
        return self._model

    def predict(self, data: Any) -> Any:
        """The estimator's prediction for ``data`` (DataFrame, array, dict or list of rows);
        DataFrame columns are put in the signature's order and numbers cast to its types."""
        return getattr(self._model, self._predict_fn)(self._prepare(data))

    def predict_proba(self, data: Any) -> Any:
        """Class probabilities, when the estimator has ``predict_proba``."""
        if not hasattr(self._model, "predict_proba"):
            raise AttributeError(f"{type(self._model).__name__} has no predict_proba")
        return self._model.predict_proba(self._prepare(data))

    def _prepare(self, data: Any) -> Any:
        import pandas as pd

        if isinstance(data, dict) or (
            isinstance(data, list) and data and all(isinstance(r, dict) for r in data)
        ):
            data = pd.DataFrame(data)
        signature = self.metadata.signature
        inputs = signature.get("inputs") if signature else None
        if not isinstance(data, pd.DataFrame) or not inputs:
            return data
        named = [spec for spec in inputs if isinstance(spec, dict) and "name" in spec]
        if not named or len(named) != len(inputs):
            return data
        missing = [spec["name"] for spec in named if spec["name"] not in data.columns]
        if missing:
            raise ValueError(f"data: missing input column(s) {missing} required by the model")
        frame = data[[spec["name"] for spec in named]].copy()
        for spec in named:
            if spec.get("type") in ("double", "float"):
                frame[spec["name"]] = frame[spec["name"]].astype(
                    "float64" if spec["type"] == "double" else "float32"
                )
        return frame


def save_model(
    estimator: Any,
    path: str | os.PathLike[str],
    input_example: Any = None,
    signature: dict[str, Any] | None = None,
    *,
    mlmodel_fields: dict[str, Any] | None = None,
) -> ModelDescription:
    """Write ``estimator`` as an MLflow model directory at ``path`` (new or empty).

    ``signature`` is ``{"inputs": [...], "outputs": [...]}`` (lists of MLflow column or
    tensor specs, or their JSON strings); without it the signature is inferred from
    ``input_example`` and the estimator's prediction for it. ``mlmodel_fields`` adds
    top-level MLmodel fields (``run_id``, ``artifact_path``, ``model_id``).
    """
    import cloudpickle

    target = Path(path)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ValueError(f"path: {str(target)!r} already exists and is not an empty directory")
    if not callable(getattr(estimator, "predict", None)):
        raise TypeError(f"estimator: {type(estimator).__name__} has no predict method")
    target.mkdir(parents=True, exist_ok=True)
    with (target / MODEL_FILE).open("wb") as handle:
        cloudpickle.dump(estimator, handle)
    mlmodel: dict[str, Any] = {
        "flavors": {
            "python_function": {
                "env": {"conda": "conda.yaml", "virtualenv": "python_env.yaml"},
                "loader_module": SKLEARN_LOADER,
                "model_path": MODEL_FILE,
                "predict_fn": "predict",
                "python_version": platform.python_version(),
            },
            "sklearn": {
                "code": None,
                "pickled_model": MODEL_FILE,
                "serialization_format": "cloudpickle",
                "sklearn_version": _version("scikit-learn"),
            },
        },
        "model_uuid": uuid.uuid4().hex,
        "saved_by": f"cairn {_version('cairn-ml')}",
        "utc_time_created": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f"),
    }
    example_frame = None
    if input_example is not None:
        example_frame, info = _write_input_example(target, input_example)
        mlmodel["saved_input_example_info"] = info
    sig = _normalise_signature(signature) if signature is not None else None
    if sig is None and example_frame is not None:
        sig = infer_signature(example_frame, estimator.predict(example_frame))
    if sig is not None:
        mlmodel["signature"] = {
            "inputs": json.dumps(sig["inputs"]),
            "outputs": json.dumps(sig["outputs"]) if sig.get("outputs") else None,
            "params": None,
        }
    _write_environment(target)
    mlmodel.update(mlmodel_fields or {})
    size = sum(f.stat().st_size for f in target.rglob("*") if f.is_file())
    mlmodel["model_size_bytes"] = size
    with (target / MLMODEL).open("w") as handle:
        yaml.safe_dump(mlmodel, handle, sort_keys=True)
    return ModelDescription(
        path=str(target),
        mlmodel=mlmodel,
        model_uuid=mlmodel["model_uuid"],
        signature=sig,
        size_bytes=size,
    )


def load_model_dir(path: str | os.PathLike[str]) -> PyFuncModel:
    """Load an MLflow model directory with a scikit-learn model (from Cairn or mlflow)."""
    root = Path(path)
    mlmodel_path = root / MLMODEL
    if not mlmodel_path.is_file():
        raise ValueError(f"path: {str(root)!r} is not a model directory (no {MLMODEL} file)")
    with mlmodel_path.open() as handle:
        raw = yaml.safe_load(handle) or {}
    if not isinstance(raw, dict):
        raise ValueError(f"path: {str(mlmodel_path)!r} is not a valid {MLMODEL} file")
    metadata = ModelMetadata(raw)
    flavors = metadata.flavors
    pyfunc = flavors.get("python_function") or {}
    sklearn = flavors.get("sklearn")
    if sklearn is not None:
        file_name = sklearn.get("pickled_model") or pyfunc.get("model_path") or MODEL_FILE
        fmt = sklearn.get("serialization_format") or "cloudpickle"
        trusted = sklearn.get("skops_trusted_types")
    elif pyfunc.get("loader_module") == SKLEARN_LOADER:
        file_name = pyfunc.get("model_path") or MODEL_FILE
        fmt, trusted = "cloudpickle", None
    else:
        found = ", ".join(sorted(flavors)) or "none"
        raise ValueError(
            f"path: Cairn loads scikit-learn models (the sklearn flavour, or python_function "
            f"with loader_module {SKLEARN_LOADER}); this model's flavours: {found}"
        )
    model_file = (root / file_name).resolve()
    if not model_file.is_relative_to(root.resolve()) or not model_file.is_file():
        raise ValueError(f"path: the model file {file_name!r} is missing from {str(root)!r}")
    model = _deserialise(model_file, fmt, trusted)
    return PyFuncModel(model, metadata, str(pyfunc.get("predict_fn") or "predict"))


def _deserialise(model_file: Path, fmt: str, trusted: Any) -> Any:
    if fmt in ("pickle", "cloudpickle"):
        import cloudpickle

        with model_file.open("rb") as handle:
            return cloudpickle.load(handle)
    if fmt == "skops":
        try:
            import skops.io
        except ImportError as exc:
            raise ValueError(
                "path: the model is stored in the skops format; install skops to load it"
            ) from exc
        return skops.io.load(model_file, trusted=list(trusted or []))
    raise ValueError(f"path: unknown sklearn serialization_format {fmt!r}")


# -- signatures ----------------------------------------------------------------------------


def infer_signature(inputs: Any, outputs: Any = None) -> dict[str, Any]:
    """MLflow signature specs for an input example and the model's output on it."""
    import numpy as np
    import pandas as pd

    from cairn.ml.datasets import table_schema

    sig: dict[str, Any] = {"inputs": _spec(inputs, table_schema), "outputs": None}
    if outputs is not None:
        if isinstance(outputs, (pd.DataFrame, pd.Series)):
            sig["outputs"] = _spec(outputs, table_schema)
        else:
            sig["outputs"] = _spec(np.asarray(outputs), table_schema)
    return sig


def _spec(value: Any, table_schema: Any) -> list[dict[str, Any]]:
    import numpy as np
    import pandas as pd

    if isinstance(value, pd.Series):
        value = value.to_frame(name=str(value.name) if value.name is not None else "0")
    if isinstance(value, pd.DataFrame):
        frame = value.copy(deep=False)
        frame.columns = [str(c) for c in frame.columns]
        return [{**spec, "required": True} for spec in table_schema(frame)]
    array = np.asarray(value)
    return [
        {
            "type": "tensor",
            "tensor-spec": {"dtype": _tensor_dtype(array.dtype), "shape": [-1, *array.shape[1:]]},
        }
    ]


def _tensor_dtype(dtype: Any) -> str:
    """MLflow's dtype names: sized text types become ``str``/``bytes``."""
    return {"U": "str", "S": "bytes"}.get(dtype.kind, str(dtype.name))


def _normalise_signature(signature: Any) -> dict[str, Any]:
    if not isinstance(signature, dict) or "inputs" not in signature:
        raise ValueError('signature: expected {"inputs": [...], "outputs": [...]}')
    out: dict[str, Any] = {}
    for key in ("inputs", "outputs"):
        value = signature.get(key)
        if isinstance(value, str):
            value = json.loads(value)
        if value is not None and not isinstance(value, list):
            raise ValueError(f"signature: {key} must be a list of column or tensor specs")
        out[key] = value
    return out


# -- input example and environment ---------------------------------------------------------


def _write_input_example(target: Path, example: Any) -> tuple[Any, dict[str, Any]]:
    """Write the example as MLflow does; return it as the model sees it, and its info."""
    import numpy as np
    import pandas as pd

    if isinstance(example, dict) and not all(np.ndim(v) >= 1 for v in example.values()):
        example = pd.DataFrame([example])
    elif isinstance(example, (dict, list)):
        example = pd.DataFrame(example)
    elif isinstance(example, pd.Series):
        example = example.to_frame()
    if isinstance(example, pd.DataFrame):
        frame = example.copy(deep=False)
        payload = json.loads(frame.to_json(orient="split", index=False, date_format="iso"))
        payload.pop("index", None)
        (target / INPUT_EXAMPLE).write_text(json.dumps(payload))
        (target / SERVING_INPUT_EXAMPLE).write_text(
            json.dumps({"dataframe_split": payload}, indent=2)
        )
        info = {
            "artifact_path": INPUT_EXAMPLE,
            "pandas_orient": "split",
            "serving_input_path": SERVING_INPUT_EXAMPLE,
            "type": "dataframe",
        }
        return frame, info
    array = np.asarray(example)
    (target / INPUT_EXAMPLE).write_text(json.dumps({"inputs": array.tolist()}))
    (target / SERVING_INPUT_EXAMPLE).write_text(json.dumps({"inputs": array.tolist()}, indent=2))
    info = {
        "artifact_path": INPUT_EXAMPLE,
        "format": "tf-serving",
        "serving_input_path": SERVING_INPUT_EXAMPLE,
        "type": "ndarray",
    }
    return array, info


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def _write_environment(target: Path) -> None:
    pins = [f"{p}=={v}" for p in REQUIREMENT_PACKAGES if (v := _version(p))]
    requirements = ["mlflow", *pins]
    (target / "requirements.txt").write_text("\n".join(requirements) + "\n")
    python = platform.python_version()
    build = [f"{p}=={v}" if (v := _version(p)) else p for p in ("pip", "setuptools")]
    python_env = {
        "python": python,
        "build_dependencies": [*build, "wheel"],
        "dependencies": ["-r requirements.txt"],
    }
    (target / "python_env.yaml").write_text(yaml.safe_dump(python_env, sort_keys=False))
    conda = {
        "name": "cairn-model-env",
        "channels": ["conda-forge"],
        "dependencies": [f"python={python}", "pip", {"pip": requirements}],
    }
    (target / "conda.yaml").write_text(yaml.safe_dump(conda, sort_keys=False))
