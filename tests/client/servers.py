"""Servers the delivery tests stop and restart on a fixed port, and a real HTTP proxy that
answers 503 to the first log-batch requests before forwarding them."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.compat.server import _free_port, _healthy, _server_env, _stop

STARTUP_TIMEOUT_S = 60.0


def free_port() -> int:
    return _free_port()


@contextmanager
def server_on(port: int, workdir: Path, defaults: bool = False) -> Iterator[str]:
    """``cairn server`` on ``port`` with the SQLite store in ``workdir`` (kept across
    restarts); yields its URL and stops it (by PID) on exit. ``defaults``: no store options
    and no CAIRN_HOME, so the server uses its default ./cairn-data under ``workdir``."""
    workdir.mkdir(parents=True, exist_ok=True)
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "cairn", "server", "--host", "127.0.0.1", "--port", str(port)]
    env = _server_env(workdir / "home")
    if defaults:
        del env["CAIRN_HOME"]
    else:
        command += ["--backend-store-uri", f"sqlite:///{workdir / 'cairn.db'}"]
        command += ["--artifacts-destination", str(workdir / "artifacts")]
    log_path = workdir / f"server-{time.monotonic_ns()}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, cwd=workdir, env=env, stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not _healthy(url):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"cairn server on {port} did not start:\n{log_path.read_text()}")
            time.sleep(0.1)
        yield url
    finally:
        _stop(process)


class FlakyProxy:
    """Forwards every request to ``upstream``, except that the first ``failures`` log-batch
    requests get 503 Service Unavailable."""

    def __init__(self, upstream: str, failures: int) -> None:
        self.upstream = upstream
        self.failures_left = failures
        self.log_batch_calls = 0
        self.rejected = 0
        self.authorization: list[str | None] = []
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                with proxy.lock:
                    proxy.authorization.append(self.headers.get("Authorization"))
                if self.path.endswith("/runs/log-batch"):
                    with proxy.lock:
                        proxy.log_batch_calls += 1
                        fail = proxy.failures_left > 0
                        proxy.failures_left -= 1 if fail else 0
                        proxy.rejected += 1 if fail else 0
                    if fail:
                        payload = b'{"error_code": "TEMPORARILY_UNAVAILABLE", "message": "busy"}'
                        self.send_response(503)
                        self.send_header("Content-Type", "application/json")
                        self.send_header("Content-Length", str(len(payload)))
                        self.end_headers()
                        self.wfile.write(payload)
                        return
                request = urllib.request.Request(
                    proxy.upstream + self.path, data=body, method=self.command
                )
                for key in ("Content-Type", "Authorization"):
                    if self.headers.get(key):
                        request.add_header(key, self.headers[key])
                try:
                    with urllib.request.urlopen(request, timeout=30) as response:
                        status, data = response.status, response.read()
                        kind = response.headers.get("Content-Type", "application/json")
                except urllib.error.HTTPError as exc:
                    status, data = exc.code, exc.read()
                    kind = exc.headers.get("Content-Type", "application/json")
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _forward

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FlakyProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)
