"""Several ``cairn server`` processes on one database and one artifact store, behind nginx.

nginx is Debian's (``make balancer`` installs it), run as a process of the test's own: its own
configuration, prefix, pid and log files in a temporary folder, ``daemon off``, listening on
free loopback ports, stopped by its PID. With ``workers``, the servers only enqueue
(``--no-worker``) and that many ``cairn worker`` processes run the jobs. The configuration is
the repository's ``deploy/nginx.conf`` (the reference deployment of docs/deploy.md) with only
the lines marked ``@test`` replaced, so what runs here is what is documented. TLS ends at
nginx, as there, with a self-signed certificate made for the run.
"""

from __future__ import annotations

import os
import re
import secrets
import signal
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.compat.server import (
    REPO,
    CairnServer,
    CairnWorker,
    _free_port,
    start_server,
    start_worker,
)
from tests.databases import fresh_database

NGINX = Path("/usr/sbin/nginx")
NGINX_CONF = REPO / "deploy" / "nginx.conf"
UPSTREAM_HEADER = "x-cairn-upstream"
"""The response header deploy/nginx.conf adds: the address of the server that answered."""
NGINX_START_S = 20.0
CLUSTER_BACKENDS = [
    pytest.param("postgres", marks=pytest.mark.postgres),
    pytest.param("mysql", marks=pytest.mark.mysql),
]
"""The databases several servers share in the tests (SQLite is one machine's:
tests/compat/test_workers.py runs several server processes on one file)."""


@dataclass
class Cluster:
    """N live servers on one store behind nginx: ``url`` is the balancer's (HTTPS)."""

    url: str
    servers: list[CairnServer]
    store_uri: str
    artifact_root: Path
    ca_file: Path
    nginx_dir: Path
    secret_key: str
    client_env: dict[str, str] = field(default_factory=dict)
    workers: list[CairnWorker] = field(default_factory=list)
    """The ``cairn worker`` processes (the servers then run with ``--no-worker``)."""

    def client(self, **kwargs: object) -> httpx.Client:
        """An httpx client for the balancer that trusts its certificate (no keep-alive, so
        that nginx's round-robin is the only thing that picks a server)."""
        limits = httpx.Limits(max_keepalive_connections=0)
        trust = ssl.create_default_context(cafile=str(self.ca_file))
        return httpx.Client(base_url=self.url, verify=trust, limits=limits, timeout=60, **kwargs)  # type: ignore[arg-type]

    def upstream_of(self, server: CairnServer) -> str:
        return server.url.removeprefix("http://")

    def access_log(self) -> list[str]:
        """nginx's access lines so far (deploy/nginx.conf's ``cairn`` format: the request,
        its status, ``upstream=<address>/<status>`` and ``rid=<request id>``)."""
        path = self.nginx_dir / "access.log"
        return path.read_text().splitlines() if path.exists() else []


def require_nginx() -> Path:
    if not NGINX.exists():
        pytest.fail(
            f"nginx is not installed at {NGINX}: the scale-out tests need Debian's nginx "
            "(`make balancer`, or `sudo apt-get install -y nginx`)",
            pytrace=False,
        )
    return NGINX


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate and key for 127.0.0.1, valid for a day."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
            "-addext", "subjectAltName=IP:127.0.0.1",
        ],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return cert, key


def render_nginx_conf(
    template: str,
    upstreams: list[str],
    http_port: int,
    https_port: int,
    cert: Path,
    key: Path,
    prefix: Path,
) -> str:
    """deploy/nginx.conf with every ``@test`` line replaced by this run's value. Each marker
    must be found (a file that changed shape fails here, not silently untested)."""
    replacements: dict[str, list[str] | str] = {
        "pid": f"pid {prefix / 'nginx.pid'};",
        "error_log": f"error_log {prefix / 'error.log'} warn;",
        "access_log": f"access_log {prefix / 'access.log'} cairn;",
        "upstreams": [f"server {u} max_fails=1 fail_timeout=5s;" for u in upstreams],
        "listen_http": f"listen 127.0.0.1:{http_port};",
        "listen_https": f"listen 127.0.0.1:{https_port} ssl http2;",
        "certificate": f"ssl_certificate {cert};",
        "certificate_key": f"ssl_certificate_key {key};",
    }
    seen: set[str] = set()
    lines: list[str] = []
    marker = re.compile(r"^(\s*).*#\s*@test\s+(\w+)\s*$")
    for line in template.splitlines():
        found = marker.match(line)
        if not found:
            lines.append(line)
            continue
        indent, name = found.groups()
        assert name in replacements, f"unknown @test marker {name!r} in {NGINX_CONF}"
        if name in seen:
            continue  # the upstream list: written once, for all of its lines
        seen.add(name)
        value = replacements[name]
        for text in [value] if isinstance(value, str) else value:
            lines.append(indent + text)
    missing = set(replacements) - seen
    assert not missing, f"{NGINX_CONF} lost its @test lines for {sorted(missing)}"
    # temporary files of a non-root nginx: under its own prefix, not /var/lib/nginx
    temp = "\n".join(
        f"    {kind}_temp_path {prefix / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    text = "\n".join(lines) + "\n"
    return text.replace("http {\n", "http {\n" + temp + "\n", 1)


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def start_nginx(workdir: Path, upstreams: list[str]) -> Iterator[tuple[str, Path, Path]]:
    """nginx with deploy/nginx.conf over ``upstreams`` (host:port); yields (https URL, CA
    file, its prefix folder: nginx.conf, access.log, error.log) once it listens; stopped by
    its PID when the generator is closed."""
    nginx = require_nginx()
    prefix = workdir / "nginx"
    prefix.mkdir(parents=True, exist_ok=True)
    cert, key = self_signed(prefix)
    http_port, https_port = _free_port(), _free_port()
    conf = prefix / "nginx.conf"
    conf.write_text(
        render_nginx_conf(
            NGINX_CONF.read_text(), upstreams, http_port, https_port, cert, key, prefix
        )
    )
    test = subprocess.run(
        [str(nginx), "-t", "-c", str(conf), "-p", str(prefix)],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    if test.returncode != 0:
        pytest.fail(f"nginx refused {conf}:\n{test.stderr}", pytrace=False)
    log = prefix / "stdout.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(nginx), "-c", str(conf), "-p", str(prefix), "-g", "daemon off;"],
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + NGINX_START_S
        while not _answers(https_port):
            if process.poll() is not None or time.monotonic() > deadline:
                error_log = prefix / "error.log"
                errors = error_log.read_text() if error_log.exists() else ""
                pytest.fail(
                    f"nginx did not listen on 127.0.0.1:{https_port} (exit {process.poll()}):\n"
                    f"{log.read_text()}\n{errors}",
                    pytrace=False,
                )
            time.sleep(0.1)
        yield f"https://127.0.0.1:{https_port}", cert, prefix
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGQUIT)  # graceful: finish what is in flight
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        # its worker processes are in its session; none may outlive it
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def start_cluster(
    workdir: Path,
    n: int = 3,
    backend: str = "postgres",
    extra_env: Mapping[str, str] | None = None,
    workers: int = 0,
    worker_threads: int = 2,
) -> Iterator[Cluster]:
    """``n`` servers started at once on one fresh database and one artifact folder, sharing
    ``CAIRN_SECRET_KEY``, behind nginx; everything stopped and the database dropped after.

    ``workers``: that many ``cairn worker`` processes (``worker_threads`` jobs at once each)
    on the same store, queue, artifacts and settings, and the servers only enqueue
    (``--no-worker``), as docs/deploy.md's reference deployment has it."""
    secret_key = secrets.token_urlsafe(32)
    artifact_root = workdir / "artifacts"
    artifact_root.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        uri = stack.enter_context(fresh_database(backend, workdir))
        env = {"CAIRN_SECRET_KEY": secret_key, **(extra_env or {})}
        artifacts = ("--artifacts-destination", str(artifact_root))
        gens = [
            start_server(
                backend,
                uri,
                workdir / f"server{i}",
                extra_args=(*artifacts, *(("--no-worker",) if workers else ())),
                extra_env=env,
            )
            for i in range(n)
        ]
        for gen in gens:
            stack.callback(gen.close)
        # all at once: N servers meeting an empty database must agree on who migrates it
        with ThreadPoolExecutor(n) as pool:
            servers = list(pool.map(next, gens))
        # then the workers, which expect the schema in place (as `cairn worker` does)
        worker_gens = [
            start_worker(
                uri,
                workdir / f"worker{i}",
                extra_args=(*artifacts, "--threads", str(worker_threads)),
                extra_env=env,
            )
            for i in range(workers)
        ]
        for worker_gen in worker_gens:
            stack.callback(worker_gen.close)
        started_workers = []
        if worker_gens:
            with ThreadPoolExecutor(len(worker_gens)) as pool:
                started_workers = list(pool.map(next, worker_gens))
        balancer = start_nginx(workdir, [s.url.removeprefix("http://") for s in servers])
        stack.callback(balancer.close)
        url, ca_file, nginx_dir = next(balancer)
        yield Cluster(
            url=url,
            servers=servers,
            store_uri=uri,
            artifact_root=artifact_root,
            ca_file=ca_file,
            nginx_dir=nginx_dir,
            secret_key=secret_key,
            workers=started_workers,
            # the tracking calls honour MLflow's variable; the multipart part uploads (plain
            # requests to the URLs mpu/create hands out) honour requests' own; urllib OpenSSL's
            client_env={
                "MLFLOW_TRACKING_SERVER_CERT_PATH": str(ca_file),
                "REQUESTS_CA_BUNDLE": str(ca_file),
                "SSL_CERT_FILE": str(ca_file),
            },
        )
