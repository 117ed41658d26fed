"""Run by the stock mlflow 3.x client, never imported by the tests.

``write``: log traces into the experiment ``<IMPORT_PREFIX>-traces`` of the server
``MLFLOW_TRACKING_URI`` names: a traced function with a nested span inside a run (so the trace
is linked to it), trace tags, a trace that ends in an error, and feedback and an expectation on
the first trace.

``summary``: print, as JSON, every field a comparison needs, read through the client from
whatever ``MLFLOW_TRACKING_URI`` names (the source server, or Cairn after the import): each
trace's id, times, state, previews, tags, metadata, assessments and spans (ids, parents, names,
times, status, type, inputs, outputs, attributes), and the traces found by run.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import mlflow
from mlflow import MlflowClient

NAME = f"{os.environ['IMPORT_PREFIX']}-traces"
#: tags and metadata each server sets for itself (where the trace's files and spans live)
OWN = {"mlflow.artifactLocation", "mlflow.trace.spansLocation"}


def write() -> None:
    mlflow.set_experiment(NAME)

    @mlflow.trace(span_type="LLM")
    def answer(question: str) -> str:
        return question.upper()

    @mlflow.trace
    def pipeline(question: str) -> str:
        mlflow.update_current_trace(tags={"team": "red"})
        with mlflow.start_span(name="retrieve", span_type="RETRIEVER") as span:
            span.set_inputs({"q": question})
            span.set_outputs(["doc-1", "doc-2"])
            span.set_attribute("k", 3)
        return answer(question)

    @mlflow.trace
    def broken(x: int) -> int:
        raise ValueError(f"bad {x}")

    with mlflow.start_run(run_name="traced"):
        pipeline("hello")
        first = mlflow.get_last_active_trace_id()
    pipeline("again")
    try:
        broken(7)
    except ValueError:
        pass
    mlflow.flush_trace_async_logging()
    assert first is not None
    mlflow.log_feedback(trace_id=first, name="helpful", value=True, rationale="it is")
    mlflow.log_expectation(trace_id=first, name="expected", value="HELLO")


def _span(s: Any) -> dict[str, Any]:
    return {
        "span_id": s.span_id,
        "parent_id": s.parent_id,
        "name": s.name,
        "start": s.start_time_ns,
        "end": s.end_time_ns,
        "status": str(s.status.status_code),
        "type": s.span_type,
        "inputs": s.inputs,
        "outputs": s.outputs,
        "attributes": s.attributes,
    }


def summary() -> None:
    client = MlflowClient()
    experiment = client.get_experiment_by_name(NAME)
    assert experiment is not None, NAME
    eid = experiment.experiment_id
    out: dict[str, Any] = {"traces": {}, "by_run": {}}
    for trace in mlflow.search_traces(locations=[eid], return_type="list"):
        full = client.get_trace(trace.info.trace_id)
        info = full.info
        out["traces"][info.trace_id] = {
            "request_time": info.request_time,
            "execution_duration": info.execution_duration,
            "state": str(info.state),
            "request_preview": info.request_preview,
            "response_preview": info.response_preview,
            "tags": {k: v for k, v in info.tags.items() if k not in OWN},
            "metadata": {k: v for k, v in info.trace_metadata.items() if k not in OWN},
            "assessments": sorted(
                (
                    a.assessment_id,
                    a.name,
                    json.dumps(getattr(a, "value", None)),
                    a.rationale,
                    a.source.source_type,
                    a.create_time_ms,
                )
                for a in info.assessments
            ),
            "spans": sorted((_span(s) for s in full.data.spans), key=lambda s: s["span_id"]),
        }
    for run in client.search_runs([eid]):
        found = mlflow.search_traces(locations=[eid], run_id=run.info.run_id, return_type="list")
        out["by_run"][run.info.run_id] = sorted(t.info.trace_id for t in found)
    print(json.dumps(out, sort_keys=True, default=str))


if __name__ == "__main__":
    {"write": write, "summary": summary}[sys.argv[1]]()
