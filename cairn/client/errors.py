"""The SDK's exceptions: one base class, so ``except cairn.CairnClientError`` catches them all.

::

    CairnClientError
    ├── CairnConfigError         a tracking URI or setting the SDK cannot use
    ├── CairnUsageError          a call that makes no sense now (no active run, bad argument)
    ├── MissingDependencyError   an optional package (pandas, Pillow, psutil, …) is needed
    ├── CairnConnectionError     the server could not be reached, retries included
    ├── CairnRestError           the server answered with an error (status, error_code, message)
    └── DeliveryError            queued metrics/params/tags that could not be delivered

These are the client's errors; the server's internal ``cairn.entities.errors.CairnError`` is a
different class that never reaches SDK callers (it becomes an HTTP error response first).
``cairn.CairnError``, the SDK base class's former name, remains an alias of CairnClientError.
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "CairnClientError",
    "CairnConfigError",
    "CairnConnectionError",
    "CairnRestError",
    "CairnUsageError",
    "DeliveryError",
    "MissingDependencyError",
]


class CairnClientError(Exception):
    """Base class of every exception the Cairn SDK raises on purpose."""


class CairnConfigError(CairnClientError):
    """The tracking URI, an environment variable or a setting cannot be used."""


class CairnUsageError(CairnClientError, ValueError):
    """The call is not valid in this state: no active run, a bad argument, a param changed."""


class MissingDependencyError(CairnClientError, ImportError):
    """An optional package this call needs is not installed (the message says which)."""

    def __init__(self, package: str, purpose: str) -> None:
        super().__init__(
            f"{purpose} needs the '{package}' package, which is not installed. "
            f"Install it (pip install {package}) or install Cairn with its ml extra "
            "(pip install 'cairn-ml[ml]')."
        )
        self.package = package


class CairnConnectionError(CairnClientError, ConnectionError):
    """The tracking server did not answer (refused, timed out, reset), after retries."""

    def __init__(self, message: str, url: str = "") -> None:
        super().__init__(message)
        self.url = url


class CairnRestError(CairnClientError):
    """The server answered with an HTTP error: ``status`` (e.g. 404), MLflow's ``error_code``
    (e.g. ``RESOURCE_DOES_NOT_EXIST``) and its ``message``."""

    def __init__(self, status: int, error_code: str, message: str, endpoint: str = "") -> None:
        where = f" ({endpoint})" if endpoint else ""
        super().__init__(f"{status} {error_code}{where}: {message}")
        self.status = status
        self.error_code = error_code
        self.message = message
        self.endpoint = endpoint

    @property
    def is_client_error(self) -> bool:
        """A 4xx other than 408/429: the request itself is wrong and retrying cannot help."""
        return 400 <= self.status < 500 and self.status not in (408, 429)


class DeliveryError(CairnClientError):
    """Logged values that could not be delivered to the server. They were written to the
    spool file ``spool_path`` (replay them with :func:`cairn.replay_spool`); ``failures``
    holds one message per failed batch."""

    def __init__(self, failures: list[str], spool_path: Path | None) -> None:
        where = f"; kept in {spool_path} (replay with cairn.replay_spool())" if spool_path else ""
        head = "; ".join(failures[:3]) + (
            f" (+{len(failures) - 3} more)" if len(failures) > 3 else ""
        )
        super().__init__(f"{len(failures)} logging batch(es) could not be delivered{where}: {head}")
        self.failures = failures
        self.spool_path = spool_path
