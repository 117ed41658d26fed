"""Passwords, API tokens and session secrets: how they are made, stored and checked.

- Passwords are hashed with argon2id (``argon2-cffi``'s defaults, RFC 9106's second
  recommended profile). Verifying one costs tens of milliseconds on purpose, so a client that
  sends its password with every request (HTTP basic auth) would pay that per call: the access
  service remembers, for a bounded number of entries and a short time, a
  :func:`credential_key` of the credentials that verified, so repeated calls cost one HMAC.
- API tokens and session ids are 256-bit random secrets. They are stored as their SHA-256:
  a random secret of that size needs no slow hash, and a database leak reveals no usable
  credential. Lookups are by digest, so no secret is ever compared byte by byte.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets

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


@functools.cache
def dummy_hash() -> str:
    """A hash to verify against when the user does not exist, so that a wrong username takes
    as long as a wrong password and the timing tells nothing. Made on first use (hashing costs
    about 0.3 s of CPU, which every CLI command paid at import); the server makes it when it
    starts."""
    return _hasher.hash(secrets.token_urlsafe(16))


def burn_verification(password: str) -> None:
    verify_password(dummy_hash(), password)


def digest(secret: str) -> str:
    """The stored form of a random secret (token, session id): its SHA-256, hex."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


RUNNER_TOKEN_PREFIX = "cairn-evr_"
"""An evaluation job's runner token (not an API token: it opens that job's routes only)."""


def new_runner_token() -> str:
    return RUNNER_TOKEN_PREFIX + secrets.token_urlsafe(32)


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def looks_like_token(value: str) -> bool:
    return value.startswith(TOKEN_PREFIX) and len(value) > len(TOKEN_PREFIX) + 20


def same(a: str, b: str) -> bool:
    """Constant-time string comparison (CSRF tokens)."""
    return hmac.compare_digest(a.encode(), b.encode())


def credential_key(key: bytes, *parts: str) -> str:
    """A keyed digest of credentials, to remember that they verified without keeping them."""
    data = "\x00".join(parts).encode("utf-8", "surrogatepass")
    return hmac.new(key, data, hashlib.sha256).hexdigest()
