"""Cairn's version, in a module of its own so that nothing imports the SDK facade for it."""

__version__ = "0.1.0"

MLFLOW_API_VERSION = "3.9.0"
"""The MLflow server version whose API Cairn speaks, answered at ``/version`` (mlflow 3.x
clients export spans over OTLP only to servers that say 3.4 or newer). Cairn's own version
is ``__version__``: ``/api/v1/version``, ``/api/3.0/mlflow/server-info``, ``cairn --version``."""
