"""Cairn's Python SDK; the public names are re-exported by ``cairn`` (see docs/sdk.md).

Modules: ``fluent`` (start_run, log_metric …), ``client`` (Client), ``batching`` (the
background queue, spool and replay), ``rest`` (HTTP with retries), ``embedded`` (the
in-process server app), ``config`` (tracking URIs), ``errors``, ``entities``, ``models``,
``system_metrics``.
"""
