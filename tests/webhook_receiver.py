"""A real webhook receiver on 127.0.0.1 for the tests: it answers from a script of replies
(status, headers, delay) and verifies every request's signature the way MLflow's webhook docs
tell receivers to (HMAC-SHA256 of ``{delivery_id}.{timestamp}.{raw body}`` with the shared
secret, base64, after ``v1,``; a timestamp older than five minutes is refused)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
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
    def __init__(self, secret: str | None = None, scheme: str = "http"):
        self.secret = secret
        self.scheme = scheme
        self.script: list[Reply] = []
        self.default = Reply()
        self.received: list[Received] = []
        self.lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"{self.scheme}://127.0.0.1:{self.server.server_address[1]}/hook"

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.server_address[1])

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
def receiving(
    secret: str | None = None, tls: tuple[Path, Path] | None = None
) -> Iterator[Receiver]:
    """A receiver on a free loopback port; ``tls``: (certificate chain, key) PEM files to
    serve https with."""
    receiver = Receiver(secret, "https" if tls else "http")
    server = ThreadingHTTPServer(("127.0.0.1", 0), receiver.handler())
    if tls is not None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(str(tls[0]), str(tls[1]))
        server.socket = context.wrap_socket(server.socket, server_side=True)
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


def make_tls(folder: Path, name: str) -> tuple[Path, Path, Path]:
    """A throwaway CA and a server certificate for DNS name ``name`` signed by it:
    (CA PEM, server certificate PEM, server key PEM)."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "cairn test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    paths = (folder / "ca.pem", folder / "server.pem", folder / "server.key")
    paths[0].write_bytes(ca.public_bytes(pem))
    paths[1].write_bytes(cert.public_bytes(pem))
    paths[2].write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return paths
