"""Where the SDK sends data: tracking URI rules, embedded-store layout, auth and tunables."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar
from urllib.parse import unquote, urlparse

from cairn.client.errors import CairnConfigError
from cairn.home import DEFAULT_HOME, HOME_VARIABLE

N = TypeVar("N", int, float)


@dataclass(frozen=True)
class Target:
    """A resolved tracking URI: a server URL, or an embedded store run in-process."""

    uri: str  # as the user gave it, normalised (absolute paths)
    url: str | None = None  # http(s) base URL for a remote server
    backend_store_uri: str | None = None  # embedded: the SQLAlchemy URI of the store
    artifacts_destination: str | None = None  # embedded: where artifact files go

    @property
    def embedded(self) -> bool:
        return self.url is None


def default_tracking_uri() -> str:
    """The embedded store `cairn server` uses by default: ``$CAIRN_HOME`` or ./cairn-data."""
    return os.environ.get(HOME_VARIABLE, DEFAULT_HOME)


def env_tracking_uri() -> str | None:
    return os.environ.get("CAIRN_TRACKING_URI") or os.environ.get("MLFLOW_TRACKING_URI") or None


def resolve_target(uri: str | None) -> Target:
    """Turn a tracking URI into a :class:`Target`.

    * ``http://…`` / ``https://…``: a Cairn (or MLflow) server.
    * a directory path, ``file:path`` or ``file:///abs/path``: the embedded store laid out as
      `cairn server` lays out its data directory: ``<dir>/cairn.db`` and ``<dir>/artifacts``.
    * ``sqlite:///path/to/file.db``: the embedded store in that file, artifacts in
      ``<file's folder>/artifacts``.
    * ``postgresql…://`` or ``mysql…://``: embedded on PostgreSQL or MySQL/MariaDB, artifacts
      in ``$CAIRN_HOME/artifacts`` (default ./cairn-data/artifacts).
    """
    raw = uri if uri is not None else (env_tracking_uri() or default_tracking_uri())
    raw = raw.strip()
    if not raw:
        raise CairnConfigError("The tracking URI is empty")
    scheme = raw.split(":", 1)[0].lower() if ":" in raw else ""
    if scheme in ("http", "https"):
        parsed = urlparse(raw)
        if not parsed.netloc:
            raise CairnConfigError(f"Tracking URI '{raw}' has no host")
        return Target(uri=raw.rstrip("/"), url=raw.rstrip("/"))
    if scheme == "sqlite":
        if not raw.startswith("sqlite:///"):
            raise CairnConfigError(
                f"Tracking URI '{raw}': a SQLite URI needs a file path, sqlite:///path/to/file.db"
            )
        path = Path(raw[len("sqlite:///") :]).expanduser().resolve()
        return Target(
            uri=f"sqlite:///{path}",
            backend_store_uri=f"sqlite:///{path}",
            artifacts_destination=str(path.parent / "artifacts"),
        )
    if scheme.startswith(("postgresql", "mysql")):
        home = Path(default_tracking_uri()).expanduser().resolve()
        return Target(uri=raw, backend_store_uri=raw, artifacts_destination=str(home / "artifacts"))
    if scheme == "file":
        parsed = urlparse(raw)
        if parsed.netloc not in ("", "localhost"):
            raise CairnConfigError(f"Tracking URI '{raw}': file URIs must be local")
        raw_path = unquote(parsed.path) if raw.startswith("file://") else raw[len("file:") :]
        return _directory(raw_path)
    if scheme and len(scheme) > 1:  # "c:" style drive letters are paths, other schemes are not
        raise CairnConfigError(
            f"Unsupported tracking URI '{raw}': use http(s)://host:port for a server, or a "
            "folder path, file:path or sqlite:///file.db for the embedded store"
        )
    return _directory(raw)


def _directory(raw_path: str) -> Target:
    path = Path(raw_path).expanduser().resolve()
    if path.exists() and not path.is_dir():
        raise CairnConfigError(
            f"Tracking URI '{raw_path}' is a file, not a folder; the embedded store needs a "
            "folder (use sqlite:///file.db to name the database file)"
        )
    return Target(
        uri=str(path),
        backend_store_uri=f"sqlite:///{path / 'cairn.db'}",
        artifacts_destination=str(path / "artifacts"),
    )


TRACKING = "MLFLOW_TRACKING_"
"""The prefix of the variables the mlflow client (and Cairn's) authenticates with."""
SOURCE_TRACKING = "MLFLOW_SOURCE_TRACKING_"
"""The prefix an import's source server is authenticated with, when any such variable is set
(``cairn import mlflow``: the source and the destination each with their own credentials)."""
_CREDENTIALS = ("USERNAME", "PASSWORD", "TOKEN", "INSECURE_TLS", "SERVER_CERT_PATH")


def source_prefix() -> str:
    """:data:`SOURCE_TRACKING` when one of its variables is set, else :data:`TRACKING` (one
    set of credentials for both sides, as before the source had its own)."""
    if any(os.environ.get(SOURCE_TRACKING + name) for name in _CREDENTIALS):
        return SOURCE_TRACKING
    return TRACKING


def auth_headers(prefix: str = TRACKING) -> dict[str, str]:
    """Bearer auth from ``MLFLOW_TRACKING_TOKEN``, unless basic auth is set (as the mlflow
    client does: a username and a password both given win over a token)."""
    token = os.environ.get(f"{prefix}TOKEN")
    return {"Authorization": f"Bearer {token}"} if token and basic_auth(prefix) is None else {}


def basic_auth(prefix: str = TRACKING) -> tuple[str, str] | None:
    """``MLFLOW_TRACKING_USERNAME`` and ``MLFLOW_TRACKING_PASSWORD``, when both are set (one
    alone is ignored, as the mlflow client ignores it)."""
    user = os.environ.get(f"{prefix}USERNAME")
    password = os.environ.get(f"{prefix}PASSWORD")
    if not user or not password:
        return None
    return (user, password)


def tls_verify(prefix: str = TRACKING) -> bool | str:
    if env_bool(f"{prefix}INSECURE_TLS", False):
        return False
    return os.environ.get(f"{prefix}SERVER_CERT_PATH") or True


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise CairnConfigError(f"{name}={raw!r} is not a boolean (use true or false)")


def env_float(name: str, default: float, minimum: float = 0.0) -> float:
    return _env_number(name, default, minimum, float, "a number")


def env_int(name: str, default: int, minimum: int = 1) -> int:
    return _env_number(name, default, minimum, int, "an integer")


def _env_number(name: str, default: N, minimum: N, parse: Callable[[str], N], kind: str) -> N:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = parse(raw)
    except ValueError:
        raise CairnConfigError(f"{name}={raw!r} is not {kind}") from None
    if value < minimum:
        raise CairnConfigError(f"{name}={raw!r} must be at least {minimum}")
    return value


def spool_dir() -> Path:
    """Where undeliverable logging batches are kept: ``$CAIRN_SPOOL_DIR`` or ~/.cairn/spool."""
    raw = os.environ.get("CAIRN_SPOOL_DIR")
    return Path(raw).expanduser() if raw else Path.home() / ".cairn" / "spool"
