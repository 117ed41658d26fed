"""Non-blocking logging: a bounded queue drained by one background thread into log-batch.

Guarantees (docs/sdk.md has the long form):

* ``put`` never drops: when the queue is full the caller waits until there is room.
* Each run's values are sent in the order they were logged, in ``runs/log-batch`` requests
  within MLflow's limits (≤1000 metrics, ≤100 params, ≤100 tags, ≤1000 in all).
* Connection errors and 408/429/5xx answers are retried with exponential backoff for up to
  ``CAIRN_LOGGING_RETRY_TIMEOUT`` seconds (default 60) per batch; while the server stays down
  later batches get one attempt each, so exit is not delayed by a dead server.
* A 4xx answer is a user error: the batch is split so the valid values still arrive, and
  whatever is rejected is logged at ERROR and raised as DeliveryError by the next
  ``flush()`` / ``end_run()``.
* Whatever is finally not delivered is written to a JSON-lines spool file and reported;
  :func:`replay_spool` sends it later.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from cairn.client.config import env_float, env_int, spool_dir
from cairn.client.errors import CairnClientError, CairnRestError, DeliveryError
from cairn.client.rest import RestClient, is_retryable, rest_for
from cairn.wire import kv, number

log = logging.getLogger("cairn")

MAX_METRICS = 1000
MAX_PARAMS = 100
MAX_TAGS = 100
MAX_ENTITIES = 1000
TAKE = 5000  # most items the sender takes off the queue at once
LINGER_S = 0.05  # how long the sender waits for a batch to fill before sending a partial one

METRIC, PARAM, TAG = 0, 1, 2
# (run_id, kind, key, value, timestamp, step); value is a float for metrics, else a str
Item = tuple[str, int, str, Any, int, int]


def batches(items: Iterable[Item]) -> list[tuple[str, dict[str, Any]]]:
    """Group items per run (first-seen order) into log-batch bodies within MLflow's limits."""
    runs: dict[str, tuple[list[dict[str, Any]], dict[tuple[str, str], None], dict[str, str]]] = {}
    for run_id, kind, key, value, ts, step in items:
        group = runs.get(run_id)
        if group is None:
            group = runs[run_id] = ([], {}, {})
        if kind == METRIC:
            # wire.metric's shape, built inline: this loop is the logging hot path
            group[0].append({"key": key, "value": number(value), "timestamp": ts, "step": step})
        elif kind == PARAM:
            group[1][(key, value)] = None  # the same param logged twice is sent once
        else:
            group[2].pop(key, None)
            group[2][key] = value  # the last value of a tag wins
    out: list[tuple[str, dict[str, Any]]] = []
    for run_id, (metrics, params, tags) in runs.items():
        # params stay (key, value) pairs, not a mapping: a key logged with two values sends both
        plist = [{"key": k, "value": v} for k, v in params]
        tlist = kv(tags)
        m = p = t = 0
        while m < len(metrics) or p < len(plist) or t < len(tlist):
            ps, ts_ = plist[p : p + MAX_PARAMS], tlist[t : t + MAX_TAGS]
            room = min(MAX_METRICS, MAX_ENTITIES - len(ps) - len(ts_))
            ms = metrics[m : m + room]
            body: dict[str, Any] = {"run_id": run_id}
            if ms:
                body["metrics"] = ms
            if ps:
                body["params"] = ps
            if ts_:
                body["tags"] = ts_
            out.append((run_id, body))
            m, p, t = m + len(ms), p + len(ps), t + len(ts_)
    return out


def _count(body: dict[str, Any]) -> int:
    return sum(len(body.get(k, ())) for k in ("metrics", "params", "tags"))


class Spool:
    """An append-only JSON-lines file of undeliverable batches (created on first write)."""

    def __init__(self, tracking_uri: str, directory: Path | None = None) -> None:
        self.tracking_uri = tracking_uri
        self.directory = directory or spool_dir()
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
        self.path = self.directory / f"{stamp}-{os.getpid()}-{id(self):x}.jsonl"
        self._lock = threading.Lock()

    def write(self, body: dict[str, Any], error: str) -> None:
        line = orjson.dumps(
            {
                "tracking_uri": self.tracking_uri,
                "run_id": body["run_id"],
                "body": body,
                "error": error,
                "time_ms": int(time.time() * 1000),
            }
        )
        with self._lock:
            self.directory.mkdir(parents=True, exist_ok=True)
            _append_locked(self.path, [line])


def _append_locked(path: Path, lines: list[bytes]) -> None:
    """Append lines under an exclusive advisory lock (replay takes the same lock)."""
    with path.open("ab") as handle:
        _lock_file(handle.fileno())
        handle.write(b"".join(line + b"\n" for line in lines))
        handle.flush()
        os.fsync(handle.fileno())


def _lock_file(fd: int) -> None:
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        return
    fcntl.flock(fd, fcntl.LOCK_EX)  # released when the file is closed


class BatchLogger:
    """The queue and its sender thread, one per tracking target."""

    def __init__(
        self,
        rest: RestClient,
        max_queue: int | None = None,
        retry_timeout: float | None = None,
    ) -> None:
        self.rest = rest
        self.max_queue = max_queue or env_int("CAIRN_LOGGING_QUEUE_SIZE", 100_000)
        self.retry_timeout = (
            retry_timeout
            if retry_timeout is not None
            else env_float("CAIRN_LOGGING_RETRY_TIMEOUT", 60.0)
        )
        self.spool = Spool(rest.target.uri)
        self._buf: deque[Item] = deque()
        self._lock = threading.Lock()
        self._not_full = threading.Condition(self._lock)
        self._wake = threading.Condition(self._lock)
        self._done = threading.Condition(self._lock)
        self._enqueued = 0
        self._processed = 0
        self._flushers = 0
        self._failures: list[str] = []
        self._server_down = False
        self._closing = False
        self._stop = threading.Event()  # interrupts backoff sleeps when closing
        self._thread: threading.Thread | None = None

    # -- producer side ---------------------------------------------------------------------

    def put(self, item: Item) -> None:
        with self._lock:
            if self._sent_while_closing((item,)):
                return
            self._append(item)
            if len(self._buf) in (1, MAX_METRICS):  # wake an idle sender; a full batch
                self._wake.notify()

    def put_many(self, items: Iterable[Item]) -> None:
        with self._lock:
            if self._sent_while_closing(items):
                return
            for item in items:
                self._append(item)
            self._wake.notify()

    def _sent_while_closing(self, items: Iterable[Item]) -> bool:
        """With the lock held: start the sender on first use; once closing, send ``items`` on
        the caller's thread (outside the lock) instead of queueing them, and say so."""
        if self._thread is None:
            self._start()
            return False
        if not self._closing:
            return False
        self._lock.release()
        try:
            self._send_now(list(items))
        finally:
            self._lock.acquire()
        return True

    def _append(self, item: Item) -> None:
        """With the lock held: queue one item, waiting while the queue is full."""
        while len(self._buf) >= self.max_queue:
            self._wake.notify()
            self._not_full.wait()
        self._buf.append(item)
        self._enqueued += 1

    def _send_now(self, items: list[Item]) -> None:
        """After close (interpreter exit, other threads still logging): send on the caller's
        thread, spooling what fails."""
        for _run_id, body in batches(items):
            self._deliver(body, split=True)

    def _start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="cairn-logger", daemon=True)
        self._thread.start()

    @property
    def pending(self) -> int:
        """Values accepted but not yet delivered (or spooled)."""
        with self._lock:
            return self._enqueued - self._processed

    def flush(self, timeout: float | None = None, raise_errors: bool = True) -> None:
        """Wait until everything logged so far is delivered or spooled; then raise
        DeliveryError if anything failed since the last flush (when ``raise_errors``)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            target = self._enqueued
            self._flushers += 1
            self._wake.notify()
            try:
                while self._processed < target:
                    remaining = None if deadline is None else deadline - time.monotonic()
                    if remaining is not None and remaining <= 0:
                        raise CairnClientError(
                            f"flush timed out after {timeout} s with "
                            f"{target - self._processed} values still queued"
                        )
                    self._done.wait(remaining)
            finally:
                self._flushers -= 1
            failures, self._failures = self._failures, []
        if failures and raise_errors:
            raise DeliveryError(failures, self.spool.path)

    def close(self) -> None:
        """Flush (without raising: failures are logged and spooled) and stop the thread."""
        try:
            self.flush(raise_errors=False)
        finally:
            with self._lock:
                self._closing = True
                self._wake.notify()
            self._stop.set()
            if self._thread is not None:
                self._thread.join(10)

    # -- sender side -----------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._lock:
                while not self._buf and not self._closing:
                    self._wake.wait()
                if not self._buf and self._closing:
                    return
                if len(self._buf) < MAX_METRICS and not self._flushers and not self._closing:
                    self._wake.wait(LINGER_S)
                n = min(len(self._buf), TAKE)
                taken = [self._buf.popleft() for _ in range(n)]
                self._not_full.notify_all()
            try:
                for _run_id, body in batches(taken):
                    self._deliver(body, split=True)
            except BaseException as exc:  # never lose data to a bug: spool what is left
                log.exception("cairn: the logging thread failed; spooling the values")
                for _run_id, body in batches(taken):
                    self._fail(body, f"internal error: {exc!r}")
            finally:
                with self._lock:
                    self._processed += n
                    self._done.notify_all()

    def _deliver(self, body: dict[str, Any], split: bool) -> None:
        deadline = time.monotonic() + (0.0 if self._server_down else self.retry_timeout)
        delay = 0.25
        while True:
            try:
                self.rest.call("POST", "runs/log-batch", body, retry=False)
                self._server_down = False
                return
            except CairnRestError as exc:
                if not is_retryable(exc):
                    self._rejected(body, exc, split)
                    return
                error: CairnClientError = exc
            except CairnClientError as exc:  # connection errors
                error = exc
            if time.monotonic() + delay > deadline or self._stop.is_set():
                self._server_down = True
                self._fail(body, f"{error} (gave up after {self.retry_timeout:.0f} s of retries)")
                return
            log.warning("cairn: log-batch failed (%s); retrying in %.2f s", error, delay)
            self._stop.wait(delay)
            delay = min(delay * 2, 10.0)

    def _rejected(self, body: dict[str, Any], exc: CairnRestError, split: bool) -> None:
        """A 4xx: send the parts separately so one bad value does not sink the others."""
        if split and _count(body) > 1:
            run_id = body["run_id"]
            if body.get("metrics"):
                self._deliver({"run_id": run_id, "metrics": body["metrics"]}, split=False)
            for kind in ("params", "tags"):
                for entity in body.get(kind, []):
                    self._deliver({"run_id": run_id, kind: [entity]}, split=False)
            return
        self._fail(body, str(exc))

    def _fail(self, body: dict[str, Any], error: str) -> None:
        try:
            self.spool.write(body, error)
            where = f"kept in {self.spool.path}"
        except OSError as exc:
            where = f"AND could not be written to the spool {self.spool.path}: {exc}"
        message = f"run {body['run_id']}: {_count(body)} value(s) not delivered: {error}"
        log.error("cairn: %s; %s (replay with cairn.replay_spool())", message, where)
        with self._lock:
            self._failures.append(message)


@dataclass
class ReplayResult:
    """What :func:`replay_spool` did: batches delivered, batches still failing (kept)."""

    delivered: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


def replay_spool(
    tracking_uri: str | None = None, directory: str | Path | None = None
) -> ReplayResult:
    """Send the batches kept in the spool (``$CAIRN_SPOOL_DIR`` or ~/.cairn/spool).

    Each batch goes to the tracking URI it was logged to, or to ``tracking_uri`` when given.
    Delivered batches are removed from their file; failing ones stay for the next replay
    (re-sending is safe: an identical metric point, or a param with the same value, is a
    no-op on the server).
    """
    folder = Path(directory).expanduser() if directory is not None else spool_dir()
    result = ReplayResult()
    if not folder.is_dir():
        return result
    paths = sorted(folder.glob("*.jsonl")) + sorted(folder.glob("*.jsonl.claimed"))
    for path in paths:
        # claim the file: writers open it by name for every append, so after the rename new
        # failures go to a new file; the lock waits for an append already under way
        original = path.with_name(path.name.removesuffix(".claimed"))
        claimed = original.with_name(original.name + ".claimed")
        try:
            if path != claimed:
                path.replace(claimed)
            with claimed.open("rb") as handle:
                _lock_file(handle.fileno())
                lines = handle.read().splitlines()
        except FileNotFoundError:  # another replay took it
            continue
        keep: list[bytes] = []
        for line in lines:
            if not line.strip():
                continue
            try:
                record = orjson.loads(line)
                rest = rest_for(tracking_uri or record["tracking_uri"])
                rest.call("POST", "runs/log-batch", record["body"])
                result.delivered += 1
            except (CairnClientError, orjson.JSONDecodeError, KeyError, TypeError) as exc:
                result.failed += 1
                result.errors.append(f"{original.name}: {exc}")
                keep.append(line)
        if keep:
            _append_locked(original, keep)
        claimed.unlink()
    return result


def spooled_batches(directory: Path | None = None) -> int:
    """How many batches wait in the spool (a cheap line count)."""
    folder = directory or spool_dir()
    if not folder.is_dir():
        return 0
    return sum(
        1
        for p in [*folder.glob("*.jsonl"), *folder.glob("*.jsonl.claimed")]
        for line in p.read_bytes().splitlines()
        if line.strip()
    )
