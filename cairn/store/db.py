"""Connections and transactions: one code path for SQLite, PostgreSQL and MySQL/MariaDB.

``Database.read(fn)`` runs ``fn(conn)`` on a pooled connection. ``Database.write(fn)`` runs it in
a transaction. On SQLite every write goes through one writer thread that owns the only writing
connection: requests that arrive together are executed back to back inside one transaction
(each in its own SAVEPOINT, so one failing request rolls back alone) and committed once. That
is group commit: concurrent writers never meet "database is locked", and a burst of small
writes pays for one commit. PostgreSQL does the same through one group writer per process
(:class:`_GroupWriter`, on a pooled connection) when asked to (``group_commit=True``; off by
default, see docs/benchmarks.md), where a write that finds it idle runs at once on its
caller's thread; otherwise, and on MySQL, each write is its own transaction. On both, the one
place that runs a write (:meth:`Database.write`) runs it again, whole, when the database
aborted it for meeting another transaction (a deadlock, a serialisation failure, a lock wait
that timed out; :func:`~cairn.entities.errors.transaction_conflict`): at most
:data:`~cairn.entities.errors.TRANSACTION_ATTEMPTS` runs, a short random wait between
them, one log line each. A write function must therefore be safe to run again: it reads and
writes through ``conn`` and leaves anything else to :func:`after_commit`.

Work that must happen only once a transaction is durable (filling in-process caches) is
registered with :func:`after_commit`. Work that must happen last inside a write's own
transaction (appending the write's change events, :mod:`cairn.store.events`) is registered
with :func:`before_commit`; each write also carries the :data:`~cairn.entities.events.ACTING`
actor of the code that asked for it, whichever thread runs it (:func:`job_scope`).
"""

from __future__ import annotations

import asyncio
import logging
import queue
import random
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, TypeVar

from anyio import to_thread
from sqlalchemy import (
    BigInteger,
    Connection,
    Engine,
    Integer,
    SmallInteger,
    create_engine,
    event,
)
from sqlalchemy.engine import make_url

from cairn.entities.errors import TRANSACTION_ATTEMPTS, first_line, transaction_conflict
from cairn.entities.events import ACTING, Actor

log = logging.getLogger(__name__)

T = TypeVar("T")

_HOOKS = "cairn_after_commit"
_SCOPE = "cairn_write"
GROUP_LIMIT = 256


@dataclass
class WriteScope:
    """What one write carries into its transaction: the actor who asked for it, the server's
    audit key, and the hooks to run last before its transaction (or savepoint) ends."""

    actor: Actor
    audit_key: bytes | None = None
    finish: list[Callable[[Connection], None]] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)


def job_scope(conn: Connection) -> WriteScope:
    """The scope of the write ``conn`` is running (an error outside :meth:`Database.write`)."""
    scope = conn.info.get(_SCOPE)
    if scope is None:
        raise RuntimeError("a change can only be recorded inside Database.write")
    found: WriteScope = scope
    return found


def act_as(conn: Connection, actor: Actor) -> None:
    """Record the change events of the write running on ``conn`` as ``actor``'s: for work
    done on Cairn's behalf inside a write someone else opened (a job consumer handed the
    engine's transaction). Every event of the write gets that actor, so call it only in a
    write that makes no change of a user's."""
    job_scope(conn).actor = actor


def before_commit(conn: Connection, hook: Callable[[Connection], None]) -> None:
    """Run ``hook(conn)`` at the end of the current write, inside its transaction: an error in
    it rolls the whole write back."""
    job_scope(conn).finish.append(hook)


def after_commit(conn: Connection, hook: Callable[[], None]) -> None:
    """Run ``hook`` once the transaction ``conn`` is in has committed (dropped on rollback)."""
    conn.info.setdefault(_HOOKS, []).append(hook)


def _take_hooks(conn: Connection) -> list[Callable[[], None]]:
    hooks: list[Callable[[], None]] = conn.info.pop(_HOOKS, [])
    return hooks


def _run_hooks(hooks: list[Callable[[], None]]) -> None:
    for hook in hooks:
        hook()


_TRANSACTION_KEYS: set[str] = {_HOOKS}
"""The ``conn.info`` entries that only hold while the transaction that wrote them commits."""


def forget_on_rollback(key: str) -> None:
    """Drop ``conn.info[key]`` from a connection whenever a write on it fails (a module's
    per-connection note of what its transaction wrote, valid only once that committed)."""
    _TRANSACTION_KEYS.add(key)


def _forget(conn: Connection) -> None:
    """A write on ``conn`` failed: what it noted on the connection goes (its after-commit
    hooks must not run after the next write's commit)."""
    for key in _TRANSACTION_KEYS:
        conn.info.pop(key, None)


RETRY_BUDGET_S = 30.0
"""No further run once this long has passed since the first began (a lock wait that timed
out may alone have taken the database's whole ``innodb_lock_wait_timeout``)."""
RETRY_BASE_S = 0.02
RETRY_MAX_WAIT_S = 1.0


def retry_wait(attempt: int) -> float:
    """Seconds to wait before running a transaction again after its ``attempt``-th run met a
    conflict: 10–20 ms, then 20–40 ms, 40–80 ms, … (at most a second), drawn at random so
    that the transactions that deadlocked together do not meet again in step."""
    ceiling = min(RETRY_MAX_WAIT_S, RETRY_BASE_S * 2 ** (attempt - 1))
    return random.uniform(ceiling / 2, ceiling)


@dataclass
class _Job:
    fn: Callable[[Connection], Any]
    future: Future[Any] = field(default_factory=Future)


def _gather(jobs: queue.SimpleQueue[_Job | None], first: _Job) -> tuple[list[_Job], bool]:
    """``first`` and the writes already waiting behind it (at most :data:`GROUP_LIMIT`), and
    whether the writer was told to stop (a ``None`` among them)."""
    group = [first]
    while len(group) < GROUP_LIMIT:
        try:
            nxt = jobs.get_nowait()
        except queue.Empty:
            break
        if nxt is None:
            return group, True
        group.append(nxt)
    return group, False


class _SqliteWriter:
    """The one thread that writes to a SQLite database, committing requests in groups.

    A small write that finds the writer idle may run at once on the caller's thread
    (:meth:`try_now`): same connection, same lock, no thread hand-off (about 80 µs saved on
    every single-point request).
    """

    def __init__(self, engine: Engine):
        self._engine = engine
        self._checkpointer = _Checkpointer(str(engine.url.database))
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._lock = threading.Lock()  # held while a group or an immediate job runs
        self._conn = engine.connect()
        self.on_group: Callable[[int], None] | None = None
        """Told the size of each group committed (1 for an immediate write): the server's
        metrics. Called after the lock is released."""
        self._thread = threading.Thread(target=self._loop, name="cairn-sqlite-writer", daemon=True)
        self._thread.start()

    def queued(self) -> int:
        """Writes waiting for the writer thread (approximate, as any queue's size)."""
        return self._queue.qsize()

    def _observed(self, size: int) -> None:
        observe = self.on_group
        if observe is not None:
            observe(size)

    def submit(self, fn: Callable[[Connection], T]) -> Future[T]:
        job = _Job(fn)
        self._queue.put(job)
        return job.future

    def try_now(self, fn: Callable[[Connection], T]) -> Future[T] | None:
        """Run ``fn`` right away if nothing else is writing; None if the writer is busy."""
        if not self._lock.acquire(blocking=False):
            return None
        try:
            job = _Job(fn)
            settled = self._run_group(self._conn, [job])
        finally:
            self._lock.release()
        _settle(settled)
        self._observed(1)
        return job.future

    def close(self) -> None:
        self._checkpointer.close()
        self._queue.put(None)
        self._thread.join(timeout=30)
        with self._lock:
            self._conn.close()

    def _loop(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            group, stop = _gather(self._queue, first)
            with self._lock:
                settled = self._run_group(self._conn, group)
            # the callers learn their outcome once the lock is free: a caller woken while the
            # writer still held it would find the writer busy with its next write and queue
            # it too, and so on (one busy moment made every later write of a sequential
            # client take the detour through this thread)
            _settle(settled)
            self._observed(len(group))
            if stop:
                return

    def _run_group(self, conn: Connection, group: list[_Job]) -> list[_Settled]:
        """Run ``group`` in one transaction; each job's outcome, for :func:`_settle` to hand
        to its caller after the writer's lock is released."""
        if len(group) == 1:
            return self._run_one(conn, group[0])
        settled: list[_Settled] = []
        outcomes: list[tuple[_Job, Any, BaseException | None, list[Callable[[], None]]]] = []
        try:
            with conn.begin():
                for job in group:
                    savepoint = conn.begin_nested()
                    try:
                        result = job.fn(conn)
                        savepoint.commit()
                        outcomes.append((job, result, None, _take_hooks(conn)))
                    except Exception as exc:
                        savepoint.rollback()
                        _forget(conn)
                        outcomes.append((job, None, exc, []))
        except Exception as exc:  # the commit itself failed
            _forget(conn)
            done = {id(o[0]) for o in outcomes if o[2] is not None}
            for job in group:
                if id(job) not in done:
                    settled.append((job.future, None, exc))
            for job, _, err, _ in outcomes:
                if err is not None:
                    settled.append((job.future, None, err))
            return settled
        for job, result, err, hooks in outcomes:
            if err is not None:
                settled.append((job.future, None, err))
                continue
            try:
                _run_hooks(hooks)
            except Exception:  # a cache hook failing must not hide a committed write
                log.exception("after-commit hook failed")
            settled.append((job.future, result, None))
        return settled

    def _run_one(self, conn: Connection, job: _Job) -> list[_Settled]:
        """One write in its own transaction, begun and ended on the driver's connection:
        SQLAlchemy's transaction object and its events cost more than the commit of a
        one-point write. A Core statement in the write begins SQLAlchemy's own transaction
        on the same driver transaction (its begin hook sees one open and emits nothing),
        which then ends it."""
        raw: Any = conn.connection.driver_connection
        try:
            raw.execute("BEGIN IMMEDIATE")
            result = job.fn(conn)
            if conn.in_transaction():
                conn.commit()
            else:
                raw.commit()
        except BaseException as exc:
            _forget(conn)
            try:
                if conn.in_transaction():
                    conn.rollback()
                elif raw.in_transaction:
                    raw.rollback()
            except Exception:  # the write's own error is the one to report
                log.exception("rollback failed")
            if not isinstance(exc, Exception):
                raise
            return [(job.future, None, exc)]
        hooks = _take_hooks(conn)
        try:
            _run_hooks(hooks)
        except Exception:  # a cache hook failing must not hide a committed write
            log.exception("after-commit hook failed")
        return [(job.future, result, None)]


class _GroupWriter:
    """PostgreSQL's group commit: one writer per process, on one pooled connection at a time.

    A write that finds the writer idle runs at once on its caller's thread, alone in its own
    transaction (:meth:`try_now`): a sequential client pays nothing for the writer. Writes that
    arrive while one runs wait in a queue, and the writer's thread runs all those waiting at
    once in one transaction, each in a savepoint, with one COMMIT (one WAL flush for the lot,
    and the change log's head row locked once for the group instead of once per write).

    Each write's outcome is its own: a write whose statement fails rolls back to its savepoint
    and fails alone with that error. A deadlock, a serialisation failure or a lock wait that
    timed out (:func:`~cairn.entities.errors.transaction_conflict`) in one write also rolls back
    only that write (PostgreSQL undoes a savepoint's locks with it), and its caller runs it
    again like any aborted write (:meth:`Database._write`). A group whose COMMIT (or
    savepoint handling) fails fails every write not already failed with that error, which its
    caller retries when it is a conflict: nothing is acknowledged before the commit, and a
    retried write was rolled back first. After-commit hooks run once the group committed.
    """

    def __init__(self, engine: Engine):
        self._engine = engine
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._lock = threading.Lock()  # held while a group or an immediate write runs
        self._count = threading.Lock()
        self._waiting = 0  # submitted, not yet running
        self.on_group: Callable[[int], None] | None = None
        self._thread = threading.Thread(target=self._loop, name="cairn-group-writer", daemon=True)
        self._thread.start()

    def queued(self) -> int:
        """Writes submitted that have not begun to run (the next group)."""
        return self._waiting

    def _counted(self, change: int) -> None:
        with self._count:
            self._waiting += change

    def _observed(self, size: int) -> None:
        observe = self.on_group
        if observe is not None:
            observe(size)

    def submit(self, fn: Callable[[Connection], T]) -> Future[T]:
        job = _Job(fn)
        self._counted(1)
        self._queue.put(job)
        return job.future

    def try_now(self, fn: Callable[[Connection], T]) -> Future[T] | None:
        """Run ``fn`` right away, on this thread, if nothing else is writing or waiting to;
        None if the writer is busy. (A write that took the lock whenever it was free for a
        moment would run alone ahead of the writes queued for the next group, and keep them
        waiting for as long as others kept arriving.)"""
        if self._waiting or not self._lock.acquire(blocking=False):
            return None
        if self._waiting:
            self._lock.release()
            return None
        try:
            job = _Job(fn)
            settled = self._run([job])
        finally:
            self._lock.release()
        self._observed(1)
        _settle(settled)
        return job.future

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=30)

    def _loop(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            with self._lock:  # the group is gathered once the writer is free: all that came
                group, stop = _gather(self._queue, first)  # while a write ran alone join it
                self._counted(-len(group))
                try:
                    settled = self._run(group)
                except BaseException as exc:  # never leave a caller waiting for ever
                    settled = [(job.future, None, exc) for job in group]
            self._observed(len(group))  # counted before its callers go on
            _settle(settled)  # once the lock is free (see _SqliteWriter._loop)
            if stop:
                return

    def _run(self, group: list[_Job]) -> list[_Settled]:
        try:
            conn = self._engine.connect()  # pinged first, as every pooled connection
        except Exception as exc:
            return [(job.future, None, exc) for job in group]
        with conn:
            if len(group) == 1:
                return _run_alone(conn, group[0])
            return _run_group(conn, group)


def _run_alone(conn: Connection, job: _Job) -> list[_Settled]:
    """One write in its own transaction (no savepoint)."""
    try:
        with conn.begin():
            result = job.fn(conn)
    except Exception as exc:
        if not conn.invalidated:  # a lost connection took its notes with it
            _forget(conn)
        return [(job.future, None, exc)]
    _run_hooks_logged(_take_hooks(conn))
    return [(job.future, result, None)]


def _run_group(conn: Connection, group: list[_Job]) -> list[_Settled]:
    """``group`` in one transaction, a savepoint each (see :class:`_GroupWriter`)."""
    outcomes: list[tuple[_Job, Any, Exception | None, list[Callable[[], None]]]] = []
    try:
        with conn.begin():
            for job in group:
                savepoint = conn.begin_nested()
                try:
                    result = job.fn(conn)
                    savepoint.commit()
                except Exception as exc:
                    savepoint.rollback()
                    _forget(conn)  # its hooks, and the change log's head it noted, go
                    outcomes.append((job, None, exc, []))
                    continue
                outcomes.append((job, result, None, _take_hooks(conn)))
    except Exception as exc:  # the commit failed, or a savepoint could not be undone
        if not conn.invalidated:
            _forget(conn)
        failed = {id(job) for job, _, err, _ in outcomes if err is not None}
        settled: list[_Settled] = [(job.future, None, err) for job, _, err, _ in outcomes if err]
        settled += [(job.future, None, exc) for job in group if id(job) not in failed]
        return settled
    settled = []
    for job, result, err, hooks in outcomes:
        if err is not None:
            settled.append((job.future, None, err))
            continue
        _run_hooks_logged(hooks)
        settled.append((job.future, result, None))
    return settled


def _run_hooks_logged(hooks: list[Callable[[], None]]) -> None:
    try:
        _run_hooks(hooks)
    except Exception:  # a cache hook failing must not hide a committed write
        log.exception("after-commit hook failed")


_Settled = tuple[Future[Any], Any, BaseException | None]
"""A finished job's future, its result and its error (None when it succeeded)."""


def _settle(settled: list[_Settled]) -> None:
    for future, result, err in settled:
        if err is not None:
            future.set_exception(err)
        else:
            future.set_result(result)


CHECKPOINT_EVERY = 0.25
"""Seconds between the checkpointer's passes over the write-ahead log."""
AUTOCHECKPOINT_PAGES = 16_000
"""The writer's own checkpoint, a safety net: only if the log grows past this many pages
(about 64 MB) does a commit copy it into the database itself."""


class _Checkpointer:
    """Copies the write-ahead log into the database file from its own thread and connection.

    SQLite's default checkpoints inside the commit that fills the log past 1,000 pages: one
    request in a few hundred pays for copying them all, and a log that many commits keep
    rewriting the same pages of (a run's newest metrics, the change log's head) is copied page
    by page again and again. Checkpointing a few times a second off the request path, with the
    writer's own checkpoint kept only as a safety net (:data:`AUTOCHECKPOINT_PAGES`), takes that
    work out of the commits. A PASSIVE checkpoint never blocks the writer or a reader.
    """

    def __init__(self, path: str):
        self._path = path
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._loop, name="cairn-sqlite-checkpoint", daemon=True
        )
        self._thread.start()

    def _loop(self) -> None:
        conn: sqlite3.Connection | None = None
        try:
            while not self._stop.wait(CHECKPOINT_EVERY):
                try:
                    if conn is None:
                        conn = sqlite3.connect(self._path, timeout=1, isolation_level=None)
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error as exc:  # busy or gone: the writer's safety net remains
                    log.debug("background checkpoint skipped: %s", exc)
        finally:
            if conn is not None:
                conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


def _sqlite_pragmas(synchronous: str) -> Callable[[Any, Any], None]:
    def on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves (see the begin hook)
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA synchronous={synchronous}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA cache_size=-65536")
        cur.execute("PRAGMA temp_store=MEMORY")
        cur.close()

    return on_connect


def _autocheckpoint(dbapi_conn: Any, _record: Any) -> None:
    """The writer leaves checkpoints to :class:`_Checkpointer` but for a log grown too long."""
    dbapi_conn.execute(f"PRAGMA wal_autocheckpoint={AUTOCHECKPOINT_PAGES}")


def normalize_uri(uri: str) -> str:
    """Accept the URI forms users copy from MLflow (``postgresql://``, ``postgres://``,
    ``mysql://``) and use the drivers Cairn ships with (psycopg 3, PyMySQL). A MySQL URI gets
    ``charset=utf8mb4`` unless it names a character set: anything less cannot hold every
    Unicode string MLflow accepts."""
    for prefix in ("postgresql://", "postgres://"):
        if uri.startswith(prefix):
            return "postgresql+psycopg://" + uri[len(prefix) :]
    for prefix in ("mysql://", "mariadb://", "mariadb+pymysql://"):
        if uri.startswith(prefix):
            uri = "mysql+pymysql://" + uri[len(prefix) :]
    if uri.startswith("mysql+"):
        url = make_url(uri)
        if "charset" not in url.query:
            uri = url.update_query_dict({"charset": "utf8mb4"}).render_as_string(
                hide_password=False
            )
    return uri


def redact_uri(uri: str) -> str:
    """``uri`` as it may be shown or written down: any password replaced by ``***``."""
    return make_url(uri).render_as_string(hide_password=True)


def _scoped(fn: Callable[[Connection], T], audit_key: bytes | None) -> Callable[[Connection], T]:
    """``fn`` bound to the actor of the caller (read now, on the caller's side) and ended by
    its :func:`before_commit` hooks."""
    scope = WriteScope(ACTING.get(), audit_key)

    def job(conn: Connection) -> T:
        conn.info[_SCOPE] = scope
        try:
            result = fn(conn)
            while scope.finish:
                scope.finish.pop(0)(conn)
            return result
        finally:
            conn.info.pop(_SCOPE, None)
            scope.finish.clear()
            scope.data.clear()

    return job


def _bind_integers_as_bigint(engine: Engine) -> None:
    """Cast integer parameters of Cairn's statements to ``BIGINT`` on PostgreSQL, not
    ``INTEGER``.

    SQLAlchemy's psycopg dialect casts a parameter to its column's type, so an id a caller
    wrote as 3000000000 compared with a 32-bit column fails the statement ("integer out of
    range") where SQLite and MySQL just find no row. Compared as 64-bit, it finds none on
    PostgreSQL too (int4 = int8 still uses the index); a value written to a 32-bit column is
    converted on assignment, as before. Only the statement compiler changes: tables are
    still created with the types the migrations name. SQLAlchemy's catalog reflection needs
    its 32-bit casts, so inspect a database through an engine of its own (as
    tests/store/test_migrations.py does)."""
    base = engine.dialect.statement_compiler

    class WideIntegerBinds(base):  # type: ignore[valid-type,misc]
        def render_bind_cast(self, type_: Any, dbapi_type: Any, sqltext: str) -> str:
            if isinstance(dbapi_type, Integer) and not isinstance(
                dbapi_type, (BigInteger, SmallInteger)
            ):
                dbapi_type = BigInteger()
            rendered: str = super().render_bind_cast(type_, dbapi_type, sqltext)
            return rendered

    engine.dialect.statement_compiler = WideIntegerBinds


class Database:
    """An engine plus the rules for reading and writing through it."""

    def __init__(
        self,
        uri: str,
        *,
        sqlite_synchronous: str = "NORMAL",
        pool_size: int = 8,
        inline_small_writes: bool = True,
        audit_key: bytes | None = None,
        group_commit: bool = False,
    ):
        """``inline_small_writes``: let a small write from the event loop run at once when
        the writer is idle. Only safe when this process is the database's only writer (with
        several server processes the loop could wait on another process's lock).
        ``audit_key``: keys the change-event chain (HMAC) when set (``CAIRN_AUDIT_KEY``):
        every process writing to one database must use the same one.
        ``group_commit``: on PostgreSQL, commit concurrent writes in groups through one writer
        per process (:class:`_GroupWriter`); off (the default: measured slower under
        concurrency, docs/benchmarks.md), each write is its own transaction on the pool.
        SQLite always commits in groups; MySQL/MariaDB never (a deadlock there aborts the
        whole transaction, not one savepoint)."""
        uri = normalize_uri(uri)
        self.uri = uri
        self.inline_small_writes = inline_small_writes
        url = make_url(uri)
        self.dialect = url.get_backend_name()
        self.is_sqlite = self.dialect == "sqlite"
        self._writer: _SqliteWriter | None = None
        self._group: _GroupWriter | None = None
        self._starting = threading.Lock()
        self.group_commit = group_commit and self.dialect == "postgresql"
        self.audit_key = audit_key or None
        if self.is_sqlite:
            memory = url.database in (None, "", ":memory:")
            if memory:
                raise ValueError("Cairn needs a SQLite file, not an in-memory database")
            self.engine = create_engine(uri, pool_size=pool_size, max_overflow=pool_size * 2)
            # the writer's one connection is used by its thread and, for immediate small
            # writes, by the event loop's thread: always under the writer's lock
            self.write_engine = create_engine(
                uri, pool_size=1, max_overflow=0, connect_args={"check_same_thread": False}
            )
            pragmas = _sqlite_pragmas(sqlite_synchronous)
            for eng, begin in ((self.engine, "BEGIN"), (self.write_engine, "BEGIN IMMEDIATE")):
                event.listen(eng, "connect", pragmas)
                event.listen(eng, "begin", _emit(begin))
            event.listen(self.write_engine, "connect", _autocheckpoint)
        else:
            options: dict[str, Any] = {}
            if self.dialect == "mysql":
                # PostgreSQL's default isolation, so that both servers behave alike; and
                # connections recycled before the server's wait_timeout (8 h) drops them
                options = {"isolation_level": "READ COMMITTED", "pool_recycle": 3600}
            self.engine = create_engine(
                uri, pool_size=pool_size, max_overflow=pool_size * 2, pool_pre_ping=True, **options
            )
            self.write_engine = self.engine
            if self.dialect == "mysql":
                event.listen(self.engine, "connect", _mysql_session)
            if self.dialect == "postgresql":
                _bind_integers_as_bigint(self.engine)

    def start(self) -> None:
        if self.is_sqlite and self._writer is None:
            self._writer = _SqliteWriter(self.write_engine)
            self._writer.on_group = self._on_write_group
        if self.group_commit and self._group is None:
            with self._starting:
                if self._group is None:
                    group = _GroupWriter(self.engine)
                    group.on_group = self._on_write_group
                    self._group = group

    _on_write_group: Callable[[int], None] | None = None

    def observe_write_groups(self, observe: Callable[[int], None]) -> None:
        """Call ``observe(size)`` for each transaction the SQLite writer or PostgreSQL's group
        writer runs (how many writes it grouped; 1 for a write run alone); nothing on MySQL,
        or on PostgreSQL with group commit off, where each write commits alone."""
        self._on_write_group = observe
        if self._writer is not None:
            self._writer.on_group = observe
        if self._group is not None:
            self._group.on_group = observe

    _on_retry: Callable[[str], None] | None = None

    def observe_retries(self, observe: Callable[[str], None]) -> None:
        """Call ``observe(reason)`` each time a write transaction is run again after a
        deadlock, a serialisation failure or a lock wait timeout (PostgreSQL and MySQL)."""
        self._on_retry = observe

    def queued_writes(self) -> int:
        """Writes waiting for the SQLite writer or PostgreSQL's group writer; 0 otherwise."""
        if self._writer is not None:
            return self._writer.queued()
        return self._group.queued() if self._group is not None else 0

    def pool_use(self) -> tuple[int, int]:
        """(connections checked out, connections the read pool keeps) of this process."""
        pool: Any = self.engine.pool
        in_use = pool.checkedout() if hasattr(pool, "checkedout") else 0
        size = pool.size() if hasattr(pool, "size") else 0
        return int(in_use), int(size)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if self._group is not None:
            self._group.close()
            self._group = None
        self.engine.dispose()
        if self.write_engine is not self.engine:
            self.write_engine.dispose()

    def read(self, fn: Callable[[Connection], T]) -> T:
        with self.engine.connect() as conn:
            if self.is_sqlite:
                with conn.begin():  # one snapshot for the whole read
                    return fn(conn)
            return fn(conn)

    def ping(self) -> None:
        """One cheap round trip (``SELECT 1``) on a pooled read connection."""
        self.read(lambda conn: conn.exec_driver_sql("SELECT 1"))

    async def aread(self, fn: Callable[[Connection], T]) -> T:
        """:meth:`read` for async callers, on a worker thread (anyio's default thread limiter,
        the one Starlette's ``run_in_threadpool`` uses too)."""
        return await to_thread.run_sync(self.read, fn)

    async def awrite(self, fn: Callable[[Connection], T], *, small: bool = False) -> T:
        """:meth:`write` for async callers: on SQLite the event loop waits on the writer
        directly, without a detour through the thread pool. A ``small`` write (a few rows)
        runs at once when the writer is idle."""
        fn = _scoped(fn, self.audit_key)
        if self.is_sqlite:
            self.start()
            assert self._writer is not None
            if small and self.inline_small_writes:
                done = self._writer.try_now(fn)
                if done is not None:
                    return done.result()
            return await asyncio.wrap_future(self._writer.submit(fn))
        return await to_thread.run_sync(self._write, fn)

    def write(self, fn: Callable[[Connection], T]) -> T:
        return self._write(_scoped(fn, self.audit_key))

    def _write(self, fn: Callable[[Connection], T]) -> T:
        if self.is_sqlite:
            self.start()
            assert self._writer is not None
            done = self._writer.try_now(fn)
            return (done or self._writer.submit(fn)).result()
        if self.group_commit:
            self.start()
        started = time.monotonic()
        for attempt in range(1, TRANSACTION_ATTEMPTS + 1):
            try:
                return self._once(fn)
            except Exception as exc:  # SQLAlchemy's errors, or the driver's own (prepared.py)
                reason = transaction_conflict(exc)
                spent = time.monotonic() - started
                if reason is None or attempt == TRANSACTION_ATTEMPTS or spent > RETRY_BUDGET_S:
                    raise
                wait = retry_wait(attempt)
                log.warning(
                    "write transaction aborted by a %s (attempt %d of %d), run again in "
                    "%.0f ms: %s",
                    reason, attempt, TRANSACTION_ATTEMPTS, wait * 1000, first_line(exc),
                )  # fmt: skip
                observe = self._on_retry
                if observe is not None:
                    observe(reason)
                time.sleep(wait)
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _once(self, fn: Callable[[Connection], T]) -> T:
        """One run of ``fn``: through the group writer (at once when it is idle, else in its
        next group), or in a transaction of its own on the pool."""
        group = self._group
        if group is None:
            return self._transaction(fn)
        done = group.try_now(fn)
        return (done or group.submit(fn)).result()

    def _transaction(self, fn: Callable[[Connection], T]) -> T:
        """``fn`` in one transaction on a pooled connection; its after-commit hooks run once
        it has committed, and are dropped with what else the connection kept of it when it
        did not (the pooled connection outlives the transaction)."""
        with self.engine.connect() as conn:
            try:
                with conn.begin():
                    result = fn(conn)
            except BaseException:
                if not conn.invalidated:  # a lost connection took its notes with it
                    _forget(conn)
                raise
            hooks = _take_hooks(conn)
        _run_hooks(hooks)
        return result


MYSQL_SQL_MODE = "STRICT_TRANS_TABLES,NO_ENGINE_SUBSTITUTION,NO_AUTO_VALUE_ON_ZERO"
"""Strict (a value that does not fit is an error, as on PostgreSQL, not a silent cut), and an
explicit id 0 is stored as 0 (the Default experiment), not taken for "the next id"."""


def _mysql_session(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute(f"SET SESSION sql_mode = '{MYSQL_SQL_MODE}'")
    cur.close()


def _emit(statement: str) -> Callable[[Connection], None]:
    def begin(conn: Connection) -> None:
        raw: Any = conn.connection.driver_connection
        if not raw.in_transaction:  # the writer may have begun it on the driver already
            raw.execute(statement)  # straight to sqlite3: this runs before every transaction

    return begin
