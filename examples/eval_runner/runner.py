"""An external evaluation runner for Cairn: runs a job's ``external`` benchmarks outside Cairn
and reports through the job's events endpoint, over HTTP only.

    python examples/eval_runner/runner.py --server http://cairn:5000 --job ev-… --token …

It reads the job (``GET /api/v1/evaluations/jobs/{id}`` with the job's runner token), runs each
benchmark whose provider is ``external`` (``--providers`` for more) and is still pending or
running, and posts progress, log lines, metrics, params and files to
``POST /api/v1/evaluations/jobs/{id}/events``. Two kinds of benchmark, chosen by the
benchmark's ``config.runner``:

- ``jsonl_score`` (the default when ``config.dataset_path`` is set): scores a JSONL file of
  ``{"prediction": …, "reference": …}`` rows (field names: ``prediction_field``,
  ``reference_field``) with exact match and token F1, and uploads ``results.json`` as the
  ``result_file`` Cairn reads, and the per-row scores as ``scores.jsonl``.
- ``lm_eval`` (the default otherwise): runs ``python -m lm_eval`` (lm-evaluation-harness)
  on ``config.task`` (default: the benchmark id) against the job's model URL
  (``local-completions``) or lm-eval's ``dummy`` model (``config.model: dummy``), then posts
  its metrics (``acc,none`` as ``acc``) and its results file as the ``results.json`` artifact.

Relative paths in a config (``dataset_path``, ``task_yaml``) are read under ``--data-dir``.
The runner stops (and stops lm-eval) when the job is cancelled. Exit code: 0 when every
benchmark it ran completed, 1 when one failed, 2 when the job could not be read.
Needs only Python 3.11+ and httpx (and lm-eval for ``lm_eval`` benchmarks).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import selectors
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx

ATTEMPTS = 5
"""Tries of one request when the server is unreachable or answers 429/5xx."""
MAX_EVENT_FILE_BYTES = 8 * 1024 * 1024
"""Files per event, under the server's 10 MB limit; bigger sets go in several events."""
MAX_LINES_PER_EVENT = 500
FLUSH_EVERY_S = 2.0
TERMINAL = {"completed", "failed", "cancelled", "partially_failed"}
RUNNABLE = {"pending", "running"}


class RunnerError(Exception):
    """The server refused a request (4xx), or could not be reached after retries."""

    def __init__(self, message: str, error_code: str | None = None) -> None:
        super().__init__(message)
        self.error_code = error_code


class JobCancelled(Exception):
    """The job (or this benchmark) was cancelled while the runner worked on it."""


def _error_code(answer: httpx.Response) -> str | None:
    try:
        body = answer.json()
    except ValueError:
        return None
    return str(body.get("error_code")) if isinstance(body, dict) else None


class Server:
    """The two endpoints a runner uses, with the runner token, retrying transient failures."""

    def __init__(self, url: str, job_id: str, token: str, timeout_s: float = 60.0) -> None:
        self.job_id = job_id
        self.http = httpx.Client(
            base_url=url.rstrip("/"),
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout_s,
        )

    def close(self) -> None:
        self.http.close()

    def _request(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        delay = 1.0
        for attempt in range(1, ATTEMPTS + 1):
            try:
                answer = self.http.request(method, path, json=body)
            except httpx.TransportError as exc:
                if attempt == ATTEMPTS:
                    raise RunnerError(f"{method} {path}: {exc}") from exc
            else:
                if answer.status_code < 400:
                    found = answer.json()
                    return found if isinstance(found, dict) else {}
                if answer.status_code != 429 and answer.status_code < 500:
                    raise RunnerError(
                        f"{method} {path}: {answer.status_code} {answer.text[:500]}",
                        _error_code(answer),
                    )
                if attempt == ATTEMPTS:
                    raise RunnerError(f"{method} {path}: {answer.status_code} {answer.text[:500]}")
            time.sleep(delay)
            delay = min(delay * 2, 16.0)
        raise AssertionError("unreachable")

    def job(self) -> dict[str, Any]:
        return self._request("GET", f"/api/v1/evaluations/jobs/{self.job_id}")

    def event(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return self._request("POST", f"/api/v1/evaluations/jobs/{self.job_id}/events", dict(body))


class Reporter:
    """Reports on one benchmark: buffers log lines and sends them with phase and progress at
    most every couple of seconds; notices a cancelled job in every answer."""

    def __init__(self, server: Server, index: int) -> None:
        self.server = server
        self.index = index
        self.lines: list[str] = []
        self.sent_at = 0.0
        self.cancelled = False

    def send(self, **fields: Any) -> dict[str, Any]:
        body: dict[str, Any] = {"benchmark_index": self.index}
        body.update({k: v for k, v in fields.items() if v is not None})
        if self.lines:
            body["logs"] = self.lines[:MAX_LINES_PER_EVENT]
            del self.lines[:MAX_LINES_PER_EVENT]
        try:
            job = self.server.event(body)
        except RunnerError as exc:
            # a finished job takes no more events: cancelled while this runner worked?
            if exc.error_code != "INVALID_STATE":
                raise
            job = self.server.job()
            self._check(job)
            if self.cancelled:
                raise JobCancelled(f"benchmark {self.index} was cancelled") from None
            raise
        self.sent_at = time.monotonic()
        self._check(job)
        return job

    def _check(self, job: Mapping[str, Any]) -> None:
        benchmarks: list[dict[str, Any]] = job.get("benchmarks") or []
        mine = next((b for b in benchmarks if b.get("index") == self.index), {})
        if job.get("state") == "cancelled" or mine.get("state") == "cancelled":
            self.cancelled = True

    def log(self, line: str) -> None:
        print(f"[{self.index}] {line}", flush=True)
        self.lines.append(line[:2000])

    def tick(self, phase: str | None = None, progress: float | None = None) -> None:
        """Send buffered lines (and the phase) when enough time passed or lines piled up."""
        due = time.monotonic() - self.sent_at >= FLUSH_EVERY_S
        if due or len(self.lines) >= MAX_LINES_PER_EVENT:
            self.send(phase=phase, progress=progress)
        if self.cancelled:
            raise JobCancelled(f"benchmark {self.index} was cancelled")

    def files(self, files: Mapping[str, Path]) -> Iterator[dict[str, str]]:
        """``files`` as base64 ``{path: content}`` groups that each fit in one event."""
        group: dict[str, str] = {}
        size = 0
        for name, path in files.items():
            data = path.read_bytes()
            if len(data) > MAX_EVENT_FILE_BYTES:
                self.log(f"{name}: {len(data)} bytes, more than one event takes: not uploaded")
                continue
            if group and size + len(data) > MAX_EVENT_FILE_BYTES:
                yield group
                group, size = {}, 0
            group[name] = base64.b64encode(data).decode()
            size += len(data)
        if group:
            yield group


def local_path(value: str, data_dir: Path) -> Path:
    path = Path(value)
    return path if path.is_absolute() else data_dir / path


# ---- jsonl_score --------------------------------------------------------------------------


def _normal(text: Any) -> str:
    return " ".join(str(text).lower().split())


def _f1(prediction: str, reference: str) -> float:
    got, want = prediction.split(), reference.split()
    if not got or not want:
        return float(got == want)
    common = sum(min(got.count(w), want.count(w)) for w in set(got))
    if common == 0:
        return 0.0
    precision, recall = common / len(got), common / len(want)
    return 2 * precision * recall / (precision + recall)


def jsonl_score(bench: Mapping[str, Any], reporter: Reporter, work: Path, data_dir: Path) -> None:
    config = bench.get("config") or {}
    source = local_path(str(config["dataset_path"]), data_dir)
    pred_key = str(config.get("prediction_field", "prediction"))
    ref_key = str(config.get("reference_field", "reference"))
    reporter.log(f"scoring {source} ({pred_key} against {ref_key})")
    reporter.send(state="running", phase="scoring", progress=0.0)
    rows = [json.loads(line) for line in source.read_text().splitlines() if line.strip()]
    if not rows:
        raise ValueError(f"{source} has no rows")
    scores = []
    for number, row in enumerate(rows, 1):
        prediction, reference = _normal(row[pred_key]), _normal(row[ref_key])
        scores.append({"row": number, "exact_match": float(prediction == reference),
                       "f1": _f1(prediction, reference)})  # fmt: skip
        if number % 1000 == 0:
            reporter.tick("scoring", number / len(rows))
    metrics = {
        "exact_match": sum(s["exact_match"] for s in scores) / len(scores),
        "f1": sum(s["f1"] for s in scores) / len(scores),
        "n_examples": float(len(scores)),
    }
    results = work / "results.json"
    results.write_text(json.dumps({"metrics": metrics}, indent=2))
    per_row = work / "scores.jsonl"
    per_row.write_text("".join(json.dumps(s) + "\n" for s in scores))
    reporter.log(f"exact_match {metrics['exact_match']:.4f} over {len(scores)} rows")
    for group in reporter.files({"scores.jsonl": per_row}):
        reporter.send(artifacts=group)
    reporter.send(
        state="completed",
        phase="done",
        progress=1.0,
        params={"dataset_path": str(config["dataset_path"]), "scorer": "exact_match,f1"},
        result_file={"name": "results.json", "content_base64": _b64(results)},
    )


def _b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


# ---- lm_eval ------------------------------------------------------------------------------

_PERCENT = re.compile(r"(\d{1,3})%\|")


def lm_eval_command(
    bench: Mapping[str, Any], model: Mapping[str, Any], output: Path, data_dir: Path, python: str
) -> list[str]:
    config = bench.get("config") or {}
    task = str(config.get("task") or bench["benchmark_id"])
    kind = str(config.get("model") or "local-completions")
    command = [python, "-m", "lm_eval", "run", "--model", kind, "--tasks", task]
    command += ["--output_path", str(output)]
    if kind != "dummy":
        url = model.get("url") or model.get("server")
        if not url or not str(url).startswith(("http://", "https://")):
            raise ValueError("the job's model has no URL for lm-eval (model.url)")
        base = str(url).rstrip("/")
        base = (
            base if base.endswith("/completions") else base.removesuffix("/v1") + "/v1/completions"
        )
        command += ["--model_args", json.dumps({"base_url": base, "model": model.get("name")})]
    if config.get("task_yaml"):
        command += ["--include_path", str(local_path(str(config["task_yaml"]), data_dir).parent)]
    for key in ("limit", "num_fewshot", "batch_size", "seed"):
        if config.get(key) is not None:
            command += [f"--{key}", str(config[key])]
    if config.get("log_samples"):
        command.append("--log_samples")
    return command


def metric_name(raw: str) -> str:
    metric, _, filter_name = raw.partition(",")
    name = metric if filter_name in ("", "none") else f"{metric}_{filter_name}"
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)


def lm_eval_metrics(results: Mapping[str, Any], task: str) -> dict[str, float]:
    """Cairn's naming: the task's own numbers plain, any other task's as ``<task>/<name>``."""
    metrics: dict[str, float] = {}
    for name, numbers in (results.get("results") or {}).items():
        prefix = "" if name == task else re.sub(r"[^A-Za-z0-9_.-]", "_", name) + "/"
        for raw, value in numbers.items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                if raw not in ("sample_len",):
                    metrics[prefix + metric_name(raw)] = float(value)
    return metrics


def run_lm_eval(
    bench: Mapping[str, Any],
    model: Mapping[str, Any],
    reporter: Reporter,
    work: Path,
    data_dir: Path,
    python: str,
) -> None:
    config = bench.get("config") or {}
    task = str(config.get("task") or bench["benchmark_id"])
    output = work / "output"
    command = lm_eval_command(bench, model, output, data_dir, python)
    # lm-eval needs no Cairn variable, least of all the runner token
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAIRN_")}
    env.update(PYTHONUNBUFFERED="1", TQDM_MININTERVAL="2")
    if config.get("task_yaml"):
        env.update(HF_DATASETS_OFFLINE="1", HF_HUB_OFFLINE="1")
    reporter.send(state="running", phase="starting", progress=0.0)
    process = subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        cwd=work,
        start_new_session=True,
    )
    reporter.log(f"lm-eval started (pid {process.pid}): {' '.join(command)}")
    progress: float | None = None
    tail: list[str] = []
    pending = b""
    assert process.stdout is not None
    fd = process.stdout.fileno()
    try:
        with selectors.DefaultSelector() as selector:
            selector.register(fd, selectors.EVENT_READ)
            while True:
                # a report every couple of seconds, output or not: it is how a cancel is seen
                reporter.tick("running", progress)
                if not selector.select(timeout=0.5):
                    continue
                chunk = os.read(fd, 65536)
                ended = not chunk
                *lines, pending = (pending + chunk).split(b"\n")
                if ended and pending:
                    lines.append(pending)  # the last line, unterminated
                for raw in lines:
                    line = raw.decode("utf-8", "replace").split("\r")[-1].rstrip()
                    if not line:
                        continue
                    reporter.log(line)
                    tail = (tail + [line])[-20:]
                    found = _PERCENT.search(line)
                    if found:
                        progress = min(int(found.group(1)), 100) / 100
                if ended:
                    break
        code = process.wait()
    except BaseException:
        _stop(process)
        raise
    finally:
        process.stdout.close()
    if code != 0:
        raise RuntimeError(f"lm-eval exited with code {code}:\n" + "\n".join(tail))
    found_files = sorted(output.rglob("results_*.json"), key=lambda p: p.stat().st_mtime)
    if not found_files:
        raise RuntimeError("lm-eval wrote no results_*.json")
    results_path = found_files[-1]
    results = json.loads(results_path.read_text())
    metrics = lm_eval_metrics(results, task)
    params = {"lm_eval_version": str(results.get("lm_eval_version")), "task": task}
    shots = (results.get("n-shot") or {}).get(task)
    if shots is not None:
        params["n_shot"] = str(shots)
    files = {"results.json": results_path}
    for samples in sorted(output.rglob("samples_*.jsonl")):
        files[f"samples/{samples.name}"] = samples
    groups = list(reporter.files(files))
    for group in groups[:-1]:
        reporter.send(artifacts=group)
    reporter.log(f"lm-eval finished: {len(metrics)} metrics")
    reporter.send(
        state="completed",
        phase="done",
        progress=1.0,
        metrics=metrics,
        params=params,
        artifacts=groups[-1] if groups else None,
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Stop lm-eval and whatever it started: its whole process group."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=10)
            return
        except subprocess.TimeoutExpired:
            continue


# ---- the job ------------------------------------------------------------------------------


def run_job(server: Server, providers: set[str], data_dir: Path, python: str, workdir: Path) -> int:
    job = server.job()
    if job.get("state") in TERMINAL:
        print(f"job {server.job_id} is {job.get('state')}: nothing to run", flush=True)
        return 0
    mine = [
        b for b in job.get("benchmarks", [])
        if b.get("provider_id") in providers and b.get("state") in RUNNABLE
    ]  # fmt: skip
    print(f"job {server.job_id}: {len(mine)} benchmark(s) for this runner", flush=True)
    failed = 0
    for bench in mine:
        index = int(bench["index"])
        reporter = Reporter(server, index)
        reporter.log(f"runner on {socket.gethostname()} took benchmark {bench['benchmark_id']}")
        work = workdir / f"{index}"
        work.mkdir(parents=True, exist_ok=True)
        config = bench.get("config") or {}
        kind = config.get("runner") or ("jsonl_score" if "dataset_path" in config else "lm_eval")
        try:
            if kind == "jsonl_score":
                jsonl_score(bench, reporter, work, data_dir)
            elif kind == "lm_eval":
                run_lm_eval(bench, job.get("model") or {}, reporter, work, data_dir, python)
            else:
                raise ValueError(f"config.runner: unknown kind {kind!r} (jsonl_score, lm_eval)")
        except JobCancelled:
            print(f"job {server.job_id} was cancelled: stopping", flush=True)
            return 1
        except RunnerError:
            raise
        except Exception as exc:  # the benchmark failed: say why, go on with the next
            failed += 1
            reporter.log(f"failed: {exc}")
            reporter.send(state="failed", phase="failed", error=f"{type(exc).__name__}: {exc}")
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--server",
        default=os.environ.get("CAIRN_SERVER_URL"),
        help="Cairn's base URL (env CAIRN_SERVER_URL)",
    )
    parser.add_argument(
        "--job",
        default=os.environ.get("CAIRN_EVAL_JOB_ID"),
        help="The evaluation job id, ev-… (env CAIRN_EVAL_JOB_ID)",
    )
    parser.add_argument(
        "--token",
        default=os.environ.get("CAIRN_EVAL_RUNNER_TOKEN"),
        help="The job's runner token (env CAIRN_EVAL_RUNNER_TOKEN, better than "
        "the command line, which other users of the machine can see)",
    )
    parser.add_argument(
        "--providers",
        default="external",
        help="Comma-separated provider ids whose benchmarks to run (default: external)",
    )
    parser.add_argument(
        "--data-dir",
        default=os.environ.get("CAIRN_EVAL_DATA_DIR", "."),
        help="Where relative dataset_path / task_yaml are read (env CAIRN_EVAL_DATA_DIR)",
    )
    parser.add_argument(
        "--lm-eval-python", default=sys.executable, help="The Python that has lm-eval installed"
    )
    parser.add_argument("--workdir", default=None, help="Scratch folder (default: a temp dir)")
    args = parser.parse_args(argv)  # fmt: skip
    missing = [name for name in ("server", "job", "token") if not getattr(args, name)]
    if missing:
        parser.error("missing " + ", ".join(f"--{m}" for m in missing))
    server = Server(args.server, args.job, args.token)
    providers = {p.strip() for p in args.providers.split(",") if p.strip()}
    try:
        with tempfile.TemporaryDirectory(prefix="cairn-runner-") as scratch:
            workdir = Path(args.workdir) if args.workdir else Path(scratch)
            return run_job(server, providers, Path(args.data_dir), args.lm_eval_python, workdir)
    except RunnerError as exc:
        print(f"runner: {exc}", file=sys.stderr, flush=True)
        return 2
    finally:
        server.close()


if __name__ == "__main__":
    sys.exit(main())
