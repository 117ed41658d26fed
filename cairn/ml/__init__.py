"""Machine-learning helpers with no HTTP: dataset descriptions and MLflow model directories.

NumPy, pandas, scikit-learn and cloudpickle (the ``ml`` extra) are imported inside the
functions that need them, so ``import cairn`` stays light.
"""

from cairn.ml.datasets import DatasetDescription, describe_dataset
from cairn.ml.models import ModelDescription, ModelMetadata, PyFuncModel, load_model_dir, save_model

__all__ = [
    "DatasetDescription",
    "ModelDescription",
    "ModelMetadata",
    "PyFuncModel",
    "describe_dataset",
    "load_model_dir",
    "save_model",
]
