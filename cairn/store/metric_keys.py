"""Dictionary encoding of metric keys: each distinct key is stored once and referred to by id.

Ids never change once committed, so they are cached per process; an id enters the cache only
after the transaction that created it has committed.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from sqlalchemy import Connection, select

from cairn.store.db import after_commit
from cairn.store.schema import metric_keys
from cairn.store.sql import upsert_insert


class MetricKeys:
    def __init__(self) -> None:
        self._ids: dict[str, int] = {}
        self._lock = threading.Lock()

    def lookup(self, conn: Connection, keys: Iterable[str]) -> dict[str, int]:
        """Ids of the keys that exist (missing keys are left out), read on a read connection."""
        found, fetched = self._resolve(conn, keys)
        with self._lock:
            self._ids.update(fetched)
        return found

    def ensure(self, conn: Connection, keys: Iterable[str]) -> dict[str, int]:
        """Ids of all ``keys``, creating the missing ones inside the caller's write transaction.

        What is read or created here is cached only after the transaction commits.
        """
        wanted = set(keys)
        found, fetched = self._resolve(conn, wanted)
        missing = sorted(wanted - found.keys())
        if missing:
            stmt = upsert_insert(conn, metric_keys).on_conflict_do_nothing(index_elements=["key"])
            conn.execute(stmt, [{"key": k} for k in missing])
            created = self._fetch(conn, missing)
            fetched.update(created)
            found.update(created)
        if fetched:

            def remember() -> None:
                with self._lock:
                    self._ids.update(fetched)

            after_commit(conn, remember)
        return found

    def _resolve(
        self, conn: Connection, keys: Iterable[str]
    ) -> tuple[dict[str, int], dict[str, int]]:
        wanted = set(keys)
        cached = self._ids
        found = {k: cached[k] for k in wanted if k in cached}
        missing = wanted - found.keys()
        fetched = self._fetch(conn, sorted(missing)) if missing else {}
        found.update(fetched)
        return found, fetched

    @staticmethod
    def _fetch(conn: Connection, keys: list[str]) -> dict[str, int]:
        rows = conn.execute(
            select(metric_keys.c.key, metric_keys.c.id).where(metric_keys.c.key.in_(keys))
        ).all()
        return {key: id_ for key, id_ in rows}

    def name_of(self, conn: Connection, ids: Iterable[int]) -> dict[int, str]:
        wanted = set(ids)
        rows = conn.execute(
            select(metric_keys.c.id, metric_keys.c.key).where(metric_keys.c.id.in_(wanted))
        ).all()
        return {id_: key for id_, key in rows}
