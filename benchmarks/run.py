#!/usr/bin/env python3
"""Cairn against MLflow's own server, side by side, with the shared tracking benchmark.

Starts each server on a free loopback port with a fresh store in a temporary directory, runs
``shared/bench/tracking_bench.py`` against it (with its PID for CPU accounting), stops it by
PID, and prints ``shared/bench/compare.py``'s table. Servers run one after the other, never at
the same time, so they do not share the two cores.

    python benchmarks/run.py                               # Cairn and MLflow, all scenarios
    python benchmarks/run.py --only cairn --quick          # a smoke test
    python benchmarks/run.py --scenario search --mlflow-venv .venvs/mlflow3
    python benchmarks/run.py --only fml --fml-venv .venvs/fml    # FastTrackML 0.6.0
    python benchmarks/run.py --db postgresql -- --search-runs 10000   # both on PostgreSQL

MLflow comes from a virtualenv with ``mlflow==3.17.2`` (``make compat-venvs`` makes one at
``.venvs/mlflow3``). MLflow is measured twice: with keep-alive, as its client talks, and with
``Connection: close`` (``-noka``), which avoids a 40 ms stall of uvicorn's keep-alive path with
several workers; the better of the two is the fair baseline.

With ``--db postgresql`` Cairn and MLflow each get a fresh, empty database on the PostgreSQL at
``--pg-uri`` (created before the server starts, dropped after it stops). MLflow's virtualenv
has no PostgreSQL driver, so MLflow is started with the project's own psycopg 3 on its
``PYTHONPATH`` and a ``postgresql+psycopg://`` URI. Arguments after ``--`` go to
``tracking_bench.py`` unchanged (``-- --search-runs 1500``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_BENCH = ROOT.parent / "shared" / "bench"
SCENARIOS = "log_batch,log_metric_single,search,history"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(url: str, proc: subprocess.Popen[bytes], seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before answering {url}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer within {seconds} s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def start_cairn(
    workdir: Path,
    destination: str,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> tuple[subprocess.Popen[bytes], str]:
    """A fresh ``cairn server`` on SQLite in ``workdir``, ready; returns it and its base URL.
    ``cwd``: a source tree to run (``python -m`` imports from the working directory first;
    give ``PYTHONPATH`` in ``env`` too, for the processes it starts)."""
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cairn",
            "server",
            "--port",
            str(port),
            "--backend-store-uri",
            f"sqlite:///{workdir / 'cairn.db'}",
            "--artifacts-destination",
            destination,
        ],
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(f"{base}/version", proc)
    except BaseException:
        stop(proc)
        raise
    return proc, base


DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/postgres"


@contextmanager
def fresh_database(args: argparse.Namespace, label: str) -> Iterator[str | None]:
    """A new empty PostgreSQL database for one server (its ``postgresql+psycopg://`` URI),
    dropped afterwards; None on SQLite (each server makes its own file)."""
    if args.db != "postgresql":
        yield None
        return
    admin = make_url(args.pg_uri)
    name = f"bench_{label.replace('-', '_')}_{uuid.uuid4().hex[:8]}"
    dsn = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin.set(drivername="postgresql+psycopg", database=name).render_as_string(
            hide_password=False
        )
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def psycopg_path(workdir: Path) -> str:
    """A folder of links to this interpreter's psycopg packages, for another venv's path."""
    site = Path(psycopg.__file__).resolve().parent.parent
    folder = workdir / "pg-driver"
    folder.mkdir(exist_ok=True)
    for entry in site.iterdir():
        if entry.name.startswith(("psycopg", "psycopg_binary")):
            (folder / entry.name).symlink_to(entry)
    return str(folder)


def server_command(
    name: str, workdir: Path, port: int, args: argparse.Namespace, store: str | None = None
) -> list[str]:
    if name == "fml":
        return [
            str(args.fml_venv / "bin" / "fml"),
            "server",
            "--database-uri",
            f"sqlite://{workdir / 'fml.db'}",
            "--default-artifact-root",
            str(workdir / "artifacts"),
            "--listen-address",
            f"127.0.0.1:{port}",
        ]
    if name == "cairn":
        return [
            sys.executable,
            "-m",
            "cairn",
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--backend-store-uri",
            store or f"sqlite:///{workdir / 'cairn.db'}",
            *(["--workers", str(args.cairn_workers)] if args.cairn_workers else []),
        ]
    return [
        str(args.mlflow_venv / "bin" / "mlflow"),
        "server",
        "--backend-store-uri",
        store or f"sqlite:///{workdir / 'mlflow.db'}",
        "--artifacts-destination",
        str(workdir / "artifacts"),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]


def run_one(label: str, server: str, args: argparse.Namespace, out: Path) -> Path:
    with fresh_database(args, label) as store:
        return _run_one(label, server, args, out, store)


def _run_one(
    label: str, server: str, args: argparse.Namespace, out: Path, store: str | None
) -> Path:
    workdir = Path(tempfile.mkdtemp(prefix=f"bench-{label}-"))
    port = free_port()
    log = open(workdir / "server.log", "wb")
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}
    if store is not None and server == "mlflow":
        env["PYTHONPATH"] = psycopg_path(workdir)
    proc = subprocess.Popen(
        server_command(server, workdir, port, args, store),
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=workdir,
        start_new_session=True,
        env=env,
    )
    result = out / f"{label}.json"
    try:
        wait_ready(f"http://127.0.0.1:{port}/version", proc)
        cmd = [
            sys.executable,
            str(args.bench_dir / "tracking_bench.py"),
            "--url",
            f"http://127.0.0.1:{port}",
            "--label",
            label,
            "--server-pid",
            str(proc.pid),
            "--scenario",
            args.scenario,
            "--json-out",
            str(result),
            "--quiet",
        ]
        if label.endswith("-noka"):
            cmd.append("--no-keepalive")
        if args.quick:
            cmd.append("--quick")
        cmd += args.bench_args
        print(f"== {label}: {' '.join(cmd[2:])}", file=sys.stderr, flush=True)
        subprocess.run(cmd, check=False, timeout=args.timeout)
    finally:
        stop(proc)
        log.close()
        shutil.rmtree(workdir, ignore_errors=True)
    return result


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--only", choices=["cairn", "mlflow", "fml"], help="measure one server only")
    p.add_argument("--scenario", default=SCENARIOS, help=f"default: {SCENARIOS}")
    p.add_argument("--quick", action="store_true", help="tiny sizes (smoke test)")
    p.add_argument("--mlflow-venv", type=Path, default=ROOT / ".venvs" / "mlflow3")
    p.add_argument(
        "--fml-venv",
        type=Path,
        default=ROOT / ".venvs" / "fml",
        help="a virtualenv with fasttrackml==0.6.0; FastTrackML is measured when it exists",
    )
    p.add_argument("--bench-dir", type=Path, default=DEFAULT_BENCH)
    p.add_argument("--out", type=Path, default=ROOT / "bench-results")
    p.add_argument("--timeout", type=float, default=3600, help="per server, seconds")
    p.add_argument(
        "--db",
        choices=["sqlite", "postgresql"],
        default="sqlite",
        help="the store of every server: a fresh SQLite file, or a fresh PostgreSQL database",
    )
    p.add_argument(
        "--pg-uri",
        default=DEFAULT_PG,
        help=f"with --db postgresql: a database to create the others from [{DEFAULT_PG}]",
    )
    p.add_argument(
        "--cairn-workers", type=int, default=0, help="cairn server --workers [its default]"
    )
    p.add_argument(
        "--keep-alive-only",
        action="store_true",
        help="measure MLflow once, with keep-alive (no -noka run)",
    )
    p.add_argument("bench_args", nargs="*", help="after --: passed to tracking_bench.py")
    args = p.parse_args()
    if not (args.bench_dir / "tracking_bench.py").exists():
        p.error(f"no tracking_bench.py in {args.bench_dir} (set --bench-dir)")
    args.out.mkdir(parents=True, exist_ok=True)
    targets = []
    if args.only in (None, "cairn"):
        targets.append(("cairn", "cairn"))
    if args.only in (None, "mlflow"):
        if not (args.mlflow_venv / "bin" / "mlflow").exists():
            p.error(f"no mlflow in {args.mlflow_venv}: run `make compat-venvs` or --only cairn")
        targets.append(("mlflow", "mlflow"))
        if not args.keep_alive_only:
            targets.append(("mlflow-noka", "mlflow"))
    if args.only == "fml" or (args.only is None and (args.fml_venv / "bin" / "fml").exists()):
        targets.append(("fml", "fml"))
    if args.db == "postgresql":
        targets = [(label.replace(s, f"{s}-pg", 1), s) for label, s in targets if s != "fml"]
    results = [run_one(label, server, args, args.out) for label, server in targets]
    existing = [str(r) for r in results if r.exists()]
    table = subprocess.run(
        [sys.executable, str(args.bench_dir / "compare.py"), *existing],
        check=False,
        capture_output=True,
        text=True,
    )
    (args.out / "table.md").write_text(table.stdout)
    print(table.stdout)
    return 0 if len(existing) == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
