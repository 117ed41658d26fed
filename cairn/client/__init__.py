"""Cairn's Python SDK; the public names are re-exported by ``cairn`` (see docs/sdk.md).

Modules, top floor first (each imports only from the floors below it): ``fluent`` (start_run,
log_metric …), ``models`` (log_model, load_model), ``client`` (Client), ``system_metrics``,
``batching`` (the background queue, spool and replay), ``rest`` (HTTP with retries, the
shared clients), ``embedded`` (the in-process server app), ``state`` (the process's tracking
URI and exit hook), ``config`` (tracking URI rules, settings); ``errors`` and ``entities`` are
leaves.
"""
