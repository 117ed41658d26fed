"""Artifact storage: one interface, a local folder or S3-compatible object storage behind it."""
