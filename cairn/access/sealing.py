"""Secrets Cairn must use again later (webhook signing secrets): encrypted at rest.

Unlike passwords and tokens, which are only ever compared and so are stored hashed, a webhook
secret signs every delivery, so Cairn needs it back. It is stored as a Fernet token
(AES-128-CBC with HMAC-SHA-256, from the ``cryptography`` package) under a key derived from
the server's secret key (``CAIRN_SECRET_KEY``, or a random key Cairn writes once to
``<CAIRN_HOME>/secret.key``). A database copy without the key reveals no secret.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from cairn.entities.errors import CairnError, ErrorCode

KEY_FILE = "secret.key"
_CONTEXT = b"cairn: sealed secrets v1\x00"


class Sealer:
    """Encrypts and decrypts short secrets with one server key."""

    def __init__(self, key: str | bytes):
        raw = key.encode() if isinstance(key, str) else key
        if len(raw) < 16:
            raise CairnError.invalid("The secret key must be at least 16 characters")
        derived = hashlib.sha256(_CONTEXT + raw).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(derived))

    def seal(self, secret: str) -> str:
        return self._fernet.encrypt(secret.encode("utf-8", "surrogatepass")).decode("ascii")

    def open(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode("utf-8", "surrogatepass")
        except (InvalidToken, ValueError, UnicodeError):
            raise CairnError(
                "A stored secret cannot be decrypted with this server's secret key "
                "(CAIRN_SECRET_KEY changed?)",
                ErrorCode.INVALID_STATE,
            ) from None


def key_from_file(home: Path) -> str:
    """The key in ``home/secret.key``, written (mode 0600) with a random key if missing."""
    path = home / KEY_FILE
    if path.exists():
        return path.read_text(encoding="ascii").strip()
    home.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, key.encode("ascii"))
    finally:
        os.close(fd)
    return key
