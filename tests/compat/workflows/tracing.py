"""Tracing with the stock client: @mlflow.trace on nested functions, mlflow.start_span,
get_trace with its spans, search_traces (tags, metadata, status, span names), trace tags,
link to a run, feedback and expectations, delete by ids and by age.

mlflow 3.x from 3.4 sends spans over OTLP (the server says it is ≥ 3.4) and the trace info to
/api/3.0/mlflow/traces; 3.1.4 uploads the spans as the trace's data artifact, so the span-name
and text searches are for 3.4+ only, and its client has no assessments outside Databricks and
no link_traces_to_run. mlflow 2.22's own @mlflow.trace fails inside the client with the
OpenTelemetry SDK its venv resolves (``MlflowSpanProcessor`` has no ``_shutdown``), so for 2.x
the workflow drives the 2.x trace API (start, end, info, search, tags, delete) through the
2.x client's REST store. Exits non-zero on the first broken expectation.
"""

from __future__ import annotations

import time

import mlflow
from mlflow import MlflowClient

MAJOR = int(mlflow.__version__.split(".")[0])
VERSION = tuple(int(part) for part in mlflow.__version__.split(".")[:2])
SPANS_ON_SERVER = VERSION >= (3, 4)
"""Clients from 3.4 on send spans to the server (OTLP), which can then search them by span
name and text; older 3.x clients (3.1.4) upload them only as the trace's data artifact."""
client = MlflowClient()
experiment_id = mlflow.set_experiment(f"tracing-{time.time_ns()}").experiment_id


def v2_workflow() -> None:
    from mlflow.entities.trace_status import TraceStatus
    from mlflow.tracking._tracking_service.utils import _get_store

    store = _get_store()
    now = int(time.time() * 1000)
    ok = store.start_trace(experiment_id, now, {"mlflow.sourceRun": "r1"}, {"team": "red"})
    assert ok.request_id.startswith("tr-"), ok
    ended = store.end_trace(ok.request_id, now + 25, TraceStatus.OK, {"k": "v"}, {"t2": "x"})
    assert ended.execution_time_ms == 25, ended
    assert ended.status == TraceStatus.OK, ended
    bad = store.start_trace(experiment_id, now + 1, {}, {})
    store.end_trace(bad.request_id, now + 2, TraceStatus.ERROR, {}, {})
    info = store.get_trace_info(ok.request_id)
    assert info.tags["team"] == "red" and info.tags["t2"] == "x", info.tags
    assert info.request_metadata["k"] == "v", info.request_metadata
    assert info.tags["mlflow.artifactLocation"].endswith(f"/traces/{ok.request_id}/artifacts")

    def found(filter_string: str | None = None) -> set[str]:
        page = store.search_traces([experiment_id], filter_string=filter_string)
        infos = page[0] if isinstance(page, tuple) else page
        return {i.request_id for i in infos}

    assert found() == {ok.request_id, bad.request_id}, found()
    assert found("tags.team = 'red'") == {ok.request_id}
    assert found("attributes.status = 'ERROR'") == {bad.request_id}
    store.set_trace_tag(bad.request_id, "reviewed", "yes")
    assert found("tags.reviewed = 'yes'") == {bad.request_id}
    store.delete_trace_tag(bad.request_id, "reviewed")
    assert found("tags.reviewed = 'yes'") == set()
    assert store.delete_traces(experiment_id, request_ids=[bad.request_id]) == 1
    assert store.delete_traces(experiment_id, max_timestamp_millis=now + 10) == 1
    assert found() == set()
    print("tracing workflow (2.x trace API) ok", mlflow.__version__)


if MAJOR < 3:
    v2_workflow()
    raise SystemExit(0)


@mlflow.trace(span_type="LLM")
def answer(question: str) -> str:
    return question.upper()


@mlflow.trace(name="pipeline")
def pipeline(question: str) -> str:
    mlflow.update_current_trace(tags={"team": "red"})
    with mlflow.start_span(name="retrieve") as span:
        span.set_inputs({"q": question})
        span.set_outputs(["doc-1", "doc-2"])
    return answer(question) + "!"


@mlflow.trace
def failing() -> None:
    raise ValueError("boom")


def flush() -> None:
    if hasattr(mlflow, "flush_trace_async_logging"):
        mlflow.flush_trace_async_logging(terminate=False)


def last_trace_id() -> str:
    if hasattr(mlflow, "get_last_active_trace_id"):
        found = mlflow.get_last_active_trace_id()
    else:
        found = mlflow.get_last_active_trace().info.request_id
    assert found, "no trace was made"
    return str(found)


def trace_id_of(trace: object) -> str:
    info = trace.info  # type: ignore[attr-defined]
    return str(getattr(info, "trace_id", None) or info.request_id)


with mlflow.start_run() as run:
    assert pipeline("hello") == "HELLO!"
    first = last_trace_id()
try:
    failing()
except ValueError:
    pass
second = last_trace_id()
assert first != second
flush()

# ---- get_trace: info and every span ----
trace = None
for _ in range(50):  # async export: the trace lands shortly after the call returns
    try:
        trace = mlflow.get_trace(first)
    except Exception:
        trace = None
    if trace is not None and len(trace.data.spans) == 3:
        break
    time.sleep(0.2)
assert trace is not None, "the trace never arrived"
names = sorted(span.name for span in trace.data.spans)
assert names == ["answer", "pipeline", "retrieve"], names
by_name = {span.name: span for span in trace.data.spans}
assert by_name["answer"].parent_id == by_name["pipeline"].span_id
assert by_name["retrieve"].inputs == {"q": "hello"}, by_name["retrieve"].inputs
assert by_name["retrieve"].outputs == ["doc-1", "doc-2"]
assert by_name["answer"].span_type == "LLM", by_name["answer"].span_type
assert by_name["pipeline"].outputs == "HELLO!"
assert trace.info.tags.get("team") == "red", trace.info.tags
status = getattr(trace.info, "state", None) or trace.info.status
assert str(getattr(status, "value", status)) == "OK", status


# ---- search ----
def ids(**kwargs: object) -> set[str]:
    found = (
        mlflow.search_traces(experiment_ids=[experiment_id], return_type="list", **kwargs)
        if MAJOR >= 3
        else client.search_traces(experiment_ids=[experiment_id], **kwargs)
    )
    return {trace_id_of(t) for t in found}


for _ in range(50):
    if ids() == {first, second}:
        break
    time.sleep(0.2)
assert ids() == {first, second}, ids()
assert ids(filter_string="tags.team = 'red'") == {first}
assert ids(filter_string="tags.team LIKE 're%'") == {first}
status_filter = "trace.status = 'ERROR'" if MAJOR >= 3 else "attributes.status = 'ERROR'"
assert ids(filter_string=status_filter) == {second}
if SPANS_ON_SERVER:
    assert ids(filter_string="span.name = 'retrieve'") == {first}
    assert ids(filter_string="span.name = 'nowhere'") == set()
if MAJOR >= 3:
    assert ids(filter_string=f"metadata.`mlflow.sourceRun` = '{run.info.run_id}'") == {first}
    ordered = mlflow.search_traces(
        experiment_ids=[experiment_id], order_by=["timestamp_ms ASC"], return_type="list"
    )
    assert [trace_id_of(t) for t in ordered] == [first, second]
    where = (
        {"locations": [experiment_id]} if VERSION >= (3, 2) else {"experiment_ids": [experiment_id]}
    )
    page = client.search_traces(max_results=1, **where)
    assert len(page) == 1 and page.token, page
    rest = client.search_traces(max_results=1, page_token=page.token, **where)
    assert {trace_id_of(page[0]), trace_id_of(rest[0])} == {first, second}

# ---- tags ----
client.set_trace_tag(second, "reviewed", "yes")
assert ids(filter_string="tags.reviewed = 'yes'") == {second}
client.delete_trace_tag(second, "reviewed")
assert ids(filter_string="tags.reviewed = 'yes'") == set()

# ---- assessments (3.x; the 3.1 client refuses them itself outside Databricks) ----
if VERSION >= (3, 2):
    feedback = mlflow.log_feedback(trace_id=first, name="helpful", value=True, rationale="ok")
    expectation = mlflow.log_expectation(trace_id=first, name="expected", value="HELLO!")
    got = mlflow.get_assessment(first, feedback.assessment_id)
    assert got.value is True and got.rationale == "ok", got
    assessments = {a.name: a for a in mlflow.get_trace(first).info.assessments}
    assert assessments["expected"].value == "HELLO!", assessments
    assert assessments["helpful"].value is True
    updated = mlflow.update_assessment(
        trace_id=first,
        assessment_id=feedback.assessment_id,
        assessment=mlflow.entities.Feedback(name="helpful", value=False),
    )
    assert updated.value is False, updated
    mlflow.delete_assessment(first, expectation.assessment_id)
    names = [a.name for a in mlflow.get_trace(first).info.assessments]
    assert names == ["helpful"], names

# ---- link to a run (clients from 3.2 on) ----
if hasattr(client, "link_traces_to_run"):
    with mlflow.start_run() as other:
        pass
    client.link_traces_to_run([second], other.info.run_id)
    linked = client.search_traces(
        locations=[experiment_id], filter_string=f"run_id = '{other.info.run_id}'"
    )
    assert {trace_id_of(t) for t in linked} == {second}, linked

# ---- the trace data file, as the UI downloads it; full-text search (3.x) ----
if MAJOR >= 3:
    import json
    import urllib.request

    from mlflow.entities import SpanEvent
    from mlflow.entities.trace_data import TraceData

    with mlflow.start_span(name="evented") as live:
        live.set_attributes({"fruit": "apple", "n": 3})
        live.add_event(SpanEvent("checked", timestamp=99999, attributes={"foo": "bar"}))
    flush()
    url = f"{mlflow.get_tracking_uri()}/ajax-api/2.0/mlflow/get-trace-artifact"
    with urllib.request.urlopen(f"{url}?request_id={live.trace_id}") as response:
        header = response.headers["Content-Disposition"]
        data = TraceData.from_dict(json.loads(response.read()))
    assert header == "attachment; filename=traces.json", header
    assert data.spans[0].to_dict() == live.to_dict(), (data.spans[0].to_dict(), live.to_dict())
    if SPANS_ON_SERVER:
        assert ids(filter_string="trace.text LIKE '%apple%'") == {live.trace_id}
    client.delete_traces(experiment_id, trace_ids=[live.trace_id])

# ---- delete ----
deleted = client.delete_traces(experiment_id, trace_ids=[second])
assert deleted == 1, deleted
assert ids() == {first}
deleted = client.delete_traces(experiment_id, max_timestamp_millis=int(time.time() * 1000) + 1)
assert deleted == 1, deleted
assert ids() == set()
print("tracing workflow ok", mlflow.__version__)
