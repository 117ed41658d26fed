"""A test-only evaluation provider that runs in Cairn in milliseconds: ``quick_test``.

Imported by the API tests (registered for the module, unregistered after) and by live
servers through ``CAIRN_EVAL_PROVIDER_MODULES=tests.eval_quick``. Config of benchmark
``echo``: ``score`` (0..1, the metrics it reports), ``sleep`` (seconds, polling the cancel
flag), ``fail`` (raise), ``marker`` (a file path: appended to once per attempt, so a test can
count how often the benchmark ran), ``pid_file`` (a file path: the process that runs the
benchmark writes its PID there), ``crash`` (the process kills itself with SIGKILL after a
line on stderr).
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson

from cairn.entities.errors import CairnError
from cairn.evals import provider as pv
from cairn.evals.provider import (
    BenchmarkContext,
    BenchmarkInfo,
    BenchmarkResult,
    Cancelled,
    Collection,
    ModelSpec,
    ParamSpec,
)

ID = "quick_test"
MAX_SLEEP = 60.0


class QuickProvider:
    id = ID
    name = "Quick (tests)"
    description = "Reports the score it is given; for tests"
    runs_in_cairn = True

    def benchmarks(self) -> Sequence[BenchmarkInfo]:
        return (
            BenchmarkInfo(
                "echo",
                "Echo",
                "Reports config.score",
                "test",
                ("score", "acc", "acc_stderr", "exact_match_strict-match"),
                "score",
                parameters={
                    "score": ParamSpec("float", "The score to report", 0.5),
                    "sleep": ParamSpec("float", "Seconds to take", 0),
                    "fail": ParamSpec("bool", "Fail on purpose", False),
                },
            ),
            BenchmarkInfo("error_rate", "Error rate", "", "test", ("error",), "error", True),
        )

    def collections(self) -> Sequence[Collection]:
        return (
            Collection(
                "quick-suite",
                "Quick suite",
                "Two echoes",
                (
                    {"benchmark_id": "echo", "provider_id": ID, "config": {"score": 0.25}},
                    {"benchmark_id": "echo", "provider_id": ID, "config": {"score": 0.75}},
                ),
            ),
        )

    def validate(self, benchmark_id: str, config: Mapping[str, Any], model: ModelSpec) -> None:
        if benchmark_id not in ("echo", "error_rate"):
            raise CairnError.invalid(f"benchmark_id: {benchmark_id!r} is not offered")
        score = config.get("score", 0.5)
        if isinstance(score, bool) or not isinstance(score, int | float):
            raise CairnError.invalid("config.score: expected a number")
        sleep = config.get("sleep", 0)
        if isinstance(sleep, bool) or not isinstance(sleep, int | float) or sleep > MAX_SLEEP:
            raise CairnError.invalid(f"config.sleep: a number of seconds up to {MAX_SLEEP}")

    def run(self, ctx: BenchmarkContext) -> BenchmarkResult:
        marker = ctx.config.get("marker")
        if isinstance(marker, str):
            with open(marker, "a", encoding="utf-8") as handle:
                handle.write(f"{ctx.job_id}:{ctx.index}\n")
        pid_file = ctx.config.get("pid_file")
        if isinstance(pid_file, str):
            Path(pid_file).write_text(str(os.getpid()), encoding="utf-8")
        if ctx.config.get("crash"):
            print("quick_test: about to crash", file=sys.stderr, flush=True)
            os.kill(os.getpid(), signal.SIGKILL)
        ctx.log(f"evaluating {ctx.model.name} on {ctx.benchmark_id}")
        ctx.progress("loading", 0.0)
        deadline = time.monotonic() + min(float(ctx.config.get("sleep", 0)), MAX_SLEEP)
        while time.monotonic() < deadline:
            if ctx.cancelled():
                raise Cancelled()
            ctx.progress("running", None)
            time.sleep(0.05)
        if ctx.config.get("fail"):
            raise RuntimeError("asked to fail")
        score = float(ctx.config.get("score", 0.5))
        metrics = {"acc,none": score, "acc_stderr,none": 0.01, "exact_match,strict-match": score}
        if ctx.benchmark_id == "error_rate":
            metrics = {"error": score}
        else:
            metrics["score"] = score
        results = ctx.workdir / "results.json"
        results.write_bytes(orjson.dumps({"results": {ctx.benchmark_id: metrics}}))
        samples = ctx.workdir / "samples.jsonl"
        samples.write_text('{"doc": 1, "ok": true}\n', encoding="utf-8")
        ctx.progress("scoring", 1.0)
        ctx.log("done")
        return BenchmarkResult(
            metrics=metrics,
            params={"quick.version": "1"},
            tags={"quick.tag": "yes"},
            artifacts={"results.json": results, "samples.jsonl": samples},
        )

    def report(self, path: Path) -> BenchmarkResult:
        raise CairnError.invalid("result_file: the quick provider reads no files")


PROVIDER = QuickProvider()
if ID not in pv.PROVIDERS:
    pv.register(PROVIDER)


def unregister() -> None:
    if pv.PROVIDERS.get(ID) is PROVIDER:
        del pv.PROVIDERS[ID]


def register() -> None:
    pv.PROVIDERS.setdefault(ID, PROVIDER)
