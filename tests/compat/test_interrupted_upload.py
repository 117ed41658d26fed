"""An upload cut off half-way leaves nothing under its final name, and no debris."""

from __future__ import annotations

import socket
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.compat.server import start_server


@pytest.mark.compat
def test_interrupted_upload_leaves_nothing(tmp_path: Path) -> None:
    art = tmp_path / "art"
    server_gen = start_server(
        "sqlite",
        f"sqlite:///{tmp_path / 'c.db'}",
        tmp_path / "srv",
        extra_args=("--artifacts-destination", str(art)),
    )
    server = next(server_gen)
    try:
        url = urlsplit(server.url)
        path = "/api/2.0/mlflow-artifacts/artifacts/1/run/artifacts/big.bin"
        with socket.create_connection((url.hostname, url.port), timeout=10) as sock:
            sock.sendall(
                f"PUT {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n"
                f"Content-Length: {50 * 1024 * 1024}\r\n\r\n".encode()
            )
            for _ in range(4):  # 4 MiB of the promised 50, then the client vanishes
                sock.sendall(b"\0" * (1024 * 1024))
        for _ in range(100):  # the server notices the disconnect and cleans up
            leftovers = [p for p in art.rglob("*") if p.is_file()]
            if not leftovers:
                break
            time.sleep(0.1)
        assert leftovers == []
        resp = httpx.get(server.url + path, timeout=10)
        assert resp.status_code == 404
        assert resp.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
        # the server is still fine: a complete upload of the same name works
        ok = httpx.put(server.url + path, content=b"x" * 1000, timeout=10)
        assert ok.status_code == 200
        assert httpx.get(server.url + path, timeout=10).content == b"x" * 1000
    finally:
        server_gen.close()
