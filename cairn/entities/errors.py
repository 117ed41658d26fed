"""The one error type Cairn raises for anything a caller can cause.

Every user-caused failure carries an MLflow-style ``error_code``; the HTTP status follows from
the code through :data:`HTTP_STATUS`, so there is exactly one source of truth for both.
"""

from __future__ import annotations

import errno
from enum import StrEnum


class ErrorCode(StrEnum):
    INVALID_PARAMETER_VALUE = "INVALID_PARAMETER_VALUE"
    BAD_REQUEST = "BAD_REQUEST"
    RESOURCE_DOES_NOT_EXIST = "RESOURCE_DOES_NOT_EXIST"
    RESOURCE_ALREADY_EXISTS = "RESOURCE_ALREADY_EXISTS"
    INVALID_STATE = "INVALID_STATE"
    PERMISSION_DENIED = "PERMISSION_DENIED"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    REQUEST_LIMIT_EXCEEDED = "REQUEST_LIMIT_EXCEEDED"
    ENDPOINT_NOT_FOUND = "ENDPOINT_NOT_FOUND"
    METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
    NOT_IMPLEMENTED = "NOT_IMPLEMENTED"
    INTERNAL_ERROR = "INTERNAL_ERROR"
    TEMPORARILY_UNAVAILABLE = "TEMPORARILY_UNAVAILABLE"
    RANGE_NOT_SATISFIABLE = "RANGE_NOT_SATISFIABLE"
    """Cairn's own (MLflow has no code for it): an artifact download's Range header asks for
    bytes the file does not have."""
    UNSUPPORTED_MEDIA_TYPE = "UNSUPPORTED_MEDIA_TYPE"
    """Cairn's own (MLflow has no code for it): a POST whose body is not declared JSON."""
    REQUEST_TIMEOUT = "REQUEST_TIMEOUT"
    """Cairn's own: a request body stopped arriving (no byte for the body read timeout)."""
    TOO_MANY_REQUESTS = "TOO_MANY_REQUESTS"
    """Cairn's own: too many failed logins for a user or from an address; wait and retry."""
    RESOURCE_EXHAUSTED = "RESOURCE_EXHAUSTED"
    """The server's storage is full (the artifact store's disk, the database's): nothing of
    the request was stored. Answered 507 (Insufficient Storage)."""
    APPROVAL_REQUIRED = "APPROVAL_REQUIRED"
    """Cairn's own: a stage transition or alias move under a promotion policy; an approval
    request (named in the message) was created instead of moving. Stock clients raise it as
    an ``MlflowException`` carrying the message."""


HTTP_STATUS: dict[ErrorCode, int] = {
    # the first code listed for a status is the one a bare HTTP status gets (see for_status)
    ErrorCode.BAD_REQUEST: 400,
    ErrorCode.INVALID_PARAMETER_VALUE: 400,
    ErrorCode.RESOURCE_ALREADY_EXISTS: 400,
    ErrorCode.INVALID_STATE: 400,
    ErrorCode.ENDPOINT_NOT_FOUND: 404,
    ErrorCode.RESOURCE_DOES_NOT_EXIST: 404,
    ErrorCode.PERMISSION_DENIED: 403,
    ErrorCode.UNAUTHENTICATED: 401,
    ErrorCode.METHOD_NOT_ALLOWED: 405,
    ErrorCode.REQUEST_TIMEOUT: 408,
    ErrorCode.APPROVAL_REQUIRED: 409,
    ErrorCode.REQUEST_LIMIT_EXCEEDED: 413,
    ErrorCode.UNSUPPORTED_MEDIA_TYPE: 415,
    ErrorCode.RANGE_NOT_SATISFIABLE: 416,
    ErrorCode.TOO_MANY_REQUESTS: 429,
    ErrorCode.NOT_IMPLEMENTED: 501,
    ErrorCode.INTERNAL_ERROR: 500,
    ErrorCode.TEMPORARILY_UNAVAILABLE: 503,
    ErrorCode.RESOURCE_EXHAUSTED: 507,
}


def for_status(status: int) -> ErrorCode:
    """The code of an HTTP status that came without one (the framework's 404, 405, 413): the
    first listed for it in :data:`HTTP_STATUS`, else ``BAD_REQUEST``."""
    return next((code for code, s in HTTP_STATUS.items() if s == status), ErrorCode.BAD_REQUEST)


class CairnError(Exception):
    """A failure with an MLflow-style error code and a message meant for the caller."""

    def __init__(self, message: str, error_code: ErrorCode = ErrorCode.INVALID_PARAMETER_VALUE):
        super().__init__(message)
        self.message = message
        self.error_code = error_code

    @property
    def http_status(self) -> int:
        return HTTP_STATUS[self.error_code]

    def to_json(self) -> dict[str, str]:
        return {"error_code": self.error_code.value, "message": self.message}

    @classmethod
    def invalid(cls, message: str) -> CairnError:
        return cls(message, ErrorCode.INVALID_PARAMETER_VALUE)

    @classmethod
    def not_found(cls, message: str) -> CairnError:
        return cls(message, ErrorCode.RESOURCE_DOES_NOT_EXIST)

    @classmethod
    def exists(cls, message: str) -> CairnError:
        return cls(message, ErrorCode.RESOURCE_ALREADY_EXISTS)


FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
FULL_SQLSTATES = frozenset({"53100"})  # PostgreSQL's disk_full
FULL_MYSQL_CODES = frozenset({1021, 1114})  # "Disk full", "The table is full"


def storage_full(exc: BaseException) -> str | None:
    """What ran out when ``exc`` (or an exception it wraps) says the server's storage is
    full: the artifact store's file system (ENOSPC, EDQUOT), or the database (SQLite's
    SQLITE_FULL, PostgreSQL's disk_full, MySQL's full disk or table); None otherwise."""
    for current in _chain(exc):
        if isinstance(current, OSError) and current.errno in FULL_ERRNOS:
            return "the server's disk"
        if "database or disk is full" in str(current):
            return "the database's disk"
        if getattr(current, "sqlstate", None) in FULL_SQLSTATES:
            return "the database's disk"
        args = getattr(current, "args", ())
        if type(current).__module__.startswith("pymysql") and args and args[0] in FULL_MYSQL_CODES:
            return "the database's disk"
    return None


UNREACHABLE_SQLSTATES = frozenset({"57P01", "57P02", "57P03"})  # shut down, crashed, starting
UNREACHABLE_MYSQL_CODES = frozenset({1053, 2002, 2003, 2006, 2013})  # shutdown, gone, lost


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and what it wraps (causes, contexts, a driver error under SQLAlchemy's)."""
    seen: list[BaseException] = []
    stack: list[BaseException | None] = [exc]
    while stack and len(seen) < 32:
        current = stack.pop()
        if current is None or any(current is s for s in seen):
            continue
        seen.append(current)
        stack.extend((current.__cause__, current.__context__, getattr(current, "orig", None)))
    return seen


def database_unreachable(exc: BaseException) -> bool:
    """Whether ``exc`` says the database server cannot be reached now (restarting, shut
    down, the connection lost or refused): a moment's outage, not a bug."""
    for current in _chain(exc):
        if getattr(current, "connection_invalidated", False):
            return True
        module = type(current).__module__
        sqlstate = getattr(current, "sqlstate", "")
        if module.startswith("psycopg") and type(current).__name__ == "OperationalError":
            if not sqlstate or sqlstate.startswith("08") or sqlstate in UNREACHABLE_SQLSTATES:
                return True
        elif module.startswith("psycopg") and sqlstate in UNREACHABLE_SQLSTATES:
            return True
        args = getattr(current, "args", ())
        if module.startswith("pymysql") and args and args[0] in UNREACHABLE_MYSQL_CODES:
            return True
    return False


TRANSACTION_ATTEMPTS = 5
"""Runs of one write transaction that deadlocks or serialisation failures may take, in all
(the store runs it again, :mod:`cairn.store.db`)."""
CONFLICT_SQLSTATES = {"40001": "serialization failure", "40P01": "deadlock"}
"""PostgreSQL's codes for a transaction it aborted because it met another one."""
CONFLICT_MYSQL_CODES = {1213: "deadlock", 1205: "lock wait timeout"}
"""MySQL's and MariaDB's (``ER_LOCK_DEADLOCK``, ``ER_LOCK_WAIT_TIMEOUT``)."""


def transaction_conflict(exc: BaseException) -> str | None:
    """What ``exc`` says when the database refused a transaction because another one held
    what it needed (a deadlock, a serialisation failure, a lock wait that timed out): the
    whole transaction, run again, may well succeed. None for any other error.

    Only ``exc``, what it was raised from and the driver's error under SQLAlchemy's count, not
    an exception merely being handled when ``exc`` was raised: an error met while cleaning up
    after a conflict is that error, not a conflict."""
    current: BaseException | None = exc
    for _ in range(8):
        if current is None:
            return None
        sqlstate = getattr(current, "sqlstate", None)
        module = type(current).__module__
        if module.startswith("psycopg") and sqlstate in CONFLICT_SQLSTATES:
            return CONFLICT_SQLSTATES[sqlstate]
        args = getattr(current, "args", ())
        if module.startswith("pymysql") and args and args[0] in CONFLICT_MYSQL_CODES:
            return CONFLICT_MYSQL_CODES[args[0]]
        orig = getattr(current, "orig", None)
        current = orig if isinstance(orig, BaseException) else current.__cause__
    return None


def first_line(exc: BaseException) -> str:
    """An exception's message as one log line (its first; its type's name when empty)."""
    return (str(exc).splitlines() or [type(exc).__name__])[0]
