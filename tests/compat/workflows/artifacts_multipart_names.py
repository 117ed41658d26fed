"""Multipart uploads of files whose names need escaping in a URL: ``a#b.bin``, ``a?b.bin``,
``a%2fb.bin``, ``a b+c.bin``.

Run with the stock mlflow 3.x client; MLFLOW_TRACKING_URI must point at a server that
proxies artifacts. Multipart is forced with a tiny minimum size and chunk, so each file goes
up as several parts to the URLs the server's ``mpu/create`` hands out; each comes back down
byte for byte. The last line printed is ``MANIFEST {json}`` (storage path -> sha256).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import urllib.request
from pathlib import Path
from urllib.parse import quote

os.environ["MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD"] = "true"
os.environ["MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE"] = "1"
os.environ["MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE"] = "1024"

import mlflow
import mlflow.store.artifact.http_artifact_repo as http_repo

PROXY = "mlflow-artifacts:/"
NAMES = ["a#b.bin", "a?b.bin", "a%2fb.bin", "a b+c.bin"]


def main() -> None:
    calls = {"creates": 0}
    original = http_repo.HttpArtifactRepository.create_multipart_upload

    def counted(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        calls["creates"] += 1
        return original(self, *args, **kwargs)

    http_repo.HttpArtifactRepository.create_multipart_upload = counted  # type: ignore[method-assign]
    manifest: dict[str, str] = {}
    mlflow.set_experiment("multipart-names")
    with tempfile.TemporaryDirectory() as tmp, mlflow.start_run() as run:
        tracking = mlflow.get_tracking_uri().rstrip("/")
        base = run.info.artifact_uri
        assert base.startswith(PROXY), base
        for i, name in enumerate(NAMES):
            data = bytes((i * 7 + j) % 251 for j in range(3000 + i))
            path = Path(tmp) / name
            path.write_bytes(data)
            mlflow.log_artifact(str(path), "parts")
            stored = f"{base[len(PROXY) :]}/parts/{name}"
            # read back through the proxy (a runs:/ URI would take "#" for a fragment)
            url = f"{tracking}/api/2.0/mlflow-artifacts/artifacts/{quote(stored)}"
            with urllib.request.urlopen(url, timeout=30) as response:
                assert response.read() == data, name
            manifest[stored] = hashlib.sha256(data).hexdigest()
    assert calls["creates"] == len(NAMES), calls
    print("MANIFEST " + json.dumps(manifest))


if __name__ == "__main__":
    main()
