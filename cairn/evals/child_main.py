"""The child process's side of :mod:`cairn.evals.child` (``python -m cairn.evals.child_main``):
lower its priority, then run the benchmarks its worker sends, one JSON line each on stdin, and
answer on its original stdout with log lines, progress, resource calls and the result.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import IO, Any

from cairn.entities.errors import CairnError, ErrorCode
from cairn.evals import provider as providers
from cairn.evals.builtin import load_plugins
from cairn.evals.child import lower_priority
from cairn.evals.provider import BenchmarkContext, Cancelled, ModelSpec


class _Channel:
    """The child's end: messages to the worker on ``out``, answers read from ``answers``."""

    def __init__(self, out: IO[str], answers: IO[str]):
        self.out, self.answers = out, answers

    def send(self, message: Mapping[str, Any]) -> None:
        self.out.write(json.dumps(message, default=str) + "\n")
        self.out.flush()

    def log(self, line: str) -> None:
        self.send({"log": str(line)})

    def progress(self, phase: str, fraction: float | None) -> None:
        self.send({"progress": [str(phase), fraction]})

    def call(self, name: str, args: Mapping[str, Any]) -> Path:
        self.send({"call": name, "args": dict(args)})
        line = self.answers.readline()
        if not line:
            raise SystemExit(0)  # the worker went away
        answer = json.loads(line)
        error = answer.get("error")
        if error:
            if error.get("code"):
                raise CairnError(str(error["message"]), ErrorCode(error["code"]))
            raise OSError(str(error["message"]))
        return Path(answer["path"])


class _RemoteResources:
    """:class:`~cairn.evals.provider.Resources` answered by the worker."""

    def __init__(self, channel: _Channel):
        self.channel = channel

    def model_dir(self, model: ModelSpec, into: Path) -> Path:
        return self.channel.call("model_dir", {"model": asdict(model), "into": str(into)})

    def dataset_file(self, ref: str, into: Path) -> Path:
        return self.channel.call("dataset_file", {"ref": ref, "into": str(into)})


def _run_one(request: Mapping[str, Any], channel: _Channel) -> dict[str, Any]:
    module = str(request.get("module") or "")
    if module and module != "__main__":
        importlib.import_module(module)
    provider = providers.PROVIDERS.get(str(request["provider"]))
    if provider is None:
        return {"error": {"code": None, "message": f"provider {request['provider']!r} is not "
                          f"installed in the evaluation process (module {module!r})"}}  # fmt: skip
    ctx = BenchmarkContext(
        job_id=str(request["job_id"]),
        index=int(request["index"]),
        benchmark_id=str(request["benchmark_id"]),
        config=dict(request.get("config") or {}),
        model=ModelSpec(**request["model"]),
        workdir=Path(request["workdir"]),
        resources=_RemoteResources(channel),
        log=channel.log,
        progress=channel.progress,
    )
    try:
        result = provider.run(ctx)
    except Cancelled:
        return {"cancelled": True}
    except CairnError as exc:
        return {"error": {"code": exc.error_code.value, "message": exc.message}}
    except Exception as exc:  # the provider's failure fails its benchmark
        return {"error": {"code": None, "message": f"{type(exc).__name__}: {exc}"}}
    return {
        "result": {
            "metrics": {k: float(v) for k, v in result.metrics.items()},
            "params": {k: str(v) for k, v in result.params.items()},
            "tags": {k: str(v) for k, v in result.tags.items()},
            "artifacts": {k: str(v) for k, v in result.artifacts.items()},
            "primary_metric": result.primary_metric,
            "details": result.details,
        }
    }


def _watch_parent(parent: int) -> None:
    """End this process when its worker is gone (killed mid-benchmark: nobody would record
    the result, and the engine runs the benchmark again elsewhere)."""
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(3)


def main() -> None:
    """The child: lower its priority, then run the benchmarks the worker sends, one per line
    on stdin, until stdin closes. Messages go out on the original stdout; anything else
    written to stdout (a library's print) goes to stderr with the rest of its output."""
    lower_priority()
    threading.Thread(target=_watch_parent, args=(os.getppid(),), daemon=True).start()
    out = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    channel = _Channel(out, sys.stdin)
    load_plugins()
    while True:
        line = sys.stdin.readline()
        if not line:
            return
        request = json.loads(line)
        if request.get("op") != "run":
            continue
        channel.send(_run_one(request, channel))


if __name__ == "__main__":
    main()
