"""The evaluation hub's providers: what can be evaluated and how (see :mod:`cairn.evals.provider`).

Providers know nothing of HTTP or SQL: the evaluation service (``cairn.services.evaluations``)
validates requests with them, runs them as jobs on the engine and records what they return as
runs. Each provider registers itself with :func:`cairn.evals.provider.register`.
"""
