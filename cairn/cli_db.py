"""How offline commands (users, tokens, gc, audit) open the server's store: the same audit
key as the server (``CAIRN_AUDIT_KEY``), so their change events extend the same chain, and the
``system`` actor for what they change."""

from __future__ import annotations

import getpass
import os
from collections.abc import Iterator
from contextlib import contextmanager

from cairn.entities.events import ACTING, Actor, ActorKind
from cairn.server.settings import AUDIT_KEY, data_dir, default_backend_uri
from cairn.store.db import Database
from cairn.store.migrate import ensure_schema


def cli_actor() -> Actor:
    """The actor of a command run on the server's machine: ``system``, with the OS user in
    the address field (``cli:<user>``)."""
    try:
        who = getpass.getuser()
    except (KeyError, OSError):
        who = "unknown"
    return Actor("system", ActorKind.SYSTEM, address=f"cli:{who}"[:64])


@contextmanager
def open_database(backend_store_uri: str | None, *, upgrade: bool = True) -> Iterator[Database]:
    """The store at ``backend_store_uri`` (default: the data directory's SQLite file), its
    schema brought up to date (or only checked, ``upgrade=False``), closed afterwards."""
    uri = backend_store_uri or default_backend_uri()
    if backend_store_uri is None:
        data_dir().mkdir(parents=True, exist_ok=True)
    key = AUDIT_KEY.read(os.environ)
    database = Database(uri, audit_key=key.encode() or None)
    token = ACTING.set(cli_actor())
    try:
        ensure_schema(database.write_engine, auto_upgrade=upgrade)
        database.start()
        yield database
    finally:
        ACTING.reset(token)
        database.close()
