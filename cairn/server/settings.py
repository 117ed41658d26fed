"""Server settings: one declared table (:data:`SETTINGS`) of every ``CAIRN_*`` variable with
its default, parser and help. :meth:`Settings.from_env` and :meth:`Settings.to_env` read it,
`cairn server --help` takes its option help from it, and tests/unit/test_docs.py checks that
docs/server.md lists every row."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from cairn.entities.errors import CairnError
from cairn.home import DEFAULT_HOME, HOME_VARIABLE

T = TypeVar("T")


def data_dir() -> Path:
    return Path(os.environ.get(HOME_VARIABLE, DEFAULT_HOME)).resolve()


def default_backend_uri() -> str:
    return f"sqlite:///{data_dir() / 'cairn.db'}"


def default_artifacts_destination() -> str:
    return str(data_dir() / "artifacts")


_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def _text(raw: str) -> str:
    return raw


def _flag(raw: str) -> bool:
    word = raw.strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise ValueError(f"expected one of {', '.join(_TRUE + _FALSE)}")


def _bytes(raw: str) -> int:
    try:
        value = int(raw.strip())
    except ValueError:
        raise ValueError("expected a whole number of bytes") from None
    if value < 0:
        raise ValueError("a size cannot be negative")
    return value


def _names(raw: str) -> tuple[str, ...]:
    """A comma-separated list: blanks around names and empty names dropped."""
    return tuple(name.strip() for name in raw.split(",") if name.strip())


def _hosts(raw: str) -> tuple[str, ...]:
    names = _names(raw)
    if not names:
        raise ValueError("expected at least one host name (* for any)")
    return names


def _public_url(raw: str) -> str:
    """An http(s) base URL (scheme, host, optional port and path prefix), no trailing slash."""
    from urllib.parse import urlsplit

    value = raw.strip().rstrip("/")
    if not value:
        return ""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("expected an http:// or https:// URL such as https://cairn.example.com")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError("expected a base URL without credentials, query or fragment")
    return value


SYNCHRONOUS = ("NORMAL", "FULL")
LOG_FORMATS = ("text", "json")


def _log_format(raw: str) -> str:
    value = raw.strip().lower()
    if value not in LOG_FORMATS:
        raise ValueError(f"expected {' or '.join(LOG_FORMATS)}")
    return value


def _synchronous(raw: str) -> str:
    value = raw.strip().upper()
    if value not in SYNCHRONOUS:
        raise ValueError(f"expected {' or '.join(SYNCHRONOUS)}")
    return value


@dataclass(frozen=True)
class Setting(Generic[T]):
    """One row of the table: a :class:`Settings` field and the variable that sets it."""

    name: str
    env: str
    default: Callable[[], T]
    parse: Callable[[str], T]
    help: str
    shown_default: str
    option: str | None = None
    """The `cairn server` option that sets it too (the option wins over the variable)."""
    fallback: tuple[str, ...] = ()
    """Variables read when ``env`` is unset (MLflow's own names)."""

    def convert(self, raw: str, variable: str | None = None) -> T:
        """``raw`` parsed, or a :class:`CairnError` naming the variable and the value."""
        try:
            return self.parse(raw)
        except ValueError as exc:
            raise CairnError.invalid(f"{variable or self.env}={raw!r}: {exc}") from None

    def read(self, environ: Mapping[str, str]) -> T:
        for variable in (self.env, *self.fallback):
            raw = environ.get(variable)
            if raw:  # unset or empty: the next name, then the default
                return self.convert(raw, variable)
        return self.default()

    def text(self, value: object) -> str:
        """``value`` as this setting's variable holds it."""
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, tuple):
            return ",".join(value)
        return str(value)


BACKEND_STORE_URI = Setting(
    "backend_store_uri",
    "CAIRN_BACKEND_STORE_URI",
    default_backend_uri,
    _text,
    "SQLAlchemy URI of the store: sqlite:///path.db, postgresql+psycopg://user@host:5432/db "
    "or mysql+pymysql://user@host:3306/db (MariaDB 10.11+; MySQL lacks INSERT … RETURNING)",
    f"a SQLite file in the data directory {DEFAULT_HOME}, or ${HOME_VARIABLE}",
    option="--backend-store-uri",
)
ARTIFACTS_DESTINATION = Setting(
    "artifacts_destination",
    "CAIRN_ARTIFACTS_DESTINATION",
    default_artifacts_destination,
    _text,
    "Where artifact files live: a folder (./path, /abs/path, file:///abs/path) or "
    "S3-compatible storage (s3://bucket/prefix; endpoint from MLFLOW_S3_ENDPOINT_URL, "
    "credentials from the AWS variables)",
    "the data directory's artifacts/",
    option="--artifacts-destination",
)
SERVE_ARTIFACTS = Setting(
    "serve_artifacts",
    "CAIRN_SERVE_ARTIFACTS",
    lambda: True,
    _flag,
    "Proxy artifacts through the server (runs get mlflow-artifacts:/ URIs), or hand "
    "clients the storage URI to write to themselves",
    "serve",
    option="--serve-artifacts",
)
PUBLIC_URL = Setting(
    "public_url",
    "CAIRN_PUBLIC_URL",
    lambda: "",
    _public_url,
    "The server's address as clients reach it (https://cairn.example.com, with any path "
    "prefix a proxy adds); the multipart upload part URLs handed to clients start with it",
    "the address of each request",
    option="--public-url",
)
MAX_ARTIFACT_BYTES = Setting(
    "max_artifact_bytes",
    "CAIRN_MAX_ARTIFACT_BYTES",
    lambda: 0,
    _bytes,
    "Largest single artifact upload in bytes; larger ones get 413 and are not stored",
    "0, no limit",
    option="--max-artifact-bytes",
)
TRUNCATE_LONG_VALUES = Setting(
    "truncate_long_values",
    "CAIRN_TRUNCATE_LONG_VALUES",
    lambda: True,
    _flag,
    "Cut params over 6000 and tags over 8000 characters (MLflow's default), or reject "
    "them with 400",
    "truncate, or $MLFLOW_TRUNCATE_LONG_VALUES",
    option="--truncate-long-values",
    fallback=("MLFLOW_TRUNCATE_LONG_VALUES",),
)
MAX_REQUEST_BYTES = Setting(
    "max_request_bytes",
    "CAIRN_MAX_REQUEST_BYTES",
    lambda: 32 * 1024 * 1024,
    _bytes,
    "Largest JSON request body accepted by the tracking API, in bytes; a larger one gets "
    "413 before it is read",
    "33554432",
)
SQLITE_SYNCHRONOUS = Setting(
    "sqlite_synchronous",
    "CAIRN_SQLITE_SYNCHRONOUS",
    lambda: "NORMAL",
    _synchronous,
    "SQLite durability: NORMAL (WAL: safe against crashes, may lose the last commits on "
    "power loss) or FULL (fsync on every commit group)",
    "NORMAL",
)
SHARED_STORE = Setting(
    "shared_store",
    "CAIRN_SHARED_STORE",
    lambda: False,
    _flag,
    "More than one server process writes to the store (`cairn server --workers N` sets it)",
    "false",
)
ALLOWED_HOSTS = Setting(
    "allowed_hosts",
    "CAIRN_ALLOWED_HOSTS",
    lambda: ("*",),
    _hosts,
    "Host names the server answers to, comma-separated (name = any port, name:port, "
    "*.domain, * = any); a request with another Host header gets 403 (DNS rebinding)",
    "listening on loopback: localhost, 127.0.0.1, [::1]; on another address: it and "
    "those; on 0.0.0.0 or ::, any (with a warning); an app built in-process: any",
    option="--allowed-hosts",
)
CORS_ALLOWED_ORIGINS = Setting(
    "cors_allowed_origins",
    "CAIRN_CORS_ALLOWED_ORIGINS",
    lambda: (),
    _names,
    "Other web origins (https://app.example.com) whose pages may call the API from a "
    "browser, comma-separated (* = any); writes from other origins get 403",
    "none",
    option="--cors-allowed-origins",
)
AUTH = Setting(
    "auth",
    "CAIRN_AUTH",
    lambda: False,
    _flag,
    "Require users and check permissions on every request (the first admin comes from "
    "CAIRN_ADMIN_USERNAME and CAIRN_ADMIN_PASSWORD, or `cairn users create NAME --admin`)",
    "false",
    option="--auth",
)


def _permission(raw: str) -> str:
    word = raw.strip().upper()
    if word not in PERMISSIONS:
        raise ValueError(f"expected one of {', '.join(PERMISSIONS)}")
    return word


PERMISSIONS = ("READ", "USE", "EDIT", "MANAGE", "NO_PERMISSIONS")

DEFAULT_PERMISSION = Setting(
    "default_permission",
    "CAIRN_DEFAULT_PERMISSION",
    lambda: "READ",
    _permission,
    "With --auth: what a user may do with an experiment or registered model they have no "
    "grant on (READ, USE, EDIT, MANAGE or NO_PERMISSIONS)",
    "READ",
    option="--default-permission",
)


def _days(raw: str) -> int:
    try:
        days = int(raw.strip())
    except ValueError:
        raise ValueError("expected a whole number of days") from None
    if days < 1:
        raise ValueError("the retention period must be at least 1 day")
    return days


AUDIT_RETENTION_DAYS = Setting(
    "audit_retention_days",
    "CAIRN_AUDIT_RETENTION_DAYS",
    lambda: 2557,
    _days,
    "How long change events (the audit trail) are kept, in days: the daily `audit.prune` "
    "periodic job (and `cairn audit prune`) removes older ones, and nothing else ever does",
    "2557 (7 years)",
)


def _secret(raw: str) -> str:
    if len(raw) < 16:
        raise ValueError("the audit key must be at least 16 characters")
    return raw


AUDIT_KEY = Setting(
    "audit_key",
    "CAIRN_AUDIT_KEY",
    lambda: "",
    _secret,
    "A secret that keys the audit trail's hash chain (HMAC-SHA-256): with it set, rewriting "
    "the chain needs the key as well as the database. Every server and `cairn audit verify` "
    "must use the same key; it is never logged or shown",
    "unset (plain SHA-256 chain)",
)


def _key(raw: str) -> str:
    if len(raw) < 16:
        raise ValueError("the secret key must be at least 16 characters")
    return raw


SECRET_KEY = Setting(
    "secret_key",
    "CAIRN_SECRET_KEY",
    lambda: "",
    _key,
    "The key that encrypts secrets Cairn must use again (webhook signing secrets) in the "
    "database. Every server and worker of one store must use the same key; when unset, a "
    "random key is written once to `<CAIRN_HOME>/secret.key` (fine for one machine). Never "
    "logged or shown",
    "unset (the key file)",
)


def _allow(raw: str) -> tuple[str, ...]:
    return _names(raw)


WEBHOOK_ALLOW_HOSTS = Setting(
    "webhook_allow_hosts",
    "CAIRN_WEBHOOK_ALLOW_HOSTS",
    lambda: (),
    _allow,
    "Comma-separated hosts, addresses or networks (`hooks.internal,127.0.0.1,10.1.0.0/16`) "
    "that webhooks may target although they are not public; matched against the URL's host "
    "as written (listing `127.0.0.1` does not allow `localhost`)",
    "none (public addresses only)",
)


def _seconds(raw: str) -> float:
    try:
        value = float(raw.strip())
    except ValueError:
        raise ValueError("expected a number of seconds") from None
    if not 0 < value <= 300:
        raise ValueError("expected more than 0 and at most 300 seconds")
    return value


WEBHOOK_TIMEOUT = Setting(
    "webhook_timeout",
    "CAIRN_WEBHOOK_TIMEOUT",
    lambda: 10.0,
    _seconds,
    "Seconds one webhook delivery attempt may take (connect, send, answer)",
    "10",
)


def _count(low: int, high: int) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        try:
            value = int(raw.strip())
        except ValueError:
            raise ValueError("expected a whole number") from None
        if not low <= value <= high:
            raise ValueError(f"expected {low} to {high}")
        return value

    return parse


DB_POOL_SIZE = Setting(
    "db_pool_size",
    "CAIRN_DB_POOL_SIZE",
    lambda: 8,
    _count(1, 1000),
    "Database connections each server or worker process keeps open (PostgreSQL and MySQL; "
    "SQLite's readers); "
    "under load it may open as many again twice over, so one process uses at most 3 × this "
    "(docs/deploy.md sizes it against the database's max_connections)",
    "8",
)

DB_GROUP_COMMIT = Setting(
    "db_group_commit",
    "CAIRN_DB_GROUP_COMMIT",
    lambda: False,
    _flag,
    "PostgreSQL: commit writes that arrive together in one transaction (a savepoint each, "
    "one COMMIT) through one writer per process; off, each write is its own transaction "
    "(the default: measured faster, docs/benchmarks.md)",
    "false",
)

WEBHOOK_MAX_ATTEMPTS = Setting(
    "webhook_max_attempts",
    "CAIRN_WEBHOOK_MAX_ATTEMPTS",
    lambda: 8,
    _count(1, 50),
    "Attempts per webhook delivery before it fails for good (retries on 408, 429, 5xx and "
    "network errors, 10 s doubling up to an hour, or the receiver's `Retry-After`)",
    "8",
)

WEBHOOK_DISABLE_AFTER = Setting(
    "webhook_disable_after",
    "CAIRN_WEBHOOK_DISABLE_AFTER",
    lambda: 10,
    _count(0, 10000),
    "Disable a webhook after this many of its deliveries in a row failed for good (an "
    "event `webhook.disable` records it); 0 never disables",
    "10",
)

WEBHOOK_CA_BUNDLE = Setting(
    "webhook_ca_bundle",
    "CAIRN_WEBHOOK_CA_BUNDLE",
    lambda: "",
    _text,
    "A PEM file of CA certificates that https webhook receivers' certificates are checked "
    "against (an internal CA); when unset, the usual public CAs",
    "unset (public CAs)",
)
QUEUE_URI = Setting(
    "queue_uri",
    "CAIRN_QUEUE_URI",
    lambda: "",
    _text,
    "The job queue (Huey) that carries job ids to workers: sqlite:///path/queue.db, "
    "postgresql://user@host:5432/db, redis://host:6379/N or memory: (this process only)",
    "follows the store: a SQLite file beside a SQLite store (cairn.queue.db), the store's own "
    "database on PostgreSQL, memory: on MySQL",
    option="--queue-uri",
)
RUN_JOBS = Setting(
    "run_jobs",
    "CAIRN_RUN_JOBS",
    lambda: True,
    _flag,
    "Run background jobs in the server (one worker thread, the outbox consumers and the "
    "periodic jobs); off, the server only enqueues and `cairn worker` processes run them",
    "true",
    option="--worker/--no-worker",
)
JOB_LEASE_SECONDS = Setting(
    "job_lease_seconds",
    "CAIRN_JOB_LEASE_SECONDS",
    lambda: 60.0,
    _seconds,
    "How long a worker's claim on a running job lasts without being renewed (the worker "
    "renews it every third of this, at most every 2 s); a job whose worker died is given to "
    "another once it has lapsed (the reaper looks every 5 s)",
    "60",
)
LOG_FORMAT = Setting(
    "log_format",
    "CAIRN_LOG_FORMAT",
    lambda: "text",
    _log_format,
    "The server's log on stderr: text (uvicorn's lines) or json (one JSON object per line, "
    "with the request id the response echoes; with --access-log one record per request)",
    "text",
    option="--log-format",
)
ACCESS_LOG = Setting(
    "access_log",
    "CAIRN_ACCESS_LOG",
    lambda: False,
    _flag,
    "Log every request: uvicorn's line in the text log, a record with the route, status, "
    "duration, request id and actor in the JSON log (never the query string or headers)",
    "false",
    option="--access-log/--no-access-log",
)

SETTINGS: tuple[Setting[Any], ...] = (
    BACKEND_STORE_URI,
    ARTIFACTS_DESTINATION,
    SERVE_ARTIFACTS,
    PUBLIC_URL,
    MAX_ARTIFACT_BYTES,
    TRUNCATE_LONG_VALUES,
    MAX_REQUEST_BYTES,
    SQLITE_SYNCHRONOUS,
    SHARED_STORE,
    DB_POOL_SIZE,
    DB_GROUP_COMMIT,
    ALLOWED_HOSTS,
    CORS_ALLOWED_ORIGINS,
    AUTH,
    DEFAULT_PERMISSION,
    AUDIT_RETENTION_DAYS,
    AUDIT_KEY,
    SECRET_KEY,
    WEBHOOK_ALLOW_HOSTS,
    WEBHOOK_TIMEOUT,
    WEBHOOK_MAX_ATTEMPTS,
    WEBHOOK_DISABLE_AFTER,
    WEBHOOK_CA_BUNDLE,
    QUEUE_URI,
    RUN_JOBS,
    JOB_LEASE_SECONDS,
    LOG_FORMAT,
    ACCESS_LOG,
)
"""Every setting, in :class:`Settings` field order."""

VARIABLES: tuple[str, ...] = (HOME_VARIABLE, *(s.env for s in SETTINGS))
"""Every variable the server reads: the data directory, then the table."""


@dataclass(frozen=True)
class Settings:
    """The server's settings; the defaults and meanings are the rows of :data:`SETTINGS`."""

    backend_store_uri: str = field(default_factory=BACKEND_STORE_URI.default)
    artifacts_destination: str = field(default_factory=ARTIFACTS_DESTINATION.default)
    serve_artifacts: bool = field(default_factory=SERVE_ARTIFACTS.default)
    public_url: str = field(default_factory=PUBLIC_URL.default)
    max_artifact_bytes: int = field(default_factory=MAX_ARTIFACT_BYTES.default)
    truncate_long_values: bool = field(default_factory=TRUNCATE_LONG_VALUES.default)
    max_request_bytes: int = field(default_factory=MAX_REQUEST_BYTES.default)
    sqlite_synchronous: str = field(default_factory=SQLITE_SYNCHRONOUS.default)
    shared_store: bool = field(default_factory=SHARED_STORE.default)
    db_pool_size: int = field(default_factory=DB_POOL_SIZE.default)
    db_group_commit: bool = field(default_factory=DB_GROUP_COMMIT.default)
    allowed_hosts: tuple[str, ...] = field(default_factory=ALLOWED_HOSTS.default)
    cors_allowed_origins: tuple[str, ...] = field(default_factory=CORS_ALLOWED_ORIGINS.default)
    auth: bool = field(default_factory=AUTH.default)
    default_permission: str = field(default_factory=DEFAULT_PERMISSION.default)
    audit_retention_days: int = field(default_factory=AUDIT_RETENTION_DAYS.default)
    audit_key: str = field(default_factory=AUDIT_KEY.default, repr=False)
    secret_key: str = field(default_factory=SECRET_KEY.default, repr=False)
    webhook_allow_hosts: tuple[str, ...] = field(default_factory=WEBHOOK_ALLOW_HOSTS.default)
    webhook_timeout: float = field(default_factory=WEBHOOK_TIMEOUT.default)
    webhook_max_attempts: int = field(default_factory=WEBHOOK_MAX_ATTEMPTS.default)
    webhook_disable_after: int = field(default_factory=WEBHOOK_DISABLE_AFTER.default)
    webhook_ca_bundle: str = field(default_factory=WEBHOOK_CA_BUNDLE.default)
    queue_uri: str = field(default_factory=QUEUE_URI.default)
    run_jobs: bool = field(default_factory=RUN_JOBS.default)
    job_lease_seconds: float = field(default_factory=JOB_LEASE_SECONDS.default)
    log_format: str = field(default_factory=LOG_FORMAT.default)
    access_log: bool = field(default_factory=ACCESS_LOG.default)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """The settings the ``CAIRN_*`` variables give; a bad value is a :class:`CairnError`
        naming the variable."""
        env = os.environ if environ is None else environ
        return cls(**{s.name: s.read(env) for s in SETTINGS})

    def to_env(self) -> dict[str, str]:
        """The variables that make :meth:`from_env` rebuild these settings (worker processes)."""
        return {s.env: s.text(getattr(self, s.name)) for s in SETTINGS}
