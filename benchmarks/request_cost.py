"""What one sequential one-point ``POST /api/2.0/mlflow/runs/log-metric`` costs the server, in
process: CPU per request and SQLite write-ahead-log pages per commit.

Wall-clock requests/s on a shared machine moves with everybody else's load; CPU time and pages
written do not (much). This drives the whole app (``create_app``, lifespan included, the job
engine running where the tree has one) through its ASGI interface on a fresh SQLite store, the
way ``cairn server`` would, without a socket or an HTTP client, and reports:

- CPU per request: the process's (every thread: the request, the writer, the job engine's
  outbox consumers, the checkpointer) and the event loop thread's alone;
- WAL pages per commit: the write-ahead log's frames per request, with every checkpoint
  turned off for the measurement (a second pass, so the first is not changed by it).

It imports ``cairn`` from ``PYTHONPATH``, so it measures any tree, e.g. one unpacked with
``git archive``::

    PYTHONPATH=. python benchmarks/request_cost.py
    mkdir /tmp/before && git archive 99aa6cb | tar -x -C /tmp/before
    PYTHONPATH=/tmp/before python benchmarks/request_cost.py

``--against COMMIT`` unpacks that commit with ``git archive`` and measures it and this tree at
the same time (two processes side by side, so both see the same load), then prints both.
``--profile out.txt`` writes a cProfile (thread CPU time) of the timed loop.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import pstats
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from cairn.server.app import create_app
from cairn.server.settings import Settings

Message = dict[str, Any]


class Lifespan:
    """The ASGI lifespan protocol, driven by hand: start-up on enter, shutdown on exit."""

    def __init__(self, app: Any):
        self.app = app
        self.inbox: asyncio.Queue[Message] = asyncio.Queue()
        self.outbox: asyncio.Queue[Message] = asyncio.Queue()
        self.task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Lifespan:
        self.task = asyncio.create_task(
            self.app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}},
                     self.inbox.get, self.outbox.put)
        )  # fmt: skip
        await self.inbox.put({"type": "lifespan.startup"})
        got = await asyncio.wait_for(self.outbox.get(), 60)
        if got["type"] != "lifespan.startup.complete":
            raise RuntimeError(f"start-up failed: {got}")
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.inbox.put({"type": "lifespan.shutdown"})
        await asyncio.wait_for(self.outbox.get(), 60)
        assert self.task is not None
        await asyncio.wait_for(self.task, 60)


async def call(app: Any, path: str, body: bytes) -> tuple[int, bytes]:
    """One POST through the app; its status and body."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"127.0.0.1"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 5000),
        "state": {},
    }
    sent = False
    status = 0
    chunks: list[bytes] = []

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return status, b"".join(chunks)


API = "/api/2.0/mlflow"


async def post(app: Any, path: str, doc: dict[str, Any]) -> dict[str, Any]:
    status, out = await call(app, API + path, json.dumps(doc).encode())
    if status != 200:
        raise RuntimeError(f"{path}: {status} {out[:300]!r}")
    found: dict[str, Any] = json.loads(out) if out else {}
    return found


def wal_frames(db_file: Path) -> int:
    """Frames in the write-ahead log (header 32 bytes, each frame 24 + page size)."""
    wal = Path(f"{db_file}-wal")
    if not wal.exists():
        return 0
    size = wal.stat().st_size
    with sqlite3.connect(db_file) as conn:
        page = int(conn.execute("PRAGMA page_size").fetchone()[0])
    return max(0, (size - 32) // (page + 24))


def writer_of(app: Any) -> Any:
    """The app's SQLite writer (the lifespan stores the database on the app's state)."""
    seen: set[int] = set()
    todo = [app]
    while todo:
        obj = todo.pop()
        if id(obj) in seen or obj is None:
            continue
        seen.add(id(obj))
        state = getattr(obj, "state", None)
        db = getattr(state, "db", None) if state is not None else None
        if db is not None:
            return db
        for name in ("app", "_app", "inner", "next", "dispatch", "root", "api", "layer"):
            todo.append(getattr(obj, name, None))
    raise RuntimeError("no database found on the app")


async def measure(
    workdir: Path, n: int, wal_pass: bool, profile: Path | None, jobs: bool = True
) -> dict[str, Any]:
    db_file = workdir / "cairn.db"
    extra = {} if jobs else {"run_jobs": False}  # a tree without a job engine has no setting
    settings = Settings(
        backend_store_uri=f"sqlite:///{db_file}",
        artifacts_destination=str(workdir / "artifacts"),
        **extra,  # type: ignore[arg-type]
    )
    app = create_app(settings)
    async with Lifespan(app):
        eid = (await post(app, "/experiments/create", {"name": "cost"}))["experiment_id"]
        rid = (await post(app, "/runs/create", {"experiment_id": eid, "start_time": 1}))["run"][
            "info"
        ]["run_id"]
        bodies = [
            json.dumps(
                {"run_id": rid, "key": "loss", "value": i * 0.5, "timestamp": 1000 + i, "step": i}
            ).encode()
            for i in range(2 * n)
        ]
        path = API + "/runs/log-metric"
        for body in bodies[:n]:  # warm-up
            await call(app, path, body)
        await asyncio.sleep(0.5)
        if wal_pass:
            db = writer_of(app)
            writer = db._writer
            checkpointer = getattr(writer, "_checkpointer", None)
            if checkpointer is not None:
                checkpointer.close()
            with writer._lock:  # the writer's own connection, outside any transaction
                raw = writer._conn.connection.driver_connection
                raw.execute("PRAGMA wal_autocheckpoint=0")
                raw.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
            before = wal_frames(db_file)
            for body in bodies[n:]:
                await call(app, path, body)
            await asyncio.sleep(0.5)  # let the outbox consumers commit what they read
            return {"wal_pages_per_commit": (wal_frames(db_file) - before) / n}
        prof = cProfile.Profile(time.thread_time) if profile else None
        cpu0, thread0, wall0 = time.process_time(), time.thread_time(), time.perf_counter()
        if prof:
            prof.enable()
        for body in bodies[n:]:
            status, out = await call(app, path, body)
            if status != 200:
                raise RuntimeError(f"log-metric: {status} {out[:300]!r}")
        if prof:
            prof.disable()
        wall = time.perf_counter() - wall0
        thread = time.thread_time() - thread0
        await asyncio.sleep(0.5)  # the job engine's share of these requests (0.2 s batches)
        cpu = time.process_time() - cpu0
        if prof and profile:
            with profile.open("w") as out_file:
                pstats.Stats(prof, stream=out_file).sort_stats("tottime").print_stats(60)
                pstats.Stats(prof, stream=out_file).sort_stats("cumulative").print_stats(90)
        return {
            "requests": n,
            "process_cpu_us": cpu / n * 1e6,
            "loop_thread_cpu_us": thread / n * 1e6,
            "wall_us": wall / n * 1e6,
        }


ROOT = Path(__file__).resolve().parent.parent
FIGURES = ("process_cpu_us", "loop_thread_cpu_us", "wall_us")


def against(commit: str, argv: list[str]) -> int:
    """This script on ``commit``'s tree and on this one, side by side; a table of the two."""
    with tempfile.TemporaryDirectory(prefix="cairn-cost-against-") as tmp:
        old = Path(tmp) / "tree"
        old.mkdir()
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", commit], check=True, capture_output=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(old)], input=archive, check=True)
        procs = {
            name: subprocess.Popen(
                [sys.executable, __file__, *argv],
                cwd=tree,
                env={**os.environ, "PYTHONPATH": str(tree)},
                stdout=subprocess.PIPE,
            )
            for name, tree in ((commit, old), ("this tree", ROOT))
        }
        docs = {name: json.loads(proc.communicate(timeout=3600)[0]) for name, proc in procs.items()}
    print("| tree | " + " | ".join(FIGURES) + " | WAL pages per commit |")
    print("|---|" + "---|" * (len(FIGURES) + 1))
    for name, doc in docs.items():
        cells = [f"{doc['best'][k]:,.0f} {[round(r[k]) for r in doc['rounds']]}" for k in FIGURES]
        pages = doc.get("wal_pages_per_commit")
        print(f"| {name} | {' | '.join(cells)} | {'' if pages is None else f'{pages:.1f}'} |")
    print(f"load average {os.getloadavg()[0]:.1f}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", type=Path, default=None)
    parser.add_argument("--no-wal", action="store_true", help="skip the WAL pages pass")
    parser.add_argument("--no-jobs", action="store_true", help="without the job engine")
    parser.add_argument("--against", metavar="COMMIT", default=None)
    args = parser.parse_args()
    if args.against:
        argv = [a for a in sys.argv[1:] if a not in ("--against", args.against)]
        return against(args.against, argv)
    os.environ.setdefault("CAIRN_HOME", tempfile.mkdtemp(prefix="cairn-cost-home-"))
    results = []
    for _ in range(args.rounds):
        with tempfile.TemporaryDirectory(prefix="cairn-cost-") as tmp:
            results.append(
                asyncio.run(
                    measure(Path(tmp), args.requests, False, args.profile, not args.no_jobs)
                )
            )
    wal: dict[str, Any] = {}
    if not args.no_wal:
        with tempfile.TemporaryDirectory(prefix="cairn-cost-") as tmp:
            wal = asyncio.run(measure(Path(tmp), args.requests, True, None, not args.no_jobs))
    best = min(results, key=lambda r: r["process_cpu_us"])
    doc = {
        "tree": str(Path(sys.modules["cairn"].__file__ or "").parent.parent),
        "rounds": results,
        "best": best,
        **wal,
        "load_average": os.getloadavg(),
    }
    print(json.dumps(doc, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
