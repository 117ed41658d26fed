#!/usr/bin/env python3
"""What access control costs: Cairn with auth off, with a bearer token and with a password,
against MLflow 3.17.2 without auth and with ``--app-name basic-auth`` (docs/benchmarks.md,
"Access control").

Each round starts every server once, one after the other on a fresh SQLite store in a
temporary directory, runs the shared tracking benchmark's ``log_metric_single`` (sequential
and threaded) and ``log_batch`` against it through ``authed_tracking_bench.py`` (which adds the
``Authorization`` header), and stops it by PID. The order of the servers alternates between
rounds because this machine is noisy; the summary gives, per figure, the median and the range
over rounds and the median of the per-round ratios auth / no auth.

The measured caller is an ordinary user, not an admin, so every request goes through the
permission check: on Cairn a user ``bench`` (made with ``cairn users create`` and ``cairn
tokens create`` before the server starts), on MLflow a user made through its
``users/create`` endpoint by the admin from ``MLFLOW_AUTH_ADMIN_PASSWORD``. Both creators get
MANAGE on the experiments they make.

    python benchmarks/auth_bench.py                   # 3 rounds, all five servers
    python benchmarks/auth_bench.py --rounds 5 --only cairn
    python benchmarks/auth_bench.py --quick --rounds 1  # a smoke test
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.run import free_port, stop  # noqa: E402

DEFAULT_BENCH = ROOT.parent / "shared" / "bench"
SCENARIOS = "log_metric_single,log_batch"
USER = "bench"
PASSWORD = "bench-password-0123456789"
ADMIN = "admin"
ADMIN_PASSWORD = "admin-password-0123456789"
# (scenario, path into its "metrics", label, unit)
FIGURES = [
    ("log_metric_single", ("sequential", "requests_per_s"), "log-metric, sequential", "req/s"),
    ("log_metric_single", ("concurrent", "requests_per_s"), "log-metric, 8 threads", "req/s"),
    ("log_batch", ("points_per_s",), "log-batch", "points/s"),
]


@dataclass(frozen=True)
class Target:
    label: str
    server: str  # "cairn" or "mlflow"
    auth: str  # "off", "bearer", "basic" or "basic-cached" (MLflow's opt-in credential cache)
    baseline: str | None  # label of the same server without auth


TARGETS = [
    Target("cairn", "cairn", "off", None),
    Target("cairn-bearer", "cairn", "bearer", "cairn"),
    Target("cairn-basic", "cairn", "basic", "cairn"),
    Target("mlflow", "mlflow", "off", None),
    Target("mlflow-basic-auth", "mlflow", "basic", "mlflow"),
    Target("mlflow-basic-auth-cached", "mlflow", "basic-cached", "mlflow"),
]
# MLflow's basic_auth.ini with its credential cache on (off by default: every request then
# checks the password hash); users in basic_auth.db in the server's working directory
CACHED_INI = """[mlflow]
default_permission = READ
database_uri = sqlite:///basic_auth.db
admin_username = admin
authorization_function = mlflow.server.auth:authenticate_request_basic_auth
auth_cache_ttl_seconds = 60
"""


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def wait_answering(url: str, proc: subprocess.Popen[bytes], seconds: float = 120) -> None:
    """Until ``url`` answers with any HTTP status (an auth server may say 401)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before answering {url}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer within {seconds} s")


def cairn_cli(args: list[str], store: str, stdin: str | None = None) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "cairn", *args, "--backend-store-uri", store],
        input=stdin,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return done.stdout


def prepare_cairn(target: Target, workdir: Path) -> tuple[list[str], dict[str, str], str | None]:
    """The server command, its extra environment and the client's Authorization header."""
    store = f"sqlite:///{workdir / 'cairn.db'}"
    cmd = [sys.executable, "-m", "cairn", "server", "--backend-store-uri", store]
    if target.auth == "off":
        return cmd, {}, None
    cairn_cli(["users", "create", USER, "--password-stdin"], store, stdin=PASSWORD + "\n")
    header = basic(USER, PASSWORD)
    if target.auth == "bearer":
        secret = cairn_cli(["tokens", "create", USER, "bench"], store).strip().splitlines()[-1]
        header = f"Bearer {secret}"
    env = {"CAIRN_ADMIN_USERNAME": ADMIN, "CAIRN_ADMIN_PASSWORD": ADMIN_PASSWORD}
    return [*cmd, "--auth"], env, header


def auth_extras(venv: Path, extras: Path) -> Path:
    """Flask-WTF (``mlflow[auth]``), which the basic-auth app imports and the compat venv lacks.

    Installed once with the venv's pip into ``extras`` (beside, not into, the shared venv) and
    put on the MLflow server's ``PYTHONPATH``.
    """
    if not (extras / "flask_wtf").exists():
        subprocess.run(
            [str(venv / "bin" / "pip"), "install", "-q", "--no-deps", "--target", str(extras)]
            + ["flask-wtf", "wtforms"],
            check=True,
            timeout=600,
        )
    return extras


def prepare_mlflow(
    target: Target, workdir: Path, venv: Path, extras: Path
) -> tuple[list[str], dict[str, str], str | None]:
    cmd = [
        str(venv / "bin" / "mlflow"),
        "server",
        "--backend-store-uri",
        f"sqlite:///{workdir / 'mlflow.db'}",
        "--artifacts-destination",
        str(workdir / "artifacts"),
    ]
    if target.auth == "off":
        return cmd, {}, None
    env = {
        "MLFLOW_FLASK_SERVER_SECRET_KEY": "bench-secret-key-0123456789",
        "MLFLOW_AUTH_ADMIN_USERNAME": ADMIN,
        "MLFLOW_AUTH_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "PYTHONPATH": str(auth_extras(venv, extras)),
    }
    if target.auth == "basic-cached":
        (workdir / "basic_auth.ini").write_text(CACHED_INI)
        env["MLFLOW_AUTH_CONFIG_PATH"] = str(workdir / "basic_auth.ini")
    # its basic_auth.ini keeps users in sqlite:///basic_auth.db, relative to the working dir
    return [*cmd, "--app-name", "basic-auth"], env, basic(USER, PASSWORD)


def create_mlflow_user(base: str) -> None:
    body = json.dumps({"username": USER, "password": PASSWORD}).encode()
    req = urllib.request.Request(
        f"{base}/api/2.0/mlflow/users/create",
        data=body,
        headers={"Content-Type": "application/json", "Authorization": basic(ADMIN, ADMIN_PASSWORD)},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        resp.read()


def run_target(target: Target, args: argparse.Namespace, out: Path, round_no: int) -> Path:
    workdir = Path(tempfile.mkdtemp(prefix=f"authbench-{target.label}-"))
    port = free_port()
    if target.server == "cairn":
        cmd, env, header = prepare_cairn(target, workdir)
    else:
        cmd, env, header = prepare_mlflow(
            target, workdir, args.mlflow_venv, args.mlflow_auth_extras
        )
    cmd += ["--host", "127.0.0.1", "--port", str(port)]
    base = f"http://127.0.0.1:{port}"
    log = open(workdir / "server.log", "wb")
    proc = subprocess.Popen(
        cmd,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=workdir,
        start_new_session=True,
        env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true", **env},
    )
    result = out / f"{target.label}-r{round_no}.json"
    result.unlink(missing_ok=True)
    try:
        wait_answering(f"{base}/version", proc)
        if target.server == "mlflow" and target.auth != "off":
            create_mlflow_user(base)
        bench = [
            sys.executable,
            str(ROOT / "benchmarks" / "authed_tracking_bench.py"),
            "--bench-dir",
            str(args.bench_dir),
            "--url",
            base,
            "--label",
            target.label,
            "--server-pid",
            str(proc.pid),
            "--scenario",
            args.scenario,
            "--json-out",
            str(result),
            "--quiet",
            *args.bench_args,
        ]
        if args.quick:
            bench.append("--quick")
        if target.server == "mlflow" and args.mlflow_no_keepalive:
            bench.append("--no-keepalive")
        print(f"== round {round_no} {target.label}", file=sys.stderr, flush=True)
        bench_env = {**os.environ}
        bench_env.pop("BENCH_AUTHORIZATION", None)
        if header:
            bench_env["BENCH_AUTHORIZATION"] = header
        subprocess.run(
            bench, env=bench_env, check=False, timeout=args.timeout, stdout=subprocess.DEVNULL
        )
    finally:
        stop(proc)
        log.close()
        if not result.exists():
            sys.stderr.write((workdir / "server.log").read_text(errors="replace")[-3000:])
        shutil.rmtree(workdir, ignore_errors=True)
    return result


def figure(doc: dict[str, Any], scenario: str, path: tuple[str, ...]) -> float | None:
    res = doc.get("scenarios", {}).get(scenario, {})
    if res.get("status") != "ok":
        return None
    value: Any = res.get("metrics", {})
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return float(value) if isinstance(value, (int, float)) else None


def summarize(runs: dict[str, list[dict[str, Any]]], targets: list[Target]) -> str:
    """A markdown table: median [min–max] per figure and server, and median paired ratios."""
    lines = [
        "| server | " + " | ".join(f"{name} ({unit})" for _, _, name, unit in FIGURES) + " |",
        "|---" * (len(FIGURES) + 1) + "|",
    ]
    for target in targets:
        cells = []
        for scenario, path, _, _ in FIGURES:
            values = [v for d in runs[target.label] if (v := figure(d, scenario, path))]
            if not values:
                cells.append("failed")
                continue
            cell = f"{statistics.median(values):,.0f} [{min(values):,.0f}–{max(values):,.0f}]"
            if target.baseline and target.baseline in runs:
                ratios = [
                    a / b
                    for d, base in zip(runs[target.label], runs[target.baseline], strict=False)
                    if (a := figure(d, scenario, path)) and (b := figure(base, scenario, path))
                ]
                if ratios:
                    cell += f" · {statistics.median(ratios):.0%} of off"
            cells.append(cell)
        lines.append(f"| {target.label} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--only", choices=["cairn", "mlflow"], help="measure one server only")
    p.add_argument(
        "--targets",
        help="comma-separated labels to measure: " + ", ".join(t.label for t in TARGETS),
    )
    p.add_argument("--rounds", type=int, default=3, help="default: 3")
    p.add_argument("--scenario", default=SCENARIOS, help=f"default: {SCENARIOS}")
    p.add_argument("--quick", action="store_true", help="tiny sizes (smoke test)")
    p.add_argument("--mlflow-venv", type=Path, default=ROOT / ".venvs" / "mlflow3")
    p.add_argument(
        "--mlflow-no-keepalive",
        action="store_true",
        help="measure MLflow with Connection: close (see benchmarks/run.py)",
    )
    p.add_argument(
        "--mlflow-auth-extras",
        type=Path,
        default=ROOT / "bench-results" / "mlflow-auth-extras",
        help="where Flask-WTF for MLflow's basic-auth app is installed (once)",
    )
    p.add_argument("--bench-dir", type=Path, default=DEFAULT_BENCH)
    p.add_argument("--out", type=Path, default=ROOT / "bench-results" / "auth")
    p.add_argument("--timeout", type=float, default=1800, help="per server and round, seconds")
    p.add_argument(
        "bench_args", nargs="*", help="after --: passed to tracking_bench.py (sizes, threads)"
    )
    args = p.parse_args()
    if args.rounds < 1:
        p.error("--rounds must be at least 1")
    if not (args.bench_dir / "tracking_bench.py").exists():
        p.error(f"no tracking_bench.py in {args.bench_dir} (set --bench-dir)")
    targets = [t for t in TARGETS if args.only in (None, t.server)]
    if args.targets:
        wanted = [label.strip() for label in args.targets.split(",") if label.strip()]
        unknown = sorted(set(wanted) - {t.label for t in TARGETS})
        if unknown:
            p.error(f"unknown --targets {', '.join(unknown)}")
        targets = [t for t in targets if t.label in wanted]
    has_mlflow = (args.mlflow_venv / "bin" / "mlflow").exists()
    if any(t.server == "mlflow" for t in targets) and not has_mlflow:
        p.error(f"no mlflow in {args.mlflow_venv}: run `make compat-venvs` or --only cairn")
    args.out.mkdir(parents=True, exist_ok=True)
    runs: dict[str, list[dict[str, Any]]] = {t.label: [] for t in targets}
    complete = True
    for round_no in range(1, args.rounds + 1):
        order = targets if round_no % 2 else list(reversed(targets))
        for target in order:
            result = run_target(target, args, args.out, round_no)
            doc = json.loads(result.read_text()) if result.exists() else {}
            complete = complete and bool(doc.get("ok"))
            runs[target.label].append(doc)
    table = summarize(runs, targets)
    (args.out / "table.md").write_text(table)
    (args.out / "runs.json").write_text(json.dumps(runs, indent=1, default=str))
    print(table)
    return 0 if complete else 1


if __name__ == "__main__":
    sys.exit(main())
