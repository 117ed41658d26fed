#!/usr/bin/env python3
"""``shared/bench/tracking_bench.py`` with an ``Authorization`` header on every request.

The shared harness has no authentication options and is not ours to edit, so this wrapper
loads it from ``--bench-dir`` (default ``../shared/bench``), makes each per-thread session it
opens carry the header from the ``BENCH_AUTHORIZATION`` environment variable (for example
``Bearer <token>`` or ``Basic <base64 user:password>``), and hands every other argument to
its ``main``. Without the variable it behaves exactly like the harness.

    BENCH_AUTHORIZATION="Bearer $TOKEN" python benchmarks/authed_tracking_bench.py \\
        --bench-dir ../shared/bench --url http://127.0.0.1:5000 --scenario log_batch
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_BENCH = ROOT.parent / "shared" / "bench"
HEADER_ENV = "BENCH_AUTHORIZATION"


def load_harness(bench_dir: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("tracking_bench", bench_dir / "tracking_bench.py")
    if spec is None or spec.loader is None:
        raise SystemExit(f"no tracking_bench.py in {bench_dir}")
    module = importlib.util.module_from_spec(spec)
    sys.modules["tracking_bench"] = module
    spec.loader.exec_module(module)
    return module


def add_authorization(module: ModuleType, value: str) -> None:
    """Wrap ``Client.s`` so every session it creates sends ``Authorization: value``."""
    original = module.Client.s

    def session(self: Any) -> Any:
        sess = original.fget(self)
        sess.headers["Authorization"] = value
        return sess

    module.Client.s = property(session)


def main(argv: list[str]) -> int:
    bench_dir = DEFAULT_BENCH
    if "--bench-dir" in argv:
        at = argv.index("--bench-dir")
        bench_dir = Path(argv[at + 1])
        argv = argv[:at] + argv[at + 2 :]
    module = load_harness(bench_dir)
    header = os.environ.get(HEADER_ENV)
    if header:
        add_authorization(module, header)
    return int(module.main(argv))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
