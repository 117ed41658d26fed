"""The queue: Huey, carrying job ids from whoever committed a job to the workers.

Only ids travel; the ``jobs`` table says what to run and whether it still needs running, so
a lost message costs a delay (the sweeper re-hands due pending jobs) and a duplicate costs
nothing (the claim is a conditional UPDATE). Storage, chosen by ``--queue-uri``:

- ``sqlite:///path/queue.db``: Huey's SQLite storage in a file of its own (the default next
  to a SQLite store: ``cairn.db`` → ``cairn.queue.db``), shared by the processes of one box;
- ``postgresql://…``: Huey's PostgreSQL storage (psycopg 3, ``FOR UPDATE SKIP LOCKED`` and
  LISTEN/NOTIFY; tables ``cairn_queue_*``); the default on a PostgreSQL store (its database);
- ``redis://host:6379/N``: Huey's Redis storage;
- ``memory:``: in this process only (tests, or one server that needs nothing on disk); the
  default on a MySQL/MariaDB store (Huey has no MySQL storage): each server runs the jobs it
  commits, and separate ``cairn worker`` processes need a shared queue (``redis://``).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from huey import Huey
from huey.consumer import Consumer
from huey.storage import MemoryStorage, PostgresStorage, RedisStorage, SqliteStorage
from sqlalchemy.engine import make_url

from cairn.entities.errors import database_unreachable, first_line

log = logging.getLogger(__name__)

QUEUE_NAME = "cairn"
TASK_NAME = "cairn.run_job"


class QueueUriError(ValueError):
    """A queue URI Cairn cannot use (the message says which forms it can)."""


def default_queue_uri(backend_store_uri: str) -> str:
    """The queue that follows the store: a SQLite file beside a SQLite store, the same
    PostgreSQL database for a PostgreSQL store, this process's memory for a MySQL store."""
    url = make_url(backend_store_uri)
    if url.get_backend_name() == "sqlite":
        path = Path(url.database or "cairn.db")
        return f"sqlite:///{path.with_name(path.stem + '.queue' + (path.suffix or '.db'))}"
    if url.get_backend_name() == "postgresql":
        return url.set(drivername="postgresql").render_as_string(hide_password=False)
    if url.get_backend_name() == "mysql":
        return "memory:"
    raise QueueUriError(
        f"no default queue for a {url.get_backend_name()} store: set --queue-uri "
        "(redis://host:6379/0 or postgresql://…)"
    )


QUEUE_SCHEMA_LOCK = 0x636169726E71  # "cairnq"
"""The PostgreSQL advisory lock held while the queue's tables are created."""


class _SharedPostgresStorage(PostgresStorage):  # type: ignore[misc]
    """Huey's PostgreSQL storage, whose tables may be created by several processes at once
    (servers and workers started together): ``CREATE TABLE IF NOT EXISTS`` alone races on
    PostgreSQL (a duplicate type error in the loser), so the DDL runs under an advisory lock
    in its own transaction; the second process then finds the tables there."""

    def initialize_schema(self) -> None:
        with self.db(commit=True, close=True) as curs:
            curs.execute("SELECT pg_advisory_xact_lock(%s)", (QUEUE_SCHEMA_LOCK,))
            for sql in self.ddl:
                curs.execute(sql)


def make_huey(queue_uri: str, name: str = QUEUE_NAME) -> Huey:
    """A Huey instance on the storage ``queue_uri`` names (no results kept: the jobs table
    keeps them). ``name`` tells queues apart on one storage."""
    uri = queue_uri.strip()
    common: dict[str, Any] = {"results": False, "utc": True}
    if uri in ("memory:", "memory://"):
        return Huey(name, storage_class=MemoryStorage, **common)
    if uri.startswith(("redis://", "rediss://")):
        return Huey(name, storage_class=RedisStorage, url=uri, **common)
    if uri.startswith(("postgresql", "postgres://")):
        url = make_url(uri.replace("postgres://", "postgresql://", 1))
        dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
        return Huey(
            name,
            storage_class=_SharedPostgresStorage,
            dsn=dsn,
            table_prefix="cairn_queue",
            **common,
        )
    if uri.startswith("sqlite:///"):
        path = Path(uri[len("sqlite:///") :])
        if not str(path) or str(path) == ":memory:":
            raise QueueUriError("a SQLite queue needs a file: sqlite:///path/queue.db")
        path.parent.mkdir(parents=True, exist_ok=True)
        # no fsync: a message lost to a power cut is re-handed by the sweeper
        return Huey(
            name,
            storage_class=SqliteStorage,
            filename=str(path),
            fsync=False,
            timeout=30,
            **common,
        )
    raise QueueUriError(
        f"Invalid queue URI {uri[:80]!r}: expected sqlite:///path, postgresql://…, "
        "redis://host:port/N or memory:"
    )


class _OutageLines(logging.Filter):
    """On Huey's consumer loggers: a database outage (Huey's queue lives in the store's
    database on PostgreSQL) is one line per failed read, not a traceback each time."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if exc is not None and database_unreachable(exc):
            first = first_line(exc)
            record.msg = f"{record.getMessage()}: database unreachable ({first})"
            record.args = None
            record.exc_info = None
            record.exc_text = None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


_OUTAGE_LINES = _OutageLines()
for _name in ("huey.consumer", "huey.consumer.Worker", "huey.consumer.Scheduler"):
    logging.getLogger(_name).addFilter(_OUTAGE_LINES)


class _QuietConsumer(Consumer):  # type: ignore[misc]
    """Huey's consumer without its signal handlers: the process that embeds it owns those."""

    def _set_signal_handlers(self) -> None:
        return None


class JobQueue:
    """Cairn's one Huey task (run the job with this id) on one storage, the background
    thread that hands committed ids to it, and the consumer threads that run them."""

    def __init__(self, queue_uri: str, name: str = QUEUE_NAME):
        self.uri = queue_uri
        self.huey = make_huey(queue_uri, name)
        self._runner: Callable[[int], None] | None = None
        self._task = self.huey.task(name=TASK_NAME)(self._run)
        self._outbox: queue.SimpleQueue[tuple[int, float] | None] = queue.SimpleQueue()
        self._sender: threading.Thread | None = None
        self._consumer: Consumer | None = None
        self._lock = threading.Lock()

    def _run(self, job_id: int) -> None:
        runner = self._runner
        if runner is not None:
            runner(int(job_id))

    # ------------------------------------------------------------------ producer side
    def hand(self, job_id: int, delay: float = 0.0) -> None:
        """Queue ``job_id`` for a worker (after ``delay`` seconds), from a background thread:
        the committing thread never waits on the queue."""
        with self._lock:
            if self._sender is None or not self._sender.is_alive():
                self._sender = threading.Thread(
                    target=self._send_loop, name="cairn-queue-handoff", daemon=True
                )
                self._sender.start()
        self._outbox.put((job_id, delay))

    def send(self, job_id: int, delay: float = 0.0) -> None:
        """Put ``job_id`` on the queue now (on this thread)."""
        if delay > 0.05:
            self._task.schedule(args=(job_id,), delay=delay)
        else:
            self._task(job_id)

    def _send_loop(self) -> None:
        while True:
            item = self._outbox.get()
            if item is None:
                return
            try:
                self.send(*item)
            except Exception:  # the sweeper re-hands what did not reach the queue
                log.exception("could not queue job %s", item[0])

    # ------------------------------------------------------------------ consumer side
    def start_workers(self, runner: Callable[[int], None], workers: int) -> None:
        """Run ``runner(job_id)`` for every id on the queue, on ``workers`` threads."""
        self._runner = runner
        consumer = _QuietConsumer(
            self.huey,
            workers=workers,
            periodic=False,
            initial_delay=0.02,
            backoff=1.5,
            max_delay=0.5,
            worker_type="thread",
            check_worker_health=False,
            shutdown_timeout=30,
        )
        consumer.start()
        self._consumer = consumer

    def close(self, timeout: float = 30.0) -> None:
        """Stop the consumer threads (waiting for running jobs, at most ``timeout`` s) and the
        hand-off thread (after it sent what it holds)."""
        if self._consumer is not None:
            self._consumer.shutdown_timeout = timeout
            self._consumer.stop(graceful=True)
            self._consumer = None
        self._runner = None
        if self._sender is not None:
            self._outbox.put(None)
            self._sender.join(timeout)
            self._sender = None
        try:
            self.huey.storage.close()
        except Exception:  # closing a storage that never connected
            log.debug("queue storage close failed", exc_info=True)

    def size(self) -> int:
        return int(self.huey.pending_count())
