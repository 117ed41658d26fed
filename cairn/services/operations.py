"""What an operator watches: whether this server is ready to serve, and the figures of its
store that ``/metrics`` exports (the connection pool, the SQLite writer's queue, the job queue,
webhook deliveries). Read on demand, when a probe or a scraper asks."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.exc import SQLAlchemyError

from cairn.entities.errors import CairnError, ErrorCode
from cairn.store import jobs as job_store
from cairn.store import webhooks as webhook_store
from cairn.store.db import Database
from cairn.store.migrate import current_revision, head_revision, known_revisions, serves
from cairn.store.sql import now_ms


@dataclass(frozen=True, slots=True)
class StoreFigures:
    """One reading of the store's gauges (``database_up`` False: the rest are not read)."""

    database_up: bool
    pool_in_use: int = 0
    pool_size: int = 0
    queued_writes: int = 0
    jobs: dict[str, int] = field(default_factory=dict)
    oldest_pending_job_age_s: float | None = None
    deliveries: dict[str, int] = field(default_factory=dict)


class OperationsService:
    def __init__(self, db: Database):
        self.db = db
        self._head: str | None = None

    def _needed_revision(self) -> str:
        if self._head is None:  # read from the migration scripts once
            self._head = head_revision()
        return self._head

    def check_ready(self) -> None:
        """The database answers and its schema is the one this server was built for (or a
        newer one that only added since, see :mod:`cairn.store.migrate`); a 503
        ``TEMPORARILY_UNAVAILABLE`` saying which is not so otherwise."""
        try:
            found = current_revision(self.db.engine)
            wanted = self._needed_revision()
            usable = found == wanted or serves(self.db.engine, found)
        except SQLAlchemyError as exc:
            raise CairnError(
                f"Not ready: the database does not answer ({type(exc).__name__})",
                ErrorCode.TEMPORARILY_UNAVAILABLE,
            ) from None
        if usable:
            return
        if found is not None and found not in known_revisions():  # a newer Cairn contracted
            raise CairnError(
                f"Not ready: the database schema is at revision {found}, newer than this "
                f"server's {wanted}, and a migration since removed or changed what this "
                "server uses: replace this server with the newer Cairn",
                ErrorCode.TEMPORARILY_UNAVAILABLE,
            )
        raise CairnError(
            f"Not ready: the database schema is at revision {found or 'none'}, this "
            f"server needs {wanted} (run `cairn db upgrade`)",
            ErrorCode.TEMPORARILY_UNAVAILABLE,
        )

    def figures(self) -> StoreFigures:
        """The gauges, read now (two small grouped queries and the pool's own counters)."""
        in_use, size = self.db.pool_use()
        try:
            jobs, oldest, deliveries = self.db.read(
                lambda c: (
                    job_store.counts(c),
                    job_store.oldest_pending(c),
                    webhook_store.delivery_counts(c),
                )
            )
        except SQLAlchemyError:
            return StoreFigures(database_up=False, pool_in_use=in_use, pool_size=size)
        age = max(0.0, (now_ms() - oldest) / 1000) if oldest is not None else None
        return StoreFigures(
            database_up=True,
            pool_in_use=in_use,
            pool_size=size,
            queued_writes=self.db.queued_writes(),
            jobs=jobs,
            oldest_pending_job_age_s=age,
            deliveries=deliveries,
        )
