"""In-Cairn providers run in a child process at the lowest priority, not in the server.

The ``cairn`` and ``red_team`` providers (and any third-party provider that runs in Cairn)
load a model, predict and compute metrics: pandas and scikit-learn work that, in the server's
own process, holds the GIL the request threads need. :func:`run_provider` hands
``provider.run`` to a child process (``python -m cairn.evals.child_main``) instead:

- the child lowers itself to nice 19 and, on Linux, ``SCHED_IDLE`` (it gets the CPU only when
  nothing else wants it), and keeps none of the server's settings: its environment has no
  ``CAIRN_*``/``MLFLOW_*`` variable but ``CAIRN_EVAL_PROVIDER_MODULES``, so a model's pickled
  code cannot read the database URI or the server's keys;
- it never opens the database or the artifact store: what a provider fetches
  (:class:`~cairn.evals.provider.Resources`: the model's files, a dataset file) is asked of
  the worker over the child's pipes, and its log lines, progress and result come back the
  same way; the worker records them in short transactions, as before;
- a benchmark is bounded by ``config.timeout_seconds`` (default ``CAIRN_EVAL_TIMEOUT``,
  3600 s); on timeout or cancel the worker kills the child's process group (SIGTERM, SIGKILL
  after a grace time) by its PID; a child that dies (a crash, ``kill -9``, out of memory) fails
  the benchmark with its exit code or signal and the last lines it wrote to stderr;
- a child serves one benchmark after another for its worker thread (imports are paid once) and
  is replaced after :data:`MAX_BENCHMARKS_PER_CHILD`, or after a kill.

A provider that only starts and watches a process of its own (``lm_evaluation_harness``:
``own_process = True``) is run in the worker directly.
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import selectors
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict
from pathlib import Path
from typing import IO, Any

from cairn.entities.errors import CairnError, ErrorCode
from cairn.evals.provider import (
    BenchmarkContext,
    BenchmarkResult,
    Cancelled,
    ModelSpec,
    ParamSpec,
    Provider,
)

TIMEOUT_VARIABLE = "CAIRN_EVAL_TIMEOUT"
"""Seconds an in-Cairn benchmark may take when its config gives no ``timeout_seconds``."""
DEFAULT_TIMEOUT_S = 3600.0
MAX_TIMEOUT_S = 7 * 24 * 3600.0
TIMEOUT_PARAM = ParamSpec(
    "float",
    f"Seconds the benchmark may take before it is stopped and failed (default "
    f"{TIMEOUT_VARIABLE}, else {DEFAULT_TIMEOUT_S:g})",
)
CHILD_NICENESS = 19
MAX_BENCHMARKS_PER_CHILD = 200
STOP_GRACE_S = 3.0
"""How long a child gets to exit after SIGTERM before its process group is killed."""
TAIL_LINES = 20
MAX_LOG_LINES = 20_000
MAX_LINE_CHARS = 2_000
MAX_MESSAGE_BYTES = 64 * 1024 * 1024
KEPT_VARIABLES = ("CAIRN_EVAL_PROVIDER_MODULES",)
_WITHHELD_PREFIXES = ("CAIRN_", "MLFLOW_")
_POLL_S = 0.25


class ChildFailure(Exception):
    """A provider's failure inside the child, or the child's own death: ``message`` is what
    the benchmark records (``RuntimeError: asked to fail``, ``… died (signal 9)``)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def own_process(provider: Provider) -> bool:
    """True when the provider runs a process of its own and so runs in the worker."""
    return bool(getattr(provider, "own_process", False))


def timeout_seconds(
    config: Mapping[str, Any],
    environ: Mapping[str, str] | None = None,
    variable: str = TIMEOUT_VARIABLE,
    default: float = DEFAULT_TIMEOUT_S,
) -> float:
    """A benchmark's time limit: ``config.timeout_seconds``, else the environment ``variable``
    (``CAIRN_EVAL_TIMEOUT``), else ``default``; a 400 naming ``config.timeout_seconds`` for a
    bad value (a bad variable is ignored)."""
    value = config.get("timeout_seconds")
    if value is None:
        env = os.environ if environ is None else environ
        text = env.get(variable, "").strip()
        try:
            found = float(text) if text else default
        except ValueError:
            found = default
        return found if 0 < found <= MAX_TIMEOUT_S else default
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value:
        raise CairnError.invalid("config.timeout_seconds: expected a positive number of seconds")
    if value > MAX_TIMEOUT_S:
        raise CairnError.invalid(f"config.timeout_seconds: at most {MAX_TIMEOUT_S:g} seconds")
    return float(value)


# ----------------------------------------------------------------------- stopping a group
def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def stop_group(process: subprocess.Popen[bytes], grace_s: float) -> None:
    """SIGTERM to the process group of ``process`` (started with ``start_new_session``, so the
    group is it and whatever it started), SIGKILL to what is left after ``grace_s``."""
    pgid = process.pid
    deadline = time.monotonic() + grace_s
    if group_alive(pgid):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=grace_s)
    while group_alive(pgid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if group_alive(pgid):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=grace_s)


def lower_priority(pid: int = 0) -> None:
    """Nice 19 and, where the platform has it, ``SCHED_IDLE`` for process ``pid`` (0: this
    one). Best effort: a platform without them runs the child at the usual priority."""
    with contextlib.suppress(AttributeError, OSError):
        current = os.getpriority(os.PRIO_PROCESS, pid)
        if current < CHILD_NICENESS:
            os.setpriority(os.PRIO_PROCESS, pid, CHILD_NICENESS)
    idle = getattr(os, "SCHED_IDLE", None)
    if idle is not None:
        with contextlib.suppress(AttributeError, OSError):
            os.sched_setscheduler(pid, idle, os.sched_param(0))


# ------------------------------------------------------------------------ the worker's side
def _child_env() -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(_WITHHELD_PREFIXES) or k in KEPT_VARIABLES
    }
    # the child imports what this process imports (an installed Cairn, a checkout, plugins)
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    env["PYTHONUNBUFFERED"] = "1"
    return env


class _Stderr:
    """The child's stderr cut into lines: forwarded to the benchmark's log (bounded), the last
    ones kept for the message of a child that died."""

    def __init__(self) -> None:
        self.pending = b""
        self.tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)
        self.log: Callable[[str], None] | None = None
        self.forwarded = 0

    def feed(self, chunk: bytes) -> None:
        self.pending += chunk
        *lines, self.pending = self.pending.split(b"\n")
        if len(self.pending) > 64_000:
            lines.append(self.pending)
            self.pending = b""
        for raw in lines:
            text = raw.decode("utf-8", "replace").rstrip()
            if not text.strip():
                continue
            text = text[:MAX_LINE_CHARS]
            self.tail.append(text)
            if self.log is not None and self.forwarded < MAX_LOG_LINES:
                self.forwarded += 1
                self.log(text)


class ChildProcess:
    """One child process and its pipes, seen from the worker thread that owns it."""

    def __init__(self) -> None:
        self.process: subprocess.Popen[bytes] = subprocess.Popen(
            [sys.executable, "-m", "cairn.evals.child_main"],
            env=_child_env(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        lower_priority(self.process.pid)  # the child lowers itself too; this covers its start
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        assert self.process.stderr is not None
        self.stdin: IO[bytes] = self.process.stdin
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.process.stdout.fileno(), selectors.EVENT_READ, "messages")
        self.selector.register(self.process.stderr.fileno(), selectors.EVENT_READ, "stderr")
        self.pending = b""
        self.stderr = _Stderr()
        self.served = 0

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        """Stop the child's process group by its PID and close the pipes."""
        stop_group(self.process, STOP_GRACE_S)
        self.selector.close()
        for pipe in (self.process.stdin, self.process.stdout, self.process.stderr):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()

    def _send(self, message: Mapping[str, Any]) -> None:
        self.stdin.write(json.dumps(message).encode() + b"\n")
        self.stdin.flush()

    def _death(self, what: str) -> ChildFailure:
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=STOP_GRACE_S)
        # what it wrote last is still in the pipe: read it for the message
        with contextlib.suppress(OSError, ValueError):
            for key, _ in self.selector.select(timeout=0):
                if key.data == "stderr":
                    self.stderr.feed(os.read(key.fd, 65536) + b"\n")
        code = self.process.returncode
        if code is None:
            how = "stopped answering"
        elif code < 0:
            try:
                how = f"was killed by signal {-code} ({signal.Signals(-code).name})"
            except ValueError:
                how = f"was killed by signal {-code}"
        else:
            how = f"exited with code {code}"
        message = f"the evaluation process (pid {self.pid}) {how} {what}"
        if self.stderr.tail:
            message += "\n--- last lines of its stderr ---\n" + "\n".join(self.stderr.tail)
        return ChildFailure(message)

    def run(self, provider: Provider, ctx: BenchmarkContext, timeout_s: float) -> BenchmarkResult:
        """Run one benchmark in the child; :class:`Cancelled`, :class:`TimeoutError` or
        :class:`ChildFailure` (the caller then kills the child), or a CairnError the provider
        raised."""
        self.served += 1
        self.stderr.log = ctx.log
        self.stderr.forwarded = 0
        request = {
            "op": "run",
            "provider": provider.id,
            "module": type(provider).__module__,
            "job_id": ctx.job_id,
            "index": ctx.index,
            "benchmark_id": ctx.benchmark_id,
            "config": dict(ctx.config),
            "model": asdict(ctx.model),
            "workdir": str(ctx.workdir),
        }
        try:
            self._send(request)
        except OSError:
            raise self._death("before the benchmark started") from None
        deadline = time.monotonic() + timeout_s
        while True:
            if ctx.cancelled():
                raise Cancelled()
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"the benchmark did not finish within {timeout_s:g} s "
                    "(config.timeout_seconds): its evaluation process was stopped"
                )
            for key, _ in self.selector.select(timeout=_POLL_S):
                chunk = os.read(key.fd, 65536)
                if not chunk:
                    raise self._death("during the benchmark")
                if key.data == "stderr":
                    self.stderr.feed(chunk)
                    continue
                self.pending += chunk
                if len(self.pending) > MAX_MESSAGE_BYTES:
                    raise ChildFailure("the evaluation process sent a message over 64 MB")
                *lines, self.pending = self.pending.split(b"\n")
                for line in lines:
                    done = self._handle(json.loads(line), ctx)
                    if done is not None:
                        return done
            if not self.alive():
                raise self._death("during the benchmark")

    def _handle(self, message: dict[str, Any], ctx: BenchmarkContext) -> BenchmarkResult | None:
        if "log" in message:
            ctx.log(str(message["log"]))
        elif "progress" in message:
            phase, fraction = message["progress"]
            ctx.progress(str(phase), fraction)
        elif "call" in message:
            self._answer(message, ctx)
        elif "result" in message:
            return _result_of(message["result"])
        elif "cancelled" in message:
            raise Cancelled()
        elif "error" in message:
            error = message["error"]
            if error.get("code"):
                raise CairnError(str(error["message"]), ErrorCode(error["code"]))
            raise ChildFailure(str(error["message"]))
        return None

    def _answer(self, message: dict[str, Any], ctx: BenchmarkContext) -> None:
        """Fetch what the provider asked for, here in the worker (the database and artifact
        store are the worker's), and answer with the local path or the error."""
        call, args = message["call"], message.get("args") or {}
        try:
            if call == "model_dir":
                model = ModelSpec(**args["model"])
                found = ctx.resources.model_dir(model, Path(args["into"]))
            elif call == "dataset_file":
                found = ctx.resources.dataset_file(str(args["ref"]), Path(args["into"]))
            else:
                raise CairnError.invalid(f"unknown resource call {str(call)[:40]!r}")
            answer: dict[str, Any] = {"path": str(found)}
        except CairnError as exc:
            answer = {"error": {"code": exc.error_code.value, "message": exc.message}}
        except OSError as exc:
            answer = {"error": {"code": None, "message": f"{type(exc).__name__}: {exc}"}}
        try:
            self._send(answer)
        except OSError:
            raise self._death("while fetching the benchmark's inputs") from None


def _result_of(data: Mapping[str, Any]) -> BenchmarkResult:
    return BenchmarkResult(
        metrics={str(k): float(v) for k, v in (data.get("metrics") or {}).items()},
        params={str(k): str(v) for k, v in (data.get("params") or {}).items()},
        tags={str(k): str(v) for k, v in (data.get("tags") or {}).items()},
        artifacts={str(k): Path(v) for k, v in (data.get("artifacts") or {}).items()},
        primary_metric=data.get("primary_metric"),
        details=dict(data.get("details") or {}),
    )


_LOCAL = threading.local()


def run_provider(provider: Provider, ctx: BenchmarkContext, timeout_s: float) -> BenchmarkResult:
    """``provider.run(ctx)`` in this worker thread's child process (started when there is none
    or the last one was stopped), or in the worker itself for a provider with a process of
    its own. Raises what ``run`` would, and :class:`ChildFailure` or :class:`TimeoutError`."""
    if own_process(provider):
        return provider.run(ctx)
    child: ChildProcess | None = getattr(_LOCAL, "child", None)
    if child is None or not child.alive() or child.served >= MAX_BENCHMARKS_PER_CHILD:
        if child is not None:
            child.kill()
        try:
            child = ChildProcess()
        except OSError as exc:
            raise ChildFailure(f"cannot start the evaluation process: {exc}") from exc
        _LOCAL.child = child
        ctx.log(f"started the evaluation process (pid {child.pid})")
    else:
        ctx.log(f"the evaluation process (pid {child.pid}) runs the benchmark")
    try:
        return child.run(provider, ctx, timeout_s)
    except (Cancelled, TimeoutError, ChildFailure, OSError, ValueError):
        # whatever state it is in, it is not trusted with another benchmark
        _LOCAL.child = None
        child.kill()
        ctx.log(f"the evaluation process (pid {child.pid}) was stopped")
        raise
    finally:
        child.stderr.log = None


def stop_child() -> None:
    """Stop this thread's child process, if it has one (a worker thread that ends)."""
    child: ChildProcess | None = getattr(_LOCAL, "child", None)
    _LOCAL.child = None
    if child is not None:
        child.kill()
