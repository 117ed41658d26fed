"""A real webhook receiver on 127.0.0.1 for the tests: it answers from a script of replies
(status, headers, delay) and verifies every request's signature the way MLflow's webhook docs
tell receivers to (HMAC-SHA256 of ``{delivery_id}.{timestamp}.{raw body}`` with the shared
secret, base64, after ``v1,``; a timestamp older than five minutes is refused)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson

MAX_AGE_S = 300


@dataclass(frozen=True)
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b"ok"
    delay_s: float = 0.0


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    signature_ok: bool | None
    """None: no secret configured or no signature header."""

    def json(self) -> Any:
        return orjson.loads(self.body)


def verify(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """What a receiver written for MLflow does with a delivery."""
    delivery_id = headers.get("x-mlflow-delivery-id", "")
    timestamp = headers.get("x-mlflow-timestamp", "")
    signature = headers.get("x-mlflow-signature", "")
    if not signature.startswith("v1,") or not timestamp.isdigit():
        return False
    if abs(time.time() - int(timestamp)) > MAX_AGE_S:
        return False
    signed = f"{delivery_id}.{timestamp}.{body.decode('utf-8')}".encode()
    expected = base64.b64encode(hmac.new(secret.encode(), signed, hashlib.sha256).digest())
    return hmac.compare_digest(expected.decode(), signature[3:])


class Receiver:
    def __init__(self, secret: str | None = None):
        self.secret = secret
        self.script: list[Reply] = []
        self.default = Reply()
        self.received: list[Received] = []
        self.lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def reply(self, *replies: Reply) -> None:
        with self.lock:
            self.script.extend(replies)

    def _next(self) -> Reply:
        with self.lock:
            return self.script.pop(0) if self.script else self.default

    def handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(min(length, 10_000_000))
                headers = {k.lower(): v for k, v in self.headers.items()}
                ok = None
                if receiver.secret and "x-mlflow-signature" in headers:
                    ok = verify(receiver.secret, headers, body)
                reply = receiver._next()
                with receiver.lock:
                    receiver.received.append(Received(self.path, headers, body, ok))
                if reply.delay_s:
                    time.sleep(reply.delay_s)
                try:
                    self.send_response(reply.status)
                    for key, value in reply.headers.items():
                        self.send_header(key, value)
                    self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    self.wfile.write(reply.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler


@contextmanager
def receiving(secret: str | None = None) -> Iterator[Receiver]:
    receiver = Receiver(secret)
    server = ThreadingHTTPServer(("127.0.0.1", 0), receiver.handler())
    server.daemon_threads = True
    receiver.server = server
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
