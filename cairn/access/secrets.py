"""Passwords, API tokens and session secrets: how they are made, stored and checked.

- Passwords are hashed with argon2id (``argon2-cffi``'s defaults, RFC 9106's second
  recommended profile). Verifying one costs tens of milliseconds on purpose, so a client that
  sends its password with every request (HTTP basic auth) would pay that per call:
  :class:`VerifiedCache` remembers, for a bounded number of entries and a short time, a
  digest of the credentials that verified, so repeated calls cost one SHA-256.
- API tokens and session ids are 256-bit random secrets. They are stored as their SHA-256:
  a random secret of that size needs no slow hash, and a database leak reveals no usable
  credential. Lookups are by digest, so no secret is ever compared byte by byte.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import OrderedDict

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from cairn.entities.errors import CairnError

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024
TOKEN_PREFIX = "cairn_"
PREFIX_SHOWN = 12
"""How many leading characters of a token are kept to tell tokens apart (``cairn_`` + 6)."""

_hasher = PasswordHasher()


def check_password_rules(password: object, field: str = "password") -> str:
    if not isinstance(password, str) or not password:
        raise CairnError.invalid(f"Missing value for required parameter '{field}'")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise CairnError.invalid(
            f"Password must be at least {MIN_PASSWORD_LENGTH} characters ('{field}')."
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise CairnError.invalid(
            f"Password must be at most {MAX_PASSWORD_LENGTH} characters ('{field}')."
        )
    return password


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


# A hash to verify against when the user does not exist, so that a wrong username takes as
# long as a wrong password and the timing tells nothing.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


def burn_verification(password: str) -> None:
    verify_password(_DUMMY_HASH, password)


def digest(secret: str) -> str:
    """The stored form of a random secret (token, session id): its SHA-256, hex."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def looks_like_token(value: str) -> bool:
    return value.startswith(TOKEN_PREFIX) and len(value) > len(TOKEN_PREFIX) + 20


def same(a: str, b: str) -> bool:
    """Constant-time string comparison (CSRF tokens)."""
    return hmac.compare_digest(a.encode(), b.encode())


class VerifiedCache:
    """Credentials that verified recently: ``key -> (value, time)``, bounded in size and age.

    The key is a keyed digest of the credentials (never the password itself), so a memory
    dump does not reveal a password either. Entries are dropped when a user's password,
    tokens or status change (:meth:`forget`) and expire after ``ttl`` seconds, which bounds how
    long another server that has not seen the change keeps accepting old credentials."""

    def __init__(self, size: int = 4096, ttl: float = 30.0):
        self.size = size
        self.ttl = ttl
        self._key = secrets.token_bytes(32)
        self._entries: OrderedDict[str, tuple[int, float]] = OrderedDict()
        self._lock = threading.Lock()

    def key(self, *parts: str) -> str:
        data = "\x00".join(parts).encode("utf-8", "surrogatepass")
        return hmac.new(self._key, data, hashlib.sha256).hexdigest()

    def get(self, key: str) -> int | None:
        with self._lock:
            found = self._entries.get(key)
            if found is None:
                return None
            value, at = found
            if time.monotonic() - at > self.ttl:
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return value

    def put(self, key: str, value: int) -> None:
        with self._lock:
            self._entries[key] = (value, time.monotonic())
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def forget(self, value: int) -> None:
        """Drop every entry for ``value`` (a user id)."""
        with self._lock:
            for key in [k for k, (v, _) in self._entries.items() if v == value]:
                del self._entries[key]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
