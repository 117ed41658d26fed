"""Large artifacts through the proxy: one streamed PUT of a > 600 MB file, then multipart.

Run with the stock mlflow client (2.22 or 3.x); MLFLOW_TRACKING_URI must point at a server
that proxies artifacts. Files are written in chunks to a temp folder and hashed while being
written; downloads are hashed streaming: no file is ever held in memory.

1. ``LARGE_ARTIFACT_MB`` (default 610) MiB + a few bytes, ``log_artifact`` as one PUT
   (``MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD=false``: the 3.x client would otherwise switch to
   multipart on its own, because the server's ``server-info`` says it supports it).
2. ``LARGE_MULTIPART_MB`` (default 120) MiB with ``MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD=true``,
   a 64 MiB minimum and 50 MiB chunks: mpu/create, 3 part PUTs to the URLs the server hands
   out, mpu/complete.
3. 3.x only: the same file with the switch unset, so the client decides from
   ``server-info.multipart_uploads_enabled`` (10 MiB default chunks: 13 parts).

The client's multipart calls are counted (wrapped, not changed) so each step proves which
path it took. The last line printed is ``MANIFEST {json}`` (storage path -> sha256).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import tempfile
import threading
import uuid
from pathlib import Path

import mlflow
import mlflow.artifacts
import mlflow.store.artifact.http_artifact_repo as http_repo
from mlflow import MlflowClient
from mlflow.store.artifact.http_artifact_repo import HttpArtifactRepository

MIB = 1024 * 1024
CHUNK = 4 * MIB
PROXY = "mlflow-artifacts:/"
MULTIPART_ENV = (
    "MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD",
    "MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE",
    "MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE",
)


class Calls:
    """What the client sent, recorded by thin wrappers around its own methods."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        self.puts: list[str] = []
        self.creates = 0
        self.completes = 0
        self.aborts = 0
        self.parts: list[int] = []
        self.part_urls: list[str] = []

    def summary(self) -> str:
        return (
            f"single PUTs={self.puts} creates={self.creates} parts={sorted(self.parts)} "
            f"completes={self.completes} aborts={self.aborts}"
        )


CALLS = Calls()


def instrument() -> None:
    original_request = http_repo.http_request

    def http_request(host_creds, endpoint, method, *args, **kwargs):  # type: ignore[no-untyped-def]
        if method == "PUT":
            with CALLS.lock:
                CALLS.puts.append(endpoint)
        return original_request(host_creds, endpoint, method, *args, **kwargs)

    http_repo.http_request = http_request

    def counting(name: str, attr: str) -> None:
        original = getattr(HttpArtifactRepository, name)

        def wrapper(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            with CALLS.lock:
                setattr(CALLS, attr, getattr(CALLS, attr) + 1)
            return original(self, *args, **kwargs)

        setattr(HttpArtifactRepository, name, wrapper)

    counting("create_multipart_upload", "creates")
    counting("complete_multipart_upload", "completes")
    counting("abort_multipart_upload", "aborts")
    original_part = HttpArtifactRepository._upload_part

    def upload_part(credential, local_file, size, start_byte):  # type: ignore[no-untyped-def]
        with CALLS.lock:
            CALLS.parts.append(credential.part_number)
            CALLS.part_urls.append(credential.url)
        return original_part(credential=credential, local_file=local_file, size=size,
                             start_byte=start_byte)  # fmt: skip

    HttpArtifactRepository._upload_part = staticmethod(upload_part)


def write_random_file(path: Path, size: int, seed: int) -> str:
    """Pseudo-random bytes written 4 MiB at a time; returns their sha256."""
    rng = random.Random(seed)
    digest = hashlib.sha256()
    with path.open("wb") as out:
        for offset in range(0, size, CHUNK):
            block = rng.randbytes(min(CHUNK, size - offset))
            digest.update(block)
            out.write(block)
    assert path.stat().st_size == size, (path, path.stat().st_size, size)
    return digest.hexdigest()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for _ in range(1 + path.stat().st_size // CHUNK):
            block = handle.read(CHUNK)
            if not block:
                break
            digest.update(block)
    return digest.hexdigest()


def set_multipart_env(**values: str) -> None:
    for name in MULTIPART_ENV:
        os.environ.pop(name, None)
    os.environ.update(values)


def upload_and_check(
    client: MlflowClient,
    run: mlflow.entities.Run,
    local: Path,
    sha: str,
    artifact_dir: str,
    work: Path,
) -> str:
    """log_artifact ``local`` under ``artifact_dir``, list it, download it, compare bytes.

    Lists and downloads go through the run's ``mlflow-artifacts:/`` URI, not ``runs:/``
    (which in 3.x also searches the run's logged models): only the artifact proxy is
    exercised here; artifacts_roundtrip covers ``runs:/``.
    """
    CALLS.reset()
    client.log_artifact(run.info.run_id, str(local), artifact_path=artifact_dir)
    folder = f"{run.info.artifact_uri}/{artifact_dir}"
    listed = [
        (f.path.rsplit("/", 1)[-1], f.is_dir, f.file_size)
        for f in mlflow.artifacts.list_artifacts(artifact_uri=folder)
    ]
    assert listed == [(local.name, False, local.stat().st_size)], listed
    dst = work / f"download-{uuid.uuid4().hex[:8]}"
    dst.mkdir()
    try:
        got = Path(
            mlflow.artifacts.download_artifacts(
                artifact_uri=f"{folder}/{local.name}", dst_path=str(dst)
            )
        )
        assert got.stat().st_size == local.stat().st_size, (got.stat().st_size, got)
        assert sha256_file(got) == sha, f"{folder}/{local.name}: downloaded bytes differ"
    finally:
        shutil.rmtree(dst, ignore_errors=True)
    return f"{artifact_dir}/{local.name}"


def supports_server_info_multipart() -> bool:
    from mlflow.store.artifact.mlflow_artifacts_repo import MlflowArtifactsRepository

    return hasattr(MlflowArtifactsRepository, "_fetch_server_capabilities")


def main() -> None:
    uri = os.environ["MLFLOW_TRACKING_URI"]
    assert uri.startswith("http://127.0.0.1:"), f"loopback http server expected, got {uri}"
    mlflow.set_tracking_uri(uri)
    large_mb = int(os.environ.get("LARGE_ARTIFACT_MB", "610"))
    multipart_mb = int(os.environ.get("LARGE_MULTIPART_MB", "120"))
    instrument()
    client = MlflowClient()
    exp_id = client.create_experiment(f"compat-large-{uuid.uuid4().hex[:12]}")
    run = client.create_run(exp_id, run_name="large-artifacts")
    prefix = f"{exp_id}/{run.info.run_id}/artifacts"
    assert run.info.artifact_uri == f"{PROXY}{prefix}", run.info.artifact_uri
    manifest: dict[str, str] = {}
    work = Path(tempfile.mkdtemp(prefix="artifacts-large-", dir=Path.cwd()))
    try:
        # 1. one streamed PUT
        big = work / "big.bin"
        big_sha = write_random_file(big, large_mb * MIB + 4321, seed=1)
        set_multipart_env(MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD="false")
        rel = upload_and_check(client, run, big, big_sha, "single", work)
        # endpoints are relative to the run's artifact URL
        assert CALLS.puts == ["/single/big.bin"], CALLS.summary()
        assert CALLS.creates == 0, CALLS.summary()
        manifest[f"{prefix}/{rel}"] = big_sha
        print(f"single PUT of {big.stat().st_size} bytes OK")
        big.unlink()

        # 2. multipart, switched on explicitly
        part_size = 50 * MIB
        mid = work / "multipart.bin"
        mid_size = multipart_mb * MIB + 789
        mid_sha = write_random_file(mid, mid_size, seed=2)
        parts = -(-mid_size // part_size)
        assert parts >= 2, f"LARGE_MULTIPART_MB={multipart_mb} gives a single part"
        set_multipart_env(
            MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD="true",
            MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE=str(64 * MIB),
            MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE=str(part_size),
        )
        rel = upload_and_check(client, run, mid, mid_sha, "multipart", work)
        summary = CALLS.summary()
        assert CALLS.creates == 1 and CALLS.completes == 1 and CALLS.aborts == 0, summary
        assert sorted(CALLS.parts) == list(range(1, parts + 1)), summary
        assert CALLS.puts == [], f"fell back to a single PUT: {summary}"
        server = uri.rstrip("/") + "/"
        assert all(u.startswith(server) for u in CALLS.part_urls), CALLS.part_urls
        manifest[f"{prefix}/{rel}"] = mid_sha
        print(f"explicit multipart upload OK ({parts} parts of {part_size} bytes)")

        # 3. multipart because server-info says so (3.x only)
        if supports_server_info_multipart():
            set_multipart_env(MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE=str(64 * MIB))
            rel = upload_and_check(client, run, mid, mid_sha, "auto", work)
            summary = CALLS.summary()
            default_parts = -(-mid_size // (10 * MIB))
            assert CALLS.creates == 1 and CALLS.completes == 1 and CALLS.aborts == 0, summary
            assert sorted(CALLS.parts) == list(range(1, default_parts + 1)), summary
            assert CALLS.puts == [], f"server-info did not enable multipart: {summary}"
            manifest[f"{prefix}/{rel}"] = mid_sha
            print(f"server-info multipart upload OK ({default_parts} parts)")
        else:
            print(
                f"skipped server-info multipart (mlflow {mlflow.__version__}): this client "
                "only uses multipart when MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD=true; it never "
                "reads server-info.multipart_uploads_enabled"
            )
        set_multipart_env()
        client.set_terminated(run.info.run_id)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"artifacts_large OK (mlflow {mlflow.__version__}, {large_mb} MiB)")
    print("MANIFEST " + json.dumps(manifest, sort_keys=True))


if __name__ == "__main__":
    main()
