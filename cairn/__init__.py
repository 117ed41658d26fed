"""Cairn: experiment tracking and model lifecycle, wire-compatible with MLflow."""

__version__ = "0.1.0"
