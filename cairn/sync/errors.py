"""The one error ``cairn sync`` reports to its user: a sentence naming the problem."""

from __future__ import annotations


class SyncError(Exception):
    """Something the user can act on: an unreachable server, a source that is not a Cairn
    store, a destination that refused a request. ``str(exc)`` is the whole message."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class ServerRefused(SyncError):
    """The destination answered a request with a 4xx error (its code and message kept)."""

    def __init__(self, message: str, status: int, error_code: str):
        super().__init__(message)
        self.status = status
        self.error_code = error_code
