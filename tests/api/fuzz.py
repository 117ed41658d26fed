"""The hostile-input fuzzer: schemathesis against a live server's /openapi.json, plus a
hand-written list for what the description cannot express (MLflow's routes fed wrong types,
huge and deeply nested bodies, invalid UTF-8, NaN literals, malformed page tokens and
filters, a body over the limit, a slow client, a client that hangs up mid-body).

Used bounded by ``tests/api/test_fuzz.py`` (``make test``) and at length by ``make fuzz``
(``python -m tests.api.fuzz --seconds 600``). Every run seeds data first and reads it back
after: zero 5xx, the server still answers, nothing logged before is changed, and the
server's log holds no traceback.
"""

from __future__ import annotations

import argparse
import socket
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from tests.compat.server import CairnServer, start_server

API = "/api/2.0/mlflow"
MAX_REQUEST_BYTES = 4 * 1024 * 1024
"""The servers under fuzzing take 4 MB bodies (``CAIRN_MAX_REQUEST_BYTES``), so a body over the
limit costs little to send."""
SERVER_ENV = {"CAIRN_MAX_REQUEST_BYTES": str(MAX_REQUEST_BYTES)}


@dataclass
class Seeded:
    """What was logged before the fuzzing, to read back after it."""

    experiment_id: str
    run_id: str
    target_run_id: str
    """Another run of the experiment: the one the hand-written list writes to."""
    history: list[dict[str, Any]]
    run: dict[str, Any]


@dataclass
class Outcome:
    cases: int = 0
    server_errors: list[str] = field(default_factory=list)
    """One line per request answered 5xx (or not answered): what was sent, what came back."""
    not_generated: list[str] = field(default_factory=list)
    """Operations for which the generator found no case in a mode."""


def seed(c: httpx.Client) -> Seeded:
    """Log what :func:`intact` reads back (``c``: a client of the server, or a TestClient)."""
    eid = c.post(f"{API}/experiments/create", json={"name": "fuzz-seed"}).json()["experiment_id"]
    rid = c.post(f"{API}/runs/create", json={"experiment_id": eid}).json()["run"]["info"]["run_id"]
    metrics = [
        {"key": "loss", "value": 1.0 / (i + 1), "timestamp": i, "step": i} for i in range(50)
    ]
    batch = {
        "run_id": rid,
        "metrics": metrics,
        "params": [{"key": "lr", "value": "0.01"}],
        "tags": [{"key": "seed", "value": "yes"}],
    }
    assert c.post(f"{API}/runs/log-batch", json=batch).status_code == 200
    target = c.post(f"{API}/runs/create", json={"experiment_id": eid}).json()["run"]["info"]
    return Seeded(eid, rid, target["run_id"], _history(c, rid), _run(c, rid))


def _history(c: httpx.Client, rid: str) -> list[dict[str, Any]]:
    r = c.get(f"{API}/metrics/get-history", params={"run_id": rid, "metric_key": "loss"})
    assert r.status_code == 200, r.text
    metrics: list[dict[str, Any]] = r.json()["metrics"]
    return metrics


def _run(c: httpx.Client, rid: str) -> dict[str, Any]:
    r = c.get(f"{API}/runs/get", params={"run_id": rid})
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()["run"]["data"]
    return data


def intact(c: httpx.Client, before: Seeded) -> list[str]:
    """What differs from the seeded data now (empty: intact)."""
    problems = []
    if c.get("/health").status_code != 200:
        problems.append("/health does not answer 200")
    if _history(c, before.run_id) != before.history:
        problems.append("the seeded metric history changed")
    if _run(c, before.run_id) != before.run:
        problems.append("the seeded run's params, tags or metrics changed")
    return problems


# ------------------------------------------------------------------ the hand-written list
def hostile_requests(seeded: Seeded) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(method, path, httpx keyword arguments) for MLflow's routes: what a schema-driven
    generator does not send."""
    rid, eid = seeded.target_run_id, seeded.experiment_id
    json_type = {"content-type": "application/json"}
    nested = b"[" * 100_000 + b"]" * 100_000
    yield "POST", f"{API}/runs/log-batch", {"content": nested, "headers": json_type}
    deep = b'{"a":' * 5_000 + b"1" + b"}" * 5_000
    yield "POST", f"{API}/runs/log-batch", {"content": deep, "headers": json_type}
    yield (
        "POST",
        f"{API}/runs/log-metric",
        {"content": b'{"run_id": "\xff\xfe", "key": "k"}', "headers": json_type},
    )
    yield (
        "POST",
        f"{API}/experiments/create",
        {"content": b'{"name": "\xc3\x28"}', "headers": json_type},
    )
    for literal in (b"NaN", b"Infinity", b"-Infinity", b"nan", b"1e999", b"-1e999"):
        body = b'{"run_id": "%s", "key": "k", "value": %s, "timestamp": 1}' % (
            rid.encode(),
            literal,
        )
        yield "POST", f"{API}/runs/log-metric", {"content": body, "headers": json_type}
    wrong_types: list[Any] = [None, True, 1, 1.5, "x", [], {}, [1], {"a": 1}, 2**64, -(2**63) - 1]
    for value in wrong_types:
        yield (
            "POST",
            f"{API}/runs/log-metric",
            {
                "json": {
                    "run_id": rid,
                    "key": "k",
                    "value": value,
                    "timestamp": value,
                    "step": value,
                }
            },
        )
        yield "POST", f"{API}/runs/log-batch", {"json": {"run_id": rid, "metrics": value}}
        yield "POST", f"{API}/runs/log-batch", {"json": {"run_id": rid, "metrics": [value]}}
        yield (
            "POST",
            f"{API}/runs/search",
            {"json": {"experiment_ids": value, "max_results": value}},
        )
        yield "POST", f"{API}/runs/search", {"json": {"experiment_ids": [value]}}
        yield "POST", f"{API}/experiments/create", {"json": {"name": value, "tags": value}}
        yield (
            "POST",
            f"{API}/runs/set-tag",
            {"json": {"run_id": value, "key": value, "value": value}},
        )
        yield "POST", f"{API}/registered-models/create", {"json": {"name": value}}
    for token in ("", "x", "%%%", "eyJ9", "A" * 10_000, "\x00", "../../etc/passwd", "MTIz"):
        yield "POST", f"{API}/runs/search", {"json": {"experiment_ids": [eid], "page_token": token}}
        yield "POST", f"{API}/experiments/search", {"json": {"page_token": token}}
        yield (
            "GET",
            f"{API}/metrics/get-history",
            {
                "params": {
                    "run_id": rid,
                    "metric_key": "loss",
                    "page_token": token,
                    "max_results": "2",
                }
            },
        )
        yield "GET", f"{API}/registered-models/search", {"params": {"page_token": token}}
    filters = [
        "(" * 10_000 + "metrics.loss > 1" + ")" * 10_000,
        " AND ".join(f"metrics.m{i} > {i}" for i in range(2_000)),
        " OR ".join(f"params.p = '{i}'" for i in range(2_000)),
        "attributes.run_id IN (" + ",".join(f"'{i:032x}'" for i in range(70_000)) + ")",
        "metrics.loss > 1e999",
        "metrics.loss > NaN",
        "metrics.`",
        "params.'a' = '\\'",
        "tags.x LIKE '%\x00%'",
        "attributes.start_time > 99999999999999999999999",
        "attributes.status = ",
        "metrics.loss >",
        "= 1",
        "'",
        '"',
        "`",
        "\\",
        "\u2028",
    ]
    for text in filters:
        yield "POST", f"{API}/runs/search", {"json": {"experiment_ids": [eid], "filter": text}}
        yield "POST", f"{API}/experiments/search", {"json": {"filter": text}}
        yield "GET", f"{API}/registered-models/search", {"params": {"filter": text[:2000]}}
    yield (
        "POST",
        f"{API}/runs/search",
        {"json": {"experiment_ids": [str(i) for i in range(70_000)]}},
    )
    yield (
        "POST",
        f"{API}/runs/search",
        {"json": {"experiment_ids": [eid], "order_by": [f"metrics.m{i}" for i in range(64)]}},
    )
    for digits in ("²", "①", "٣", "9" * 30, str(2**63), "-1", " 1 ", "1e3"):
        yield "GET", f"{API}/experiments/get", {"params": {"experiment_id": digits}}
        yield "GET", f"{API}/model-versions/get", {"params": {"name": "m", "version": digits}}
        yield (
            "GET",
            f"{API}/metrics/get-history",
            {"params": {"run_id": rid, "metric_key": "loss", "max_results": digits}},
        )
    yield (
        "GET",
        f"{API}/metrics/get-history",
        {"params": {"run_id": rid, "metric_key": "loss", "max_results": str(2**31)}},
    )
    big = b'{"name": "' + b"x" * (MAX_REQUEST_BYTES + 10) + b'"}'
    for path in (
        f"{API}/experiments/create",
        f"{API}/nope",
        "/api/3.0/mlflow/server-info",
        "/api/v1/views",
        "/nope",
    ):
        yield "POST", path, {"content": big, "headers": json_type}
    yield (
        "POST",
        f"{API}/runs/log-parameter",
        {"json": {"run_id": rid, "key": "p", "value": "a\x00b"}},
    )
    yield "GET", f"{API}/experiments/get-by-name", {"params": {"experiment_name": "a\x00b"}}
    yield "GET", f"{API}/runs/get", {"params": {"run_id": "a\x00b"}}


def send_hostile(url: str, seeded: Seeded, out: Outcome) -> None:
    with httpx.Client(base_url=url, timeout=120) as c:
        for method, path, kwargs in hostile_requests(seeded):
            out.cases += 1
            try:
                r = c.request(method, path, **kwargs)
            except httpx.HTTPError as exc:
                out.server_errors.append(f"{method} {path}: no answer ({exc!r})")
                continue
            if r.status_code >= 500:
                shown = str(kwargs)[:200]
                out.server_errors.append(f"{method} {path} {shown}: {r.status_code} {r.text[:200]}")
    slow_client(url, out)
    hang_up_mid_body(url, out)


def _raw(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=60)


def slow_client(url: str, out: Outcome) -> None:
    """A body sent a few bytes at a time: answered like any other once it is complete."""
    body = b'{"name": "slowly-made"}'
    head = (
        f"POST {API}/experiments/create HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    out.cases += 1
    with _raw(url) as s:
        s.sendall(head)
        for i in range(0, len(body), 4):
            s.sendall(body[i : i + 4])
            time.sleep(0.05)
        answer = s.recv(65536)
    if not answer.startswith(b"HTTP/1.1 200"):
        out.server_errors.append(f"slow client: {answer[:200]!r}")


def hang_up_mid_body(url: str, out: Outcome) -> None:
    """A client that declares a body and hangs up halfway, on MLflow's table and on /api/v1."""
    for path in (f"{API}/runs/log-batch", "/api/v1/views"):
        out.cases += 1
        with _raw(url) as s:
            s.sendall(
                (
                    f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
                ).encode()
                + b'{"run_id": "'
            )


# ------------------------------------------------------------------------ schemathesis
def fuzz_schema(url: str, *, seconds: float, examples: int, out: Outcome) -> None:
    """Every operation of /openapi.json, ``examples`` generated cases each in the positive
    and the negative mode, until ``seconds`` have passed (the operations are visited in
    order, so a short run covers the first ones; ``make fuzz`` covers all)."""
    document = httpx.get(url + "/openapi.json", timeout=300).json()
    schema = schemathesis.openapi.from_dict(document)
    operations = [result.ok() for result in schema.get_all_operations()]
    stop = time.monotonic() + seconds
    for mode in (GenerationMode.NEGATIVE, GenerationMode.POSITIVE):
        for operation in operations:
            if time.monotonic() > stop:
                return

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=examples,
                database=None,
                phases=[Phase.generate],
                deadline=None,
                suppress_health_check=list(HealthCheck),
            )
            def one(case: Any) -> None:
                if time.monotonic() > stop:
                    return
                out.cases += 1
                try:
                    r = case.call(base_url=url, timeout=120)
                except Exception as exc:  # an unanswered request is a failure
                    out.server_errors.append(f"{case.method} {case.formatted_path}: {exc!r}")
                    return
                if r.status_code >= 500:
                    out.server_errors.append(
                        f"{case.method} {case.formatted_path} {r.status_code} {r.text[:200]}\n"
                        f"    {case.as_curl_command()[:400]}"
                    )

            try:
                one()
            except Unsatisfiable:  # no negative case exists for this operation
                out.not_generated.append(f"{mode.value} {operation.method} {operation.path}")


def run(server: CairnServer, *, seconds: float, examples: int) -> Outcome:
    """Seed, fuzz (the hand-written list, then schemathesis for ``seconds``), read back."""
    with httpx.Client(base_url=server.url, timeout=60) as c:
        seeded = seed(c)
    out = Outcome()
    send_hostile(server.url, seeded, out)
    fuzz_schema(server.url, seconds=seconds, examples=examples, out=out)
    with httpx.Client(base_url=server.url, timeout=60) as c:
        out.server_errors.extend(intact(c, seeded))
    log = server.log_since()
    if "Traceback" in log:
        out.server_errors.append(
            "the server logged a traceback:\n" + log[log.index("Traceback") :][:3000]
        )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=600, help="schemathesis time per backend")
    parser.add_argument("--examples", type=int, default=50, help="cases per operation and mode")
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    args = parser.parse_args(argv)
    failed = False
    for backend in ("sqlite", "postgres") if args.backend == "both" else (args.backend,):
        out = fuzz_backend(backend, args.seconds, args.examples)
        print(
            f"{backend}: {out.cases} requests, {len(out.server_errors)} failures "
            f"({len(out.not_generated)} operation/mode pairs had no case to generate)"
        )
        for line in out.server_errors:
            print("  " + line)
        failed = failed or bool(out.server_errors)
    return 1 if failed else 0


def fuzz_backend(backend: str, seconds: float, examples: int) -> Outcome:
    from tests.databases import fresh_postgres_database

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if backend == "sqlite":
            gen = start_server(
                backend, f"sqlite:///{work / 'fuzz.db'}", work / "w", extra_env=SERVER_ENV
            )
            server = next(gen)
            try:
                return run(server, seconds=seconds, examples=examples)
            finally:
                gen.close()
        with fresh_postgres_database() as uri:
            gen = start_server(backend, uri, work / "w", extra_env=SERVER_ENV)
            server = next(gen)
            try:
                return run(server, seconds=seconds, examples=examples)
            finally:
                gen.close()


if __name__ == "__main__":
    sys.exit(main())
