#!/usr/bin/env python3
"""Peak server memory while a large artifact goes up and comes back down.

Starts ``cairn server`` on a fresh store with a local artifact folder, or with S3-compatible
storage (moto's S3 server on loopback, started here), runs the shared benchmark's
``artifacts`` scenario with a file of ``--mb`` MB, and reports the server's peak resident
memory (VmHWM from /proc) next to the throughput.

    python benchmarks/artifact_memory.py --mb 2000 --backend local
    python benchmarks/artifact_memory.py --mb 2000 --backend s3
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.run import DEFAULT_BENCH, start_cairn, stop  # noqa: E402


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--mb", type=int, default=2000, help="artifact size in MB (10^6 bytes)")
    p.add_argument("--backend", choices=["local", "s3"], default="local")
    p.add_argument("--bench-dir", type=Path, default=DEFAULT_BENCH)
    args = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix="cairn-artmem-"))
    env = {**os.environ}
    destination = str(work / "artifacts")
    s3 = None
    try:
        if args.backend == "s3":
            from tests.s3server import s3_server

            s3 = s3_server()
            server = s3.__enter__()
            server.create_bucket("bench")
            env.update(server.env())
            destination = "s3://bench/artifacts"
        proc, base = start_cairn(work, destination, env)
        try:
            start_mb = peak_rss_mb(proc.pid)
            out = work / "result.json"
            subprocess.run(
                [
                    sys.executable,
                    str(args.bench_dir / "tracking_bench.py"),
                    "--url",
                    base,
                    "--label",
                    f"cairn-{args.backend}",
                    "--scenario",
                    "artifacts",
                    "--artifact-mb",
                    str(args.mb),
                    "--artifact-reps",
                    "1",
                    "--tmpdir",
                    str(work),
                    "--quiet",
                    "--json-out",
                    str(out),
                    "--server-pid",
                    str(proc.pid),
                ],
                check=True,
                timeout=3600,
            )
            peak = peak_rss_mb(proc.pid)
        finally:
            stop(proc)
        doc = json.loads(out.read_text())["scenarios"]["artifacts"]
        headline = {name: round(value, 1) for name, value, _unit in doc["headline"]}
        print(
            json.dumps(
                {
                    "backend": args.backend,
                    "artifact_mb": args.mb,
                    "status": doc["status"],
                    "server_rss_at_start_mb": round(start_mb, 1),
                    "server_peak_rss_mb": round(peak, 1),
                    **headline,
                },
                indent=2,
            )
        )
        return 0 if doc["status"] == "ok" else 1
    finally:
        if s3 is not None:
            s3.__exit__(None, None, None)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
